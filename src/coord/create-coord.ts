import { ValkitError, type Valkit } from '../core/index.js'
import { resolveAcquire, waitSpec } from './acquire-options.js'
import { CoordEngine } from './coord-engine.js'
import { resolveCoordOptions, type CoordOptions } from './coord-options.js'
import type { Coord, CoordStats } from './coord-types.js'
import { DeadlockDetector, type StuckLock } from './deadlock-detector.js'
import { memoryGraphOf, RedisWaitGraph } from './wait-graph.js'
import { ElectionImpl, type ElectionOptions } from './election.js'
import { FencedStoreImpl } from './fenced-store.js'
import { IdempotencyImpl, type IdempotencyOptions } from './idempotency.js'
import {
  TransactionRunner,
  transactionClosedError,
  type TransactionOptions,
  type TransactionReads,
  type TransactionResult,
} from './transaction.js'
import { VersionedStoreImpl } from './versioned-store.js'
import type { RedisArg } from '../core/index.js'
import type { AcquireOptions, AcquireResult, Lease, WithLockResult } from './lease-types.js'
import { ReadWriteLockImpl } from './read-write-lock.js'
import { SemaphoreImpl, type ResourceState, type SemaphoreOptions } from './semaphore.js'
import { withLease } from './with-lease.js'

/**
 * Creates the coordination API on a valkit instance: mutexes with fencing tokens, semaphores,
 * read/write locks, fenced writes. Options are validated once, here (`VALKIT_INVALID_OPTION`).
 *
 * With no Redis configured (`topology.kind === 'memory'`) everything runs in this process
 * and excludes only callers in it. With Redis, while it is unreachable a grant that cannot be
 * proven is refused (`VALKIT_UNAVAILABLE`), unless `whenUnavailable: 'local'` opts into
 * in-process leases.
 *
 * @example
 * ```ts
 * import { createValkit } from 'valkit'
 * import { createCoord } from 'valkit/coord'
 *
 * const valkit = createValkit({ url: process.env.REDIS_URL })
 * const coord = createCoord(valkit, { ttl: '15s' })
 * const result = await coord.withLock(`invoice:${id}`, async (lease) => {
 *   await db.query('UPDATE invoices SET total = $1, fence = $2 WHERE id = $3 AND fence <= $2', [total, lease.token, id])
 * })
 * if (!result.acquired) console.log('someone else is on it')
 * ```
 */
export function createCoord(valkit: Valkit, options: CoordOptions = {}): Coord {
  const resolved = resolveCoordOptions(options)
  const engine = new CoordEngine(valkit, resolved)
  let detector: DeadlockDetector | null = null
  if (resolved.deadlock !== false) {
    const graph = engine.primary.local ? memoryGraphOf(valkit) : new RedisWaitGraph(valkit)
    detector = new DeadlockDetector(
      engine,
      graph,
      resolved.deadlock.sweepIntervalMs,
      resolved.deadlock.maxHoldMs,
    )
    engine.agentHooks = detector
  }
  return new CoordImpl(engine, valkit, detector)
}

class CoordImpl implements Coord {
  #closing: Promise<void> | undefined
  readonly #elections = new Set<ElectionImpl>()
  #transactions: TransactionRunner | undefined
  constructor(
    private readonly engine: CoordEngine,
    private readonly valkit: Valkit,
    private readonly detector: DeadlockDetector | null,
  ) {}

  onStuckLock(listener: (lock: StuckLock) => void): () => void {
    return this.detector?.onStuck(listener) ?? (() => {})
  }

  acquire(resource: string, options?: AcquireOptions): Promise<AcquireResult> {
    const a = resolveAcquire(options, this.engine.options, false)
    return this.engine.acquire(waitSpec(this.engine.ref('mutex', resource), 'mutex', 'x', 1, a))
  }

  withLock<T>(
    resource: string,
    fn: (lease: Lease) => T | Promise<T>,
    options?: AcquireOptions,
  ): Promise<WithLockResult<T>> {
    const a = resolveAcquire(options, this.engine.options, true)
    return withLease(
      this.engine.acquire(waitSpec(this.engine.ref('mutex', resource), 'mutex', 'x', 1, a)),
      fn,
    )
  }

  semaphore(name: string, options: SemaphoreOptions): SemaphoreImpl {
    return new SemaphoreImpl(this.engine, name, options)
  }

  readWriteLock(name: string): ReadWriteLockImpl {
    return new ReadWriteLockImpl(this.engine, name)
  }

  election(group: string, options: ElectionOptions = {}): ElectionImpl {
    if (this.#closing !== undefined) {
      throw new ValkitError(
        'VALKIT_CLOSED',
        'This coord instance is closed; create a new one to run an election.',
      )
    }
    const election = new ElectionImpl(this.engine, group, options)
    this.#elections.add(election)
    return election
  }

  versioned(name: string): VersionedStoreImpl {
    return new VersionedStoreImpl(this.engine, this.valkit, name)
  }

  idempotency(name: string, options: IdempotencyOptions = {}): IdempotencyImpl {
    return new IdempotencyImpl(this.engine, this.valkit, name, options)
  }

  transaction(
    keys: readonly string[],
    fn: (
      reads: TransactionReads,
    ) => Promise<readonly (readonly RedisArg[])[] | null> | readonly (readonly RedisArg[])[] | null,
    options?: TransactionOptions,
  ): Promise<TransactionResult> {
    if (this.#closing !== undefined) {
      return Promise.reject(transactionClosedError())
    }
    this.#transactions ??= new TransactionRunner(this.engine, this.valkit)
    return this.#transactions.run(keys, fn, options)
  }

  fencedStore(name: string): FencedStoreImpl {
    return new FencedStoreImpl(this.engine, this.valkit, name)
  }

  async inspect(resource: string): Promise<ResourceState> {
    const state = await this.engine.primary.inspect(this.engine.ref('mutex', resource))
    return {
      holders: state.holders.map(({ owner, token, expiresInMs }) => ({ owner, token, expiresInMs })),
      queued: state.queued,
      lastToken: state.lastToken,
    }
  }

  stats(): CoordStats {
    const c = this.engine.counters
    return {
      granted: c.granted,
      busy: c.busy,
      timeouts: c.timeouts,
      aborted: c.aborted,
      errors: c.errors,
      released: c.released,
      lost: c.lost,
      extended: c.extended,
      localGrants: c.localGrants,
      deadlocksBroken: c.deadlocksBroken,
      locksRecovered: c.locksRecovered,
      fencedWritten: c.fencedWritten,
      fencedStale: c.fencedStale,
      held: this.engine.leases.size,
      waiting: this.engine.waiters.size,
    }
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      await Promise.all([...this.#elections].map((e) => e.close()))
      await this.engine.close()
      await this.detector?.close()
      await this.#transactions?.close()
    })()
    return this.#closing
  }
}
