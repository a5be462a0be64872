import { ValkitError, type Valkit } from '../core/index.js'
import { Queue } from './queue.js'
import { registerQueueMetrics } from './queue-metrics.js'
import { resolveQueueOptions, type QueueOptions } from './queue-options.js'
import { Worker, type Processor } from './worker.js'
import { resolveWorkerOptions, type WorkerOptions } from './worker-options.js'

function assertValkit(valkit: unknown, call: string): asserts valkit is Valkit {
  if (typeof valkit !== 'object' || valkit === null || typeof (valkit as Valkit).connection !== 'object') {
    throw new ValkitError('VALKIT_INVALID_ARGUMENT', `${call} needs a valkit instance (createValkit()).`)
  }
}

/**
 * Creates a handle on a job queue: add jobs (one script per call, bulk included), inspect and
 * act on them, follow their events, define recurring jobs. Every key of the queue shares its
 * hash tag (each partition its own), so it runs unchanged on a Cluster. Without Redis
 * (`topology.kind === 'memory'`) the queue lives in this process.
 *
 * @example
 * ```ts
 * import { createValkit } from 'valkit'
 * import { createQueue, createWorker } from 'valkit/queue'
 *
 * const valkit = createValkit({ url: process.env.REDIS_URL })
 * const queue = createQueue(valkit, 'agent-tasks', { defaultJobOptions: { attempts: 3, backoff: { type: 'exponential', delay: '1s' } } })
 * await queue.add('summarize', { conversationId: 42 })
 * createWorker(valkit, 'agent-tasks', async (job) => summarize(job.data), { concurrency: 16 })
 * ```
 */
export function createQueue<Data = unknown>(
  valkit: Valkit,
  name: string,
  options: QueueOptions = {},
): Queue<Data> {
  assertValkit(valkit, 'createQueue(valkit, name, options)')
  const queue = new Queue<Data>(valkit, name, resolveQueueOptions(name, options))
  // Declares the queue's series, so a queue that only produces shows in /metrics and the dashboard.
  registerQueueMetrics(valkit.metrics, name)
  return queue
}

/**
 * Starts a worker for a queue: it leases jobs (at-least-once; a fencing token per lease),
 * extends their leases while `processor` runs, stores results, retries with backoff, moves jobs
 * out of attempts to the dead letters, and re-delivers jobs whose worker died or froze.
 *
 * @example
 * ```ts
 * const worker = createWorker(valkit, 'emails', async (job) => {
 *   await job.progress(50)
 *   return send(job.data, { signal: job.signal })
 * }, { concurrency: 50, lease: '30s' })
 * process.on('SIGTERM', () => worker.close())   // waits for running jobs
 * ```
 */
export function createWorker<Data = unknown, Result = unknown>(
  valkit: Valkit,
  name: string,
  processor: Processor<Data, Result>,
  options: WorkerOptions = {},
): Worker<Data, Result> {
  assertValkit(valkit, 'createWorker(valkit, name, processor, options)')
  if (typeof processor !== 'function') {
    throw new ValkitError(
      'VALKIT_INVALID_ARGUMENT',
      'createWorker(valkit, name, processor, options): processor must be a function (job) => result.',
    )
  }
  const queueOptions = resolveQueueOptions(name, options.queue ?? {})
  const resolved = resolveWorkerOptions(options, queueOptions.defaults)
  const queue = new Queue<Data>(valkit, name, { ...queueOptions, journal: false }, false)
  const worker = new Worker<Data, Result>(
    valkit,
    queue,
    processor,
    resolved,
    registerQueueMetrics(valkit.metrics, name),
  )
  const close = worker.close.bind(worker)
  worker.close = async (o) => {
    await close(o)
    await queue.close()
  }
  if (resolved.autostart) {
    worker
      .start()
      .catch((err: unknown) => valkit.logger.error('queue worker failed to start', { queue: name, err }))
  }
  return worker
}
