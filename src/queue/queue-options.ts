import { invalidOption, parseDuration, ValkitError } from '../core/index.js'
import type { BackoffOptions, JobOptions, KeepOptions } from './queue-types.js'

/** Options of a queue (`createQueue`), shared by its workers when they are given the same. */
export interface QueueOptions {
  /** Options every job of this queue starts from; a job's own options win. */
  readonly defaultJobOptions?: Omit<JobOptions, 'id' | 'delay' | 'runAt'>
  /**
   * Most jobs waiting or delayed; past it `overflow` decides. @defaultValue unbounded
   */
  readonly maxLength?: number
  /**
   * A full queue `reject`s an add with `VALKIT_QUEUE_FULL` (the default), drops the `drop-lowest`
   * priority job (the new one if it is of the lowest priority), or makes the producer wait
   * (`backpressure`, up to `backpressureTimeout`, then `VALKIT_QUEUE_FULL`).
   */
  readonly overflow?: 'reject' | 'drop-lowest' | 'backpressure'
  /** @defaultValue '30s' */
  readonly backpressureTimeout?: number | string
  /** About how many events the stream keeps (trimmed by whole entries: see docs/queue.md); `0` turns events off. @defaultValue 10_000 */
  readonly eventsMaxLength?: number
  /**
   * Split the queue over N partitions, each its own hash tag (its own slot on a Cluster), so a
   * Cluster adds throughput. Jobs go to a partition by id; workers take from all. Order and
   * priority hold within a partition. @defaultValue 1
   */
  readonly partitions?: number
  /**
   * While Redis/Valkey is unreachable, `add` writes jobs to this local append-only file (fsync'd,
   * checksummed) and returns `journaled`; they are added, once each, when Redis is back.
   * `false` makes `add` reject with `VALKIT_UNAVAILABLE` instead. @defaultValue `false`
   */
  readonly journal?: false | { readonly path: string; readonly maxBytes?: number }
  /**
   * An add resolves only after the core's `durableWrites.replicas` replicas have it (WAIT after
   * the script), so a failover right after cannot lose it. Needs `durableWrites` in the core
   * configuration. @defaultValue false
   */
  readonly durable?: boolean
}

/** @internal */
export interface ResolvedKeep {
  /** -1: all. */
  readonly count: number
  /** 0: no age limit. */
  readonly ageMs: number
}

/** @internal */
export type ResolvedBackoff =
  | { readonly type: 'none' }
  | { readonly type: 'fixed'; readonly delayMs: number }
  | {
      readonly type: 'exponential'
      readonly delayMs: number
      readonly maxMs: number
      readonly jitter: boolean
    }
  | { readonly type: 'custom'; readonly fn: (attempt: number, error: Error) => number }

/** Job options as workers use them, after defaults. @internal */
export interface ResolvedJobOptions {
  readonly attempts: number
  readonly backoff: ResolvedBackoff
  readonly timeoutMs: number
  readonly keepCompleted: ResolvedKeep
  readonly keepDead: ResolvedKeep
}

/** @internal */
export interface ResolvedQueueOptions {
  readonly defaults: ResolvedJobOptions
  /** The defaults as given, merged under each job's own options. */
  readonly defaultJobOptions: Omit<JobOptions, 'id' | 'delay' | 'runAt'>
  readonly maxLength: number
  readonly overflow: 'reject' | 'drop-lowest' | 'backpressure'
  readonly backpressureTimeoutMs: number
  readonly eventsMaxLength: number
  readonly partitions: number
  readonly journal: false | { readonly path: string; readonly maxBytes: number }
  readonly durable: boolean
}

/** The highest priority number (lowest priority). */
export const MAX_PRIORITY = 1_048_576
/** Longest job id; the Redis store relies on it (a longer member of the active set is no job). @internal */
export const MAX_JOB_ID_LENGTH = 256

const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v)

