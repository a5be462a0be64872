import { resolveAcquire, waitSpec } from './acquire-options.js'
import type { CoordEngine } from './coord-engine.js'
import type { AcquireOptions, AcquireResult, Lease, WithLockResult } from './lease-types.js'
import type { ResourceState } from './semaphore.js'
import type { SlotRef } from './slot-backend.js'
import { withLease } from './with-lease.js'

/** Readers' "limit": in effect none. */
const READERS = 1_000_000_000

/**
 * A read/write lock: many readers at once, or one writer. Readers and writers of one lock
 * share one fencing counter, so a resource can reject a write from an older writer or reader.
 * In fair mode a writer queued behind readers is not overtaken by later readers; unfair mode
 * lets readers keep a writer waiting.
 *
 * @example
 * ```ts
 * const config = coord.readWriteLock('agent-config')
 * const current = await config.withRead(() => loadConfig(), { fair: true })
 * await config.withWrite(async ({ token }) => saveConfig(next, token), { fair: true })
 * ```
 */
export interface ReadWriteLock {
  readonly name: string
  acquireRead(options?: AcquireOptions): Promise<AcquireResult>
  acquireWrite(options?: AcquireOptions): Promise<AcquireResult>
  withRead<T>(fn: (lease: Lease) => T | Promise<T>, options?: AcquireOptions): Promise<WithLockResult<T>>
  withWrite<T>(fn: (lease: Lease) => T | Promise<T>, options?: AcquireOptions): Promise<WithLockResult<T>>
  /** Readers and the writer holding it now. */
  inspect(): Promise<ResourceState & { readonly writer: boolean }>
}

/** @internal */
export class ReadWriteLockImpl implements ReadWriteLock {
  readonly #ref: SlotRef
  constructor(
    private readonly engine: CoordEngine,
    readonly name: string,
  ) {
    this.#ref = engine.ref('rwlock', name)
  }

  acquireRead(options?: AcquireOptions): Promise<AcquireResult> {
    return this.#acquire('read', options, false)
  }

  acquireWrite(options?: AcquireOptions): Promise<AcquireResult> {
    return this.#acquire('write', options, false)
  }

  withRead<T>(fn: (lease: Lease) => T | Promise<T>, options?: AcquireOptions): Promise<WithLockResult<T>> {
    return withLease(this.#acquire('read', options, true), fn)
  }

  withWrite<T>(fn: (lease: Lease) => T | Promise<T>, options?: AcquireOptions): Promise<WithLockResult<T>> {
    return withLease(this.#acquire('write', options, true), fn)
  }

  async inspect(): Promise<ResourceState & { readonly writer: boolean }> {
    const state = await this.engine.primary.inspect(this.#ref)
    return {
      holders: state.holders.map(({ owner, token, expiresInMs }) => ({ owner, token, expiresInMs })),
      queued: state.queued,
      lastToken: state.lastToken,
      writer: state.holders.some((h) => h.mode === 'x'),
    }
  }

  #acquire(
    kind: 'read' | 'write',
    options: AcquireOptions | undefined,
    watchdog: boolean,
  ): Promise<AcquireResult> {
    const a = resolveAcquire(options, this.engine.options, watchdog)
    return this.engine.acquire(waitSpec(this.#ref, kind, kind === 'read' ? 's' : 'x', READERS, a))
  }
}
