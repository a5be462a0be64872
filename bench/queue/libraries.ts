/**
 * The queues compared, behind one shape: valkit's queue (its own connections), BullMQ 6.7 (ioredis,
 * created by BullMQ from `{ host, port }` as its docs show) and bee-queue 2 (node-redis 3, its own
 * dependency). Each measurement opens a producer and a worker of its own on a fresh queue name, as
 * two processes would, and closes them after.
 */
import { Queue as BullQueue, Worker as BullWorker } from 'bullmq'
import BeeQueue from 'bee-queue'
import { createValkit, type Valkit } from '../../src/core/index.js'
import type { ValkitOptions } from '../../src/core/config/valkit-options.js'
import { createQueue, createWorker, type QueueOptions } from '../../src/queue/index.js'
import { JOB_NAME, jobData } from './workload.js'

/**
 * What happens to a completed job: `remove` (the throughput scenarios: every library deletes it),
 * `keep-all` (scenario 7), or the library's own default (valkit keeps the last 1,000; BullMQ and
 * bee-queue keep every one). `keep-all-worker`: keep all, said to valkit's worker only, so the
 * option is not stored with each job (BullMQ and bee-queue: as `keep-all`).
 */
export type KeepPolicy = 'remove' | 'keep-all' | 'keep-all-worker' | 'default'

/** The producer side of a queue: adds jobs `jobData(i)`. */
export interface Producer {
  add(i: number): Promise<unknown>
  /** Adds jobs `from` … `from + count - 1` in one library call. */
  addBulk(from: number, count: number): Promise<unknown>
  /** Jobs not done yet or failed (waiting, delayed, active, failed/dead): 0 once every job completed. */
  unfinished(): Promise<number>
  close(): Promise<void>
}

/** How a worker is set up for a measurement. */
export interface WorkerSetup {
  readonly concurrency: number
  readonly keep: KeepPolicy
  /** The processor started a job (the processor itself is a no-op). */
  onStart(): void
  /** The library reported a job completed. */
  onCompleted(): void
  /** The library reported an error (counted, and the first one reported). */
  onError(err: unknown): void
}

/** A worker connected but not fetching yet: `start()` starts the clock's subject. */
export interface PreparedWorker {
  start(): void
  close(): Promise<void>
}

/** One library under test. */
export interface QueueLibrary {
  readonly name: string
  /**
   * Commands the library's clients send by the clock, not per job (valkit: the supervisor's
   * health-check `PING`s and `INFO` samples, and the worker's scheduler looking for a due tick,
   * a `ZRANGE` every 5 s); scenario 6 reports round trips per job without them.
   */
  readonly clockDriven?: readonly string[]
  openProducer(queue: string, keep: KeepPolicy): Promise<Producer>
  openWorker(queue: string, setup: WorkerSetup): Promise<PreparedWorker>
}

const range = (from: number, count: number): number[] => Array.from({ length: count }, (_, k) => from + k)

/**
 * valkit's queue on `connection` (a URL or a Cluster's seeds), with `queueOptions` (partitions)
 * and, for its workers, `batch` (most jobs fetched per call and partition; default: the concurrency).
 */
export function valkitQueue(
  name: string,
  connection: Pick<ValkitOptions, 'url' | 'cluster'>,
  queueOptions: Omit<QueueOptions, 'defaultJobOptions'> = {},
  batch?: number,
): QueueLibrary {
  const open = async (): Promise<Valkit> => {
    const valkit = createValkit({ ...connection, env: {}, logger: false })
    await valkit.supervisor.waitFor('ready', 15_000)
    return valkit
  }
  const options = (keep: KeepPolicy, side: 'producer' | 'worker'): QueueOptions => ({
    ...queueOptions,
    ...(keep === 'default' || (keep === 'keep-all-worker' && side === 'producer')
      ? {}
      : { defaultJobOptions: { removeOnComplete: keep === 'remove' } }),
  })
  return {
    name,
    clockDriven: ['ping', 'info', 'zrange'],
    async openProducer(queue, keep) {
      const valkit = await open()
      const q = createQueue(valkit, queue, options(keep, 'producer'))
      return {
        add: (i) => q.add(JOB_NAME, jobData(i)),
        addBulk: (from, count) =>
          q.addBulk(range(from, count).map((i) => ({ name: JOB_NAME, data: jobData(i) }))),
        async unfinished() {
          const c = await q.counts()
          return c.waiting + c.delayed + c.active + c.dead
        },
        async close() {
          await q.close()
          await valkit.close()
        },
      }
    },
    async openWorker(queue, setup) {
      const valkit = await open()
      // The job options a worker applies are its queue's defaults (the producer's are not stored with each job).
      const worker = createWorker(
        valkit,
        queue,
        async () => {
          setup.onStart()
        },
        {
          concurrency: setup.concurrency,
          autostart: false,
          queue: options(setup.keep, 'worker'),
          ...(batch !== undefined ? { batch } : {}),
        },
      )
      worker.on('completed', () => setup.onCompleted())
      worker.on('error', (err) => setup.onError(err))
      return {
        start: () => void worker.start().catch((err: unknown) => setup.onError(err)),
        async close() {
          await worker.close({ timeout: 10_000 })
          await valkit.close()
        },
      }
    },
  }
}