function keepOf(value: KeepOptions | undefined, fallback: ResolvedKeep, path: string): ResolvedKeep {
  if (value === undefined) return fallback
  if (value === true) return { count: -1, ageMs: 0 }
  if (value === false) return { count: 0, ageMs: 0 }
  if (typeof value === 'number') {
    if (!isInt(value) || value < 0)
      throw invalidOption(path, `got ${value}`, 'true, false, a count ≥ 0 or { count, age }')
    return { count: value, ageMs: 0 }
  }
  if (typeof value === 'object' && value !== null) {
    const count = value.count ?? -1
    if (!isInt(count) || count < -1)
      throw invalidOption(`${path}.count`, `got ${String(count)}`, 'an integer ≥ 0')
    const ageMs = value.age === undefined ? 0 : parseDuration(value.age, `${path}.age`)
    return { count, ageMs }
  }
  throw invalidOption(path, `got ${typeof value}`, 'true, false, a count ≥ 0 or { count, age }')
}

function backoffOf(value: BackoffOptions | undefined, path: string): ResolvedBackoff {
  if (value === undefined) return { type: 'none' }
  if (typeof value === 'function') return { type: 'custom', fn: value }
  if (typeof value !== 'object' || value === null) {
    throw invalidOption(path, `got ${typeof value}`, "{ type: 'fixed' | 'exponential', delay } or a function")
  }
  if (value.type === 'fixed') return { type: 'fixed', delayMs: parseDuration(value.delay, `${path}.delay`) }
  if (value.type === 'exponential') {
    return {
      type: 'exponential',
      delayMs: parseDuration(value.delay, `${path}.delay`),
      maxMs: value.max === undefined ? 3_600_000 : parseDuration(value.max, `${path}.max`),
      jitter: value.jitter !== false,
    }
  }
  throw invalidOption(
    `${path}.type`,
    `got ${JSON.stringify((value as { type?: unknown }).type)}`,
    "'fixed' or 'exponential'",
  )
}

const DEFAULT_KEEP_COMPLETED: ResolvedKeep = { count: 1000, ageMs: 0 }
const KEEP_ALL: ResolvedKeep = { count: -1, ageMs: 0 }

/** Resolves the options workers need from a job's options over the queue's defaults. @internal */
export function resolveJobOptions(
  options: Omit<JobOptions, 'id' | 'delay' | 'runAt'> | undefined,
  base: ResolvedJobOptions | undefined,
  path: string,
): ResolvedJobOptions {
  const o = options ?? {}
  const attempts = o.attempts ?? base?.attempts ?? 1
  if (!isInt(attempts) || attempts < 1 || attempts > 10_000) {
    throw invalidOption(`${path}.attempts`, `got ${String(attempts)}`, 'an integer from 1 to 10000')
  }
  return {
    attempts,
    backoff:
      o.backoff === undefined ? (base?.backoff ?? { type: 'none' }) : backoffOf(o.backoff, `${path}.backoff`),
    timeoutMs: o.timeout === undefined ? (base?.timeoutMs ?? 0) : parseDuration(o.timeout, `${path}.timeout`),
    keepCompleted: keepOf(
      o.removeOnComplete === undefined ? undefined : invertKeep(o.removeOnComplete),
      base?.keepCompleted ?? DEFAULT_KEEP_COMPLETED,
      `${path}.removeOnComplete`,
    ),
    keepDead: keepOf(
      o.removeOnFail === undefined ? undefined : invertKeep(o.removeOnFail),
      base?.keepDead ?? KEEP_ALL,
      `${path}.removeOnFail`,
    ),
  }
}

/** `removeOnComplete: true` means keep none; `false` keep all; a count or object says what to keep. */
function invertKeep(value: KeepOptions): KeepOptions {
  return typeof value === 'boolean' ? !value : value
}

const TEN_YEARS_MS = 10 * 366 * 86_400_000
const DELAY_UNITS: Readonly<Record<string, number>> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
}

