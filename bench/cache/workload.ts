/**
 * The `cache` workload: keys, the cached value, the loader and the fixed settings of each
 * scenario. Every library reads and writes the same keys and the same value.
 */

/** Scenario names, in table order. */
export const SCENARIOS = {
  l1Hit: '1. L1 hit',
  l2Hit: '2. L2 hit, 64 in flight',
  stampede: '3. stampede, 1 process',
  stampede4: '4. stampede, 4 instances',
  redisDown: '5. Redis down',
} as const

/** Requests kept outstanding in scenarios 1 and 2 (fixed: `--inflight` does not apply). */
export const CACHE_INFLIGHT = 64

/** Keys read in the L2 scenario (L1 is off there, so repeats still go to Redis). */
export const L2_KEYSPACE = 1000

/** The hot key of the L1 scenario. */
export const HOT_KEY = 'hot'

/** The i-th key of the L2 scenario, spread without `Math.random` (the same sequence for every library). */
export function l2Key(i: number): string {
  return `item:${String((i * 7919) % L2_KEYSPACE).padStart(6, '0')}`
}

/** What every cache stores: a small record, ~60 bytes as JSON. */
export const VALUE: Readonly<Record<string, unknown>> = Object.freeze({
  id: 42,
  name: 'Ada Lovelace',
  plan: 'pro',
  tags: ['a', 'b'],
})

/** The same value as the raw drivers read it (a JSON string). */
export const RAW_VALUE = JSON.stringify(VALUE)

/** Time-to-live given to every entry (long enough to outlive the run). */
export const TTL_MS = 10 * 60_000

/** How long the stampede loader takes. */
export const LOADER_MS = 20

/** Scenario 3: concurrent getOrSet callers on one fresh key. */
export const STAMPEDE_CALLERS = 100

/** Scenario 4: independent cache objects (own connections, same Redis) × callers on each. */
export const STAMPEDE_INSTANCES = 4
export const STAMPEDE_CALLERS_PER_INSTANCE = 25

/** Fresh keys per library in scenarios 3 and 4 (the table shows means over them). */
export const STAMPEDE_KEYS = 5

/** Scenario 5: a call still pending after this long is reported as ">= 15 s". */
export const DOWN_CAP_MS = 15_000

/** Scenario 5: waves of concurrent getOrSet calls, one after the other. */
export const DOWN_WAVES = 2
export const DOWN_CALLS_PER_WAVE = 10

/** Resolves after `ms`. */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
