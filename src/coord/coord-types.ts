import type { StuckLock } from './deadlock-detector.js'
import type { Election, ElectionOptions } from './election.js'
import type { FencedStore } from './fenced-store.js'
import type { Idempotency, IdempotencyOptions } from './idempotency.js'
import type { TransactionOptions, TransactionReads, TransactionResult } from './transaction.js'
import type { VersionedStore } from './versioned-store.js'
import type { RedisArg } from '../core/index.js'
import type { AcquireOptions, AcquireResult, Lease, WithLockResult } from './lease-types.js'
import type { ReadWriteLock } from './read-write-lock.js'
import type { ResourceState, Semaphore, SemaphoreOptions } from './semaphore.js'

/**
 * What `coord.stats()` returns: this instance's counters and what it holds now (the same
 * numbers as the `valkit_coord_*` metrics).
 *
 * @example
 * ```ts
 * const { held, waiting, timeouts } = coord.stats()
 * ```
 */
export interface CoordStats {
  /** Grants made to this instance (mutex, permits, read/write slots, leaderships). */
  readonly granted: number
  /** Acquires with `wait: 0` that found the resource held. */
  readonly busy: number
  /** Acquires whose wait ran out. */
  readonly timeouts: number
  /** Acquires whose wait the caller aborted. */
  readonly aborted: number
  /** Acquires that failed (Redis/Valkey unreachable: fail closed). */
  readonly errors: number
  readonly released: number
  /** Leases lost: another owner had them, or they ran out before an extension. */
  readonly lost: number
  readonly extended: number
  /** In-process grants made while Redis/Valkey was down (`whenUnavailable: 'local'`). */
  readonly localGrants: number
  readonly deadlocksBroken: number
  readonly locksRecovered: number
  readonly fencedWritten: number
  readonly fencedStale: number
  /** Leases held now. */
  readonly held: number
  /** Acquires waiting now. */
  readonly waiting: number
}

/**
 * Coordination between processes on Redis/Valkey: mutexes with fencing tokens, counting
 * semaphores, read/write locks, and the helpers built on them. Made by `createCoord`.
 *
 * @example
 * ```ts
 * const coord = createCoord(valkit)
 * const got = await coord.acquire('report:2026-12', { ttl: '30s', wait: '5s', fair: true })
 * if (got.acquired) {
 *   try { await buildReport({ fence: got.lease.token }) } finally { await got.lease.release() }
 * }
 * ```
 */
export interface Coord {
  /**
   * Takes the mutex of `resource`: granted at once when free, otherwise waits up to `wait`
   * (woken by the release, never by polling). One round trip when uncontended.
   */
  acquire(resource: string, options?: AcquireOptions): Promise<AcquireResult>
  /**
   * Runs `fn` holding the mutex of `resource` and releases it after; the watchdog extends the
   * grant while `fn` runs. Resolves `{ acquired: false, reason }` when not granted; rejects with
   * `VALKIT_LOCK_LOST` if the lease was lost while `fn` ran.
   */
  withLock<T>(
    resource: string,
    fn: (lease: Lease) => T | Promise<T>,
    options?: AcquireOptions,
  ): Promise<WithLockResult<T>>
  /** A counting semaphore of `limit` permits. */
  semaphore(name: string, options: SemaphoreOptions): Semaphore
  /** A read/write lock. */
  readWriteLock(name: string): ReadWriteLock
  /** Joins the leader election of `group` (campaigning starts at once); at most one leader per group. */
  election(group: string, options?: ElectionOptions): Election
  /** Values guarded by fencing tokens (a write with an older token is refused). */
  fencedStore(name: string): FencedStore
  /** Values with versions, written by check-and-set. */
  versioned(name: string): VersionedStore
  /** Operations run once per key across every instance; repeats get the stored result. */
  idempotency(name: string, options?: IdempotencyOptions): Idempotency
  /**
   * An optimistic transaction over plain commands: `WATCH keys`, `fn` reads and returns the
   * writes, `MULTI` … `EXEC`, run again when a watched key changed (up to `retries`). `fn`
   * returns `null` to give up. The keys are yours (no valkit prefix); on a Cluster they must
   * share a hash tag. Needs Redis/Valkey (`VALKIT_UNAVAILABLE` on the memory topology).
   *
   * @example
   * ```ts
   * const moved = await coord.transaction(['{acct}:a', '{acct}:b'], async (tx) => {
   *   const a = Number(await tx.get('{acct}:a'))
   *   if (a < 10) return null
   *   return [['DECRBY', '{acct}:a', 10], ['INCRBY', '{acct}:b', 10]]
   * })
   * ```
   */
  transaction(
    keys: readonly string[],
    fn: (
      reads: TransactionReads,
    ) => Promise<readonly (readonly RedisArg[])[] | null> | readonly (readonly RedisArg[])[] | null,
    options?: TransactionOptions,
  ): Promise<TransactionResult>
  /**
   * Calls `listener` for every lock an agent held past `deadlock.maxHold` (found by the sweep,
   * then taken back). Returns a function that removes it.
   */
  onStuckLock(listener: (lock: StuckLock) => void): () => void
  /** Who holds the mutex of `resource` now. */
  inspect(resource: string): Promise<ResourceState>
  stats(): CoordStats
  /** Withdraws and rejects pending waits (`VALKIT_CLOSED`); held leases are not released (release them, or they expire). Idempotent. */
  close(): Promise<void>
}