/**
 * A job's delay: ms, or a string with a unit up to days (`'30d'`). Unlike timer durations it may
 * pass ~24.8 days (it waits in Redis, not in a timer); at most ten years. @internal
 */
export function parseDelay(value: unknown, path: string): number {
  const expected = "milliseconds ≥ 0 or a string such as '90s', '10m', '6h' or '30d' (at most ten years)"
  let ms = NaN
  if (typeof value === 'number') ms = value
  else if (typeof value === 'string') {
    const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/.exec(value)
    if (m !== null) ms = Number(m[1]) * DELAY_UNITS[m[2] ?? 'ms']!
  }
  if (!Number.isFinite(ms) || ms < 0 || ms > TEN_YEARS_MS) {
    throw invalidOption(
      path,
      `got ${typeof value === 'string' ? JSON.stringify(value.slice(0, 40)) : String(value)}`,
      expected,
    )
  }
  return Math.round(ms)
}

/** Validates a job's placement options; returns its priority and delay in ms. @internal */
export function resolvePlacement(
  options: JobOptions | undefined,
  path: string,
  nowMs: number,
): { priority: number; delayMs: number; id: string } {
  const o = options ?? {}
  const priority = o.priority ?? 0
  if (!isInt(priority) || priority < 0 || priority > MAX_PRIORITY) {
    throw invalidOption(
      `${path}.priority`,
      `got ${String(priority)}`,
      `an integer from 0 (first) to ${MAX_PRIORITY}`,
    )
  }
  let delayMs = o.delay === undefined ? 0 : parseDelay(o.delay, `${path}.delay`)
  if (o.runAt !== undefined) {
    const at = o.runAt instanceof Date ? o.runAt.getTime() : o.runAt
    if (typeof at !== 'number' || !Number.isFinite(at)) {
      throw invalidOption(`${path}.runAt`, `got ${String(o.runAt)}`, 'a Date or epoch milliseconds')
    }
    delayMs = Math.max(0, Math.round(at - nowMs))
    if (delayMs > TEN_YEARS_MS)
      throw invalidOption(`${path}.runAt`, 'more than ten years ahead', 'a time within ten years')
  }
  const id = o.id ?? ''
  if (o.id !== undefined) {
    if (typeof id !== 'string' || id.length === 0 || id.length > MAX_JOB_ID_LENGTH) {
      throw invalidOption(
        `${path}.id`,
        `got ${typeof id === 'string' ? `${id.length} characters` : typeof id}`,
        `a string of 1 to ${MAX_JOB_ID_LENGTH} characters`,
      )
    }
    if (/^(\d+|p\d+-\d+)$/.test(id)) {
      throw invalidOption(
        `${path}.id`,
        `got ${JSON.stringify(id.slice(0, 20))}, which looks like one of valkit's own numbered ids`,
        "an id that is not a plain integer nor p<n>-<n>: prefix it, as in 'order:42'",
      )
    }
  }
  return { priority, delayMs, id }
}

