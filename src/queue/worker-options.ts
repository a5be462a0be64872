import { invalidOption, parseDuration } from '../core/index.js'
import { resolveJobOptions, type ResolvedJobOptions } from './queue-options.js'
import type { QueueOptions } from './queue-options.js'
import type { BackoffFunction } from './queue-types.js'

/** Options of a worker (`createWorker`). */
export interface WorkerOptions {
  /** Jobs run at once by this worker. @defaultValue 1 */
  readonly concurrency?: number
  /**
   * Most jobs fetched in one call. While the queue has work, two calls are out at once (the
   * second for at least half a batch), so Redis runs one while the worker runs the jobs of the
   * other; the default, half the concurrency, lets both fill the worker's slots.
   * @defaultValue half the concurrency (rounded up), at most 1000
   */
  readonly batch?: number
  /**
   * How long a job stays leased without an extension; the worker extends it every third of
   * this while the job runs. A worker that dies or freezes loses its jobs after it. @defaultValue '30s'
   */
  readonly lease?: number | string
  /** Stalls (lease ran out) a job survives; one more and it is dead. @defaultValue 1 */
  readonly maxStalls?: number
  /** Most jobs active at once across every worker of the queue (0: no limit). @defaultValue 0 */
  readonly globalConcurrency?: number
  /** Most jobs started per window across every worker of the queue. */
  readonly rateLimit?: { readonly max: number; readonly window: number | string }
  /** Backoff for jobs that have none of their own (a function: it cannot be stored with the job). */
  readonly backoff?: BackoffFunction
  /** The queue's options (its partitions and defaults); give the same as `createQueue`. */
  readonly queue?: QueueOptions
  /** This worker runs due schedule ticks (any worker may; one claims each tick). @defaultValue true */
  readonly schedules?: boolean
  /** Start fetching at once. @defaultValue true */
  readonly autostart?: boolean
  /**
   * A sleeping worker looks at the queue after this long even if nothing woke it (a safety
   * net for a wake-up lost with a connection). @defaultValue '10s'
   */
  readonly idlePoll?: number | string
}

/** @internal */
export interface ResolvedWorkerOptions {
  readonly concurrency: number
  readonly batch: number
  readonly leaseMs: number
  readonly maxStalls: number
  readonly globalConcurrency: number
  readonly rateLimit: { readonly max: number; readonly windowMs: number } | undefined
  readonly backoff: BackoffFunction | undefined
  readonly schedules: boolean
  readonly autostart: boolean
  readonly idlePollMs: number
  readonly schedulePollMs: number
  readonly jobDefaults: ResolvedJobOptions
}

const int = (v: unknown, path: string, min: number, max: number, fallback: number): number => {
  const n = v ?? fallback
  if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) {
    throw invalidOption(path, `got ${String(v)}`, `an integer from ${min} to ${max}`)
  }
  return n
}

/** @internal */
export function resolveWorkerOptions(
  options: WorkerOptions = {},
  jobDefaults: ResolvedJobOptions,
): ResolvedWorkerOptions {
  const known = new Set([
    'concurrency',
    'batch',
    'lease',
    'maxStalls',
    'globalConcurrency',
    'rateLimit',
    'backoff',
    'queue',
    'schedules',
    'autostart',
    'idlePoll',
  ])
  for (const key of Object.keys(options))
    if (!known.has(key)) throw invalidOption(`worker.${key}`, 'unknown option', [...known].join(', '))
  const concurrency = int(options.concurrency, 'worker.concurrency', 1, 10_000, 1)
  const leaseMs = parseDuration(options.lease ?? '30s', 'worker.lease')
  if (leaseMs < 100) throw invalidOption('worker.lease', `got ${leaseMs} ms`, 'at least 100 ms')
  let rateLimit: ResolvedWorkerOptions['rateLimit']
  if (options.rateLimit !== undefined) {
    rateLimit = {
      max: int(options.rateLimit.max, 'worker.rateLimit.max', 1, 1_000_000_000, 1),
      windowMs: parseDuration(options.rateLimit.window, 'worker.rateLimit.window'),
    }
    if (rateLimit.windowMs < 1) throw invalidOption('worker.rateLimit.window', 'got 0', 'at least 1 ms')
  }
  if (options.backoff !== undefined && typeof options.backoff !== 'function') {
    throw invalidOption(
      'worker.backoff',
      `got ${typeof options.backoff}`,
      'a function (attempt, error) => milliseconds',
    )
  }
  return {
    concurrency,
    batch: int(options.batch, 'worker.batch', 1, 1000, Math.min(Math.ceil(concurrency / 2), 1000)),
    leaseMs,
    maxStalls: int(options.maxStalls, 'worker.maxStalls', 0, 1000, 1),
    globalConcurrency: int(options.globalConcurrency, 'worker.globalConcurrency', 0, 1_000_000, 0),
    rateLimit,
    backoff: options.backoff,
    schedules: options.schedules !== false,
    autostart: options.autostart !== false,
    idlePollMs: parseDuration(options.idlePoll ?? '10s', 'worker.idlePoll'),
    schedulePollMs: 5000,
    jobDefaults: resolveJobOptions(undefined, jobDefaults, 'worker.queue.defaultJobOptions'),
  }
}