/** BullMQ 6.7: `Queue` and `Worker`, each creating its ioredis connections from `{ host, port }`. */
export function bullmq(url: string): QueueLibrary {
  const { hostname: host, port } = new URL(url)
  const connection = { host, port: Number(port || 6379) }
  const jobOptions = (keep: KeepPolicy) => (keep === 'default' ? {} : { removeOnComplete: keep === 'remove' })
  return {
    name: 'BullMQ 6.7',
    async openProducer(queue, keep) {
      const q = new BullQueue(queue, { connection, defaultJobOptions: jobOptions(keep) })
      q.on('error', () => {})
      await q.waitUntilReady()
      return {
        add: (i) => q.add(JOB_NAME, jobData(i)),
        addBulk: (from, count) =>
          q.addBulk(range(from, count).map((i) => ({ name: JOB_NAME, data: jobData(i) }))),
        async unfinished() {
          const c = await q.getJobCounts('waiting', 'prioritized', 'delayed', 'active', 'failed')
          return Object.values(c).reduce((a, b) => a + b, 0)
        },
        close: () => q.close(),
      }
    },
    async openWorker(queue, setup) {
      const worker = new BullWorker(
        queue,
        async () => {
          setup.onStart()
        },
        {
          connection: { ...connection, maxRetriesPerRequest: null },
          concurrency: setup.concurrency,
          autorun: false,
        },
      )
      worker.on('completed', () => setup.onCompleted())
      worker.on('error', (err) => setup.onError(err))
      worker.on('failed', (_job, err) => setup.onError(err))
      await worker.waitUntilReady()
      return {
        start: () => void worker.run().catch((err: unknown) => setup.onError(err)),
        close: () => worker.close(),
      }
    },
  }
}

/**
 * bee-queue 2: a producer-only queue as its README describes one (`isWorker: false`, no events
 * received, no jobs kept in the process), and a worker that sends events (its default) but does
 * not subscribe to them.
 */
export function beeQueue(url: string): QueueLibrary {
  const { hostname: host, port } = new URL(url)
  const redis = { host, port: Number(port || 6379) }
  return {
    name: 'bee-queue 2.0',
    async openProducer(queue) {
      const q = new BeeQueue(queue, { redis, isWorker: false, getEvents: false, storeJobs: false })
      q.on('error', () => {})
      await q.ready()
      return {
        add: (i) => q.createJob(jobData(i)).save(),
        async addBulk(from, count) {
          const errors = await q.saveAll(range(from, count).map((i) => q.createJob(jobData(i))))
          if (errors.size > 0) throw [...errors.values()][0]!
        },
        async unfinished() {
          const h = await q.checkHealth()
          return h.waiting + h.active + h.delayed + h.failed
        },
        close: () => q.close(),
      }
    },
    async openWorker(queue, setup) {
      const q = new BeeQueue(queue, {
        redis,
        getEvents: false,
        storeJobs: false,
        removeOnSuccess: setup.keep === 'remove',
      })
      q.on('error', (err) => setup.onError(err))
      q.on('succeeded', () => setup.onCompleted())
      q.on('failed', (_job, err) => setup.onError(err))
      await q.ready()
      return {
        start: () =>
          q.process(setup.concurrency, async () => {
            setup.onStart()
          }),
        close: () => q.close(10_000),
      }
    },
  }
}