/** Validates and resolves a queue's options once. @internal */
export function resolveQueueOptions(name: unknown, options: QueueOptions = {}): ResolvedQueueOptions {
  if (typeof name !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/.test(name)) {
    throw new ValkitError(
      'VALKIT_INVALID_ARGUMENT',
      `A queue name is 1-128 letters, digits and . _ : - (starting with a letter or digit); got ${JSON.stringify(String(name).slice(0, 40))}.`,
    )
  }
  const known = new Set([
    'defaultJobOptions',
    'maxLength',
    'overflow',
    'backpressureTimeout',
    'eventsMaxLength',
    'partitions',
    'journal',
  ])
  for (const key of Object.keys(options))
    if (!known.has(key)) throw invalidOption(`queue.${key}`, 'unknown option', [...known].join(', '))
  const maxLength = options.maxLength ?? 0
  if (!isInt(maxLength) || maxLength < 0)
    throw invalidOption(
      'queue.maxLength',
      `got ${String(maxLength)}`,
      'an integer ≥ 1 (or leave it out: unbounded)',
    )
  const overflow = options.overflow ?? 'reject'
  if (!['reject', 'drop-lowest', 'backpressure'].includes(overflow)) {
    throw invalidOption(
      'queue.overflow',
      `got ${JSON.stringify(overflow)}`,
      "'reject', 'drop-lowest' or 'backpressure'",
    )
  }
  const eventsMaxLength = options.eventsMaxLength ?? 10_000
  if (!isInt(eventsMaxLength) || eventsMaxLength < 0)
    throw invalidOption(
      'queue.eventsMaxLength',
      `got ${String(eventsMaxLength)}`,
      'an integer ≥ 0 (0: no events)',
    )
  const partitions = options.partitions ?? 1
  if (!isInt(partitions) || partitions < 1 || partitions > 1024)
    throw invalidOption('queue.partitions', `got ${String(partitions)}`, 'an integer from 1 to 1024')
  let journal: ResolvedQueueOptions['journal'] = false
  if (options.journal !== undefined && options.journal !== false) {
    if (
      typeof options.journal !== 'object' ||
      typeof options.journal.path !== 'string' ||
      options.journal.path === ''
    ) {
      throw invalidOption('queue.journal.path', 'missing', 'the path of a file the journal may create')
    }
    const maxBytes = options.journal.maxBytes ?? 64 * 1024 * 1024
    if (!isInt(maxBytes) || maxBytes < 1024)
      throw invalidOption('queue.journal.maxBytes', `got ${String(maxBytes)}`, 'an integer ≥ 1024')
    journal = { path: options.journal.path, maxBytes }
  }
  const defaultJobOptions = options.defaultJobOptions ?? {}
  return {
    defaults: resolveJobOptions(defaultJobOptions, undefined, 'queue.defaultJobOptions'),
    defaultJobOptions,
    maxLength,
    overflow,
    backpressureTimeoutMs: parseDuration(options.backpressureTimeout ?? '30s', 'queue.backpressureTimeout'),
    eventsMaxLength,
    partitions,
    journal,
    durable: options.durable === true,
  }
}

/** The stored form of a job's options: only what differs from nothing, as compact JSON ('' for none). @internal */
export function encodeJobOptions(
  options: Omit<JobOptions, 'id' | 'delay' | 'runAt' | 'priority'> | undefined,
): string {
  if (options === undefined) return ''
  const out: Record<string, unknown> = {}
  if (options.attempts !== undefined) out.attempts = options.attempts
  if (options.backoff !== undefined) {
    if (typeof options.backoff === 'function') {
      throw new ValkitError(
        'VALKIT_INVALID_ARGUMENT',
        "A backoff function cannot be stored with a job: give it in the worker's `backoff` option (or the queue's defaultJobOptions of the worker).",
      )
    }
    out.backoff = options.backoff
  }
  if (options.timeout !== undefined) out.timeout = options.timeout
  if (options.removeOnComplete !== undefined) out.removeOnComplete = options.removeOnComplete
  if (options.removeOnFail !== undefined) out.removeOnFail = options.removeOnFail
  return Object.keys(out).length === 0 ? '' : JSON.stringify(out)
}

/** The delay before the next attempt. @internal */
export function backoffDelay(
  backoff: ResolvedBackoff,
  attempt: number,
  error: Error,
  random: () => number = Math.random,
): number {
  switch (backoff.type) {
    case 'none':
      return 0
    case 'fixed':
      return backoff.delayMs
    case 'exponential': {
      const ceiling = Math.min(backoff.maxMs, backoff.delayMs * 2 ** Math.min(attempt - 1, 40))
      return backoff.jitter ? Math.round(random() * ceiling) : ceiling
    }
    case 'custom': {
      const ms = backoff.fn(attempt, error)
      return typeof ms === 'number' && Number.isFinite(ms) && ms > 0 ? Math.round(ms) : 0
    }
  }
}
