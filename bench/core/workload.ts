/**
 * The `core` workload: a GET/SET 50/50 mix over a small keyspace and EVALSHA of a tiny script.
 * Keys are `key:000000000042` (16 bytes): the same names redis-benchmark uses with `-r`, so its
 * reference rows touch the same keys.
 */
export const KEYSPACE = 1000
export const VALUE_SIZE = 64

/** Scenario names, in table order. */
export const SCENARIOS = {
  getSet: 'GET/SET 50/50',
  evalsha: 'EVALSHA tiny script',
} as const

/** The keyspace, 16-byte names. */
export const KEYS: readonly string[] = Array.from(
  { length: KEYSPACE },
  (_, i) => `key:${String(i).padStart(12, '0')}`,
)

/** A 64-byte value. */
export const VALUE = 'v'.repeat(VALUE_SIZE)

/** The tiny script: one read of its key. */
export const SCRIPT = "return redis.call('GET', KEYS[1])"

/**
 * The i-th call's key: spread over the keyspace without `Math.random` (the same sequence for every
 * library); calls 2n and 2n+1 (a SET and a GET) share a key.
 */
export function keyFor(i: number): string {
  return KEYS[((i >>> 1) * 7919) % KEYSPACE]!
}

/** Odd calls are GETs, even calls SETs. */
export function isGet(i: number): boolean {
  return (i & 1) === 1
}
