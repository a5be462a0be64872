/**
 * `valkit/queue`: background jobs on Redis/Valkey — priorities, delays, retries with backoff,
 * dead letters, leases with fencing tokens and stall recovery, batched settle-and-fetch,
 * progress and results, ordered events on a stream, cron and interval schedules, overflow
 * policies, partitions for a Cluster, a local journal while Redis is away, and the memory
 * backend that runs the same contract in one process.
 *
 * @packageDocumentation
 */
export { createQueue, createWorker } from './create-queue.js'
export { Queue, type BulkJob, type QueueEventsOptions } from './queue.js'
export { Worker, FatalJobError, type Processor, type WorkerEvents } from './worker.js'
export { MAX_PRIORITY, type QueueOptions } from './queue-options.js'
export type { WorkerOptions } from './worker-options.js'
export type * from './queue-types.js'
