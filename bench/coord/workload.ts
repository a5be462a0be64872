/** Scenario names and sizes of the `coord` benchmark. */
export const SCENARIOS = Object.freeze({
  uncontended: '1. uncontended acquire+release',
  contended: '2. 100 contenders, one key',
  quorum: '3. uncontended, Redlock over 3 servers',
})

/** Distinct keys of scenario 1 (each call takes a key by its call number). */
export const UNCONTENDED_KEYS = 10_000
/** Contenders of scenario 2, all in this process, each acquire → release in a loop. */
export const CONTENDERS = 100
/** Lock TTL in every scenario (no holder ever needs it: releases come first). */
export const LOCK_TTL_MS = 10_000
/** How long a contender waits for the lock before counting a failure and trying again. */
export const CONTENDED_WAIT_MS = 10_000
/** redlock's retry settings under contention (its default, 10 × 200 ms, gives up within ~2 s). */
export const REDLOCK_RETRY = Object.freeze({ retryCount: -1, retryDelay: 10, retryJitter: 5 })

/** The targets. */
export const TARGET_UNCONTENDED = 2
export const TARGET_CONTENDED_VS_REDLOCK = 2
