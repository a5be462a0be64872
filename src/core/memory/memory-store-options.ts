import { invalidOption } from '../errors.js'
import { estimateSize } from './size-of.js'

/** Which entries a full memory store evicts first. */
export type EvictionPolicyName = 'lru' | 'lfu'

/** Options of {@link createMemoryStore}. */
export interface MemoryStoreOptions {
  /**
   * Most entries the store holds; adding one more evicts one by the policy.
   * @defaultValue 10_000
   */
  maxEntries?: number
  /**
   * Most bytes (as accounted by `sizeBytes` / `sizeOf`) the store holds; `Infinity` for no bound.
   * A single value larger than this is rejected: `set` returns `false`.
   * @defaultValue 67_108_864 (64 MiB)
   */
  maxBytes?: number
  /**
   * `'lru'` evicts the least recently used entry; `'lfu'` the least frequently used one
   * (O(1) frequency buckets with periodic halving of counts, ties broken by recency).
   * @defaultValue 'lru'
   */
  policy?: EvictionPolicyName
  /**
   * Size of a value in bytes when `set` is not given `sizeBytes`.
   * @defaultValue {@link estimateSize}
   */
  sizeOf?: (value: unknown) => number
  /**
   * The clock, in milliseconds. Inject one in tests to move time without sleeping.
   * @defaultValue Date.now
   */
  now?: () => number
  /**
   * How often the background sweeper removes expired entries; `0` turns it off (expired entries
   * are then only removed when touched, or by `sweep()`). The timer is `unref()`ed.
   * @defaultValue 1000
   */
  sweepIntervalMs?: number
  /**
   * Most expired entries one sweeper tick removes, so a tick never blocks the event loop long.
   * @defaultValue 1000
   */
  sweepBatch?: number
}

/** {@link MemoryStoreOptions} with every default applied. */
export interface ResolvedMemoryStoreOptions {
  readonly maxEntries: number
  readonly maxBytes: number
  readonly policy: EvictionPolicyName
  readonly sizeOf: (value: unknown) => number
  readonly now: () => number
  readonly sweepIntervalMs: number
  readonly sweepBatch: number
}

/** Defaults of {@link MemoryStoreOptions}. */
export const MEMORY_STORE_DEFAULTS: ResolvedMemoryStoreOptions = Object.freeze({
  maxEntries: 10_000,
  maxBytes: 64 * 1024 * 1024,
  policy: 'lru',
  sizeOf: estimateSize,
  now: Date.now,
  sweepIntervalMs: 1000,
  sweepBatch: 1000,
})

/**
 * Validates memory store options and applies defaults.
 *
 * @throws ValkitError `VALKIT_INVALID_OPTION` naming the option (prefixed by `path`).
 */
export function resolveMemoryStoreOptions(
  options: MemoryStoreOptions = {},
  path = 'memory',
): ResolvedMemoryStoreOptions {
  const d = MEMORY_STORE_DEFAULTS
  const maxEntries = options.maxEntries ?? d.maxEntries
  if (!(Number.isInteger(maxEntries) && maxEntries >= 1) && maxEntries !== Infinity) {
    throw invalidOption(`${path}.maxEntries`, `got ${String(maxEntries)}`, 'an integer >= 1 or Infinity')
  }
  const maxBytes = options.maxBytes ?? d.maxBytes
  if (typeof maxBytes !== 'number' || Number.isNaN(maxBytes) || maxBytes <= 0) {
    throw invalidOption(`${path}.maxBytes`, `got ${String(maxBytes)}`, 'a number > 0 or Infinity')
  }
  const policy = options.policy ?? d.policy
  if (policy !== 'lru' && policy !== 'lfu') {
    throw invalidOption(`${path}.policy`, `got ${JSON.stringify(policy)}`, "'lru' or 'lfu'")
  }
  const sizeOf = options.sizeOf ?? d.sizeOf
  if (typeof sizeOf !== 'function') {
    throw invalidOption(`${path}.sizeOf`, `got ${typeof sizeOf}`, 'a function (value) => number')
  }
  const now = options.now ?? d.now
  if (typeof now !== 'function')
    throw invalidOption(`${path}.now`, `got ${typeof now}`, 'a function () => number')
  const sweepIntervalMs = options.sweepIntervalMs ?? d.sweepIntervalMs
  if (!Number.isFinite(sweepIntervalMs) || sweepIntervalMs < 0) {
    throw invalidOption(`${path}.sweepIntervalMs`, `got ${String(sweepIntervalMs)}`, 'a finite number >= 0')
  }
  const sweepBatch = options.sweepBatch ?? d.sweepBatch
  if (!Number.isInteger(sweepBatch) || sweepBatch < 1) {
    throw invalidOption(`${path}.sweepBatch`, `got ${String(sweepBatch)}`, 'an integer >= 1')
  }
  return Object.freeze({ maxEntries, maxBytes, policy, sizeOf, now, sweepIntervalMs, sweepBatch })
}
