/**
 * `valkit/coord`: coordination between processes on Redis/Valkey — mutexes whose every grant
 * carries a fencing token, counting semaphores and read/write locks (fair FIFO queueing as an
 * option, waiters woken by messages, not polling), watchdogs, fenced writes, and the memory
 * backend that runs the same contract in one process.
 *
 * @packageDocumentation
 */
export { createCoord } from './create-coord.js'
export {
  COORD_DEFAULTS,
  resolveCoordOptions,
  type CoordDeadlockOptions,
  type CoordDurableOptions,
  type CoordOptions,
  type ResolvedCoordOptions,
} from './coord-options.js'
export type { Coord, CoordStats } from './coord-types.js'
export type {
  AcquireOptions,
  AcquireResult,
  Lease,
  LeaseKind,
  NotAcquiredReason,
  WithLockResult,
} from './lease-types.js'
export {
  SEMAPHORE_MAX_LIMIT,
  type ResourceState,
  type Semaphore,
  type SemaphoreOptions,
} from './semaphore.js'
export type { ReadWriteLock } from './read-write-lock.js'
export type { FencedStore, FencedWriteResult } from './fenced-store.js'
export type { StuckLock } from './deadlock-detector.js'
export type { SwapResult, UpdateResult, VersionedStore } from './versioned-store.js'
export type { Idempotency, IdempotencyOptions, IdempotentResult } from './idempotency.js'
export type { TransactionOptions, TransactionReads, TransactionResult } from './transaction.js'
export type { DemotionReason, Election, ElectionOptions, LeaderTerm } from './election.js'
export {
  createRedlock,
  type Redlock,
  type RedlockAcquireOptions,
  type RedlockOptions,
  type RedlockStats,
} from './redlock.js'
