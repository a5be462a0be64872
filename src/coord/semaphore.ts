import { ValkitError, invalidOption } from '../core/index.js'
import { resolveAcquire, waitSpec } from './acquire-options.js'
import type { CoordEngine } from './coord-engine.js'
import type { AcquireOptions, AcquireResult, Lease, WithLockResult } from './lease-types.js'
import type { SlotRef } from './slot-backend.js'
import { withLease } from './with-lease.js'

/**
 * Options of `coord.semaphore()`.
 *
 * @example
 * ```ts
 * const gpus = coord.semaphore('gpu-workers', { limit: 4 })
 * ```
 */
export interface SemaphoreOptions {
  /** How many holders at once (LLM concurrency slots, GPU workers, browser sessions). Every user of one semaphore must pass the same limit. */
  readonly limit: number
}

/** Who holds a resource now, as `inspect()` reports it. */
export interface ResourceState {
  readonly holders: readonly {
    readonly owner: string
    readonly token: number
    readonly expiresInMs: number
  }[]
  /** Fair waiters queued on the server. */
  readonly queued: number
  /** The last fencing token granted (0: none known). */
  readonly lastToken: number
}

/**
 * A counting semaphore: up to `limit` holders at once, each with its own lease (TTL, watchdog,
 * fencing token). Fair mode queues waiters first in, first out.
 *
 * @example
 * ```ts
 * const slots = coord.semaphore('llm:openai', { limit: 8 })
 * const answer = await slots.withPermit(() => callModel(prompt), { wait: '30s', fair: true })
 * if (!answer.acquired) throw new Error('all 8 model slots are busy')
 * ```
 */
export interface Semaphore {
  readonly name: string
  readonly limit: number
  /** Takes one permit, waiting up to `wait`. */
  acquire(options?: AcquireOptions): Promise<AcquireResult>
  /** Runs `fn` with one permit (the watchdog extends it while `fn` runs) and gives it back after. */
  withPermit<T>(fn: (lease: Lease) => T | Promise<T>, options?: AcquireOptions): Promise<WithLockResult<T>>
  /** The permits held now. */
  inspect(): Promise<ResourceState>
}

/** Largest semaphore limit. */
export const SEMAPHORE_MAX_LIMIT = 1_000_000

/** @internal */
export class SemaphoreImpl implements Semaphore {
  readonly #ref: SlotRef
  constructor(
    private readonly engine: CoordEngine,
    readonly name: string,
    options: SemaphoreOptions,
  ) {
    if (typeof options !== 'object' || options === null) {
      throw new ValkitError(
        'VALKIT_INVALID_ARGUMENT',
        'coord.semaphore(name, { limit }) needs options with a limit.',
      )
    }
    const limit = options.limit
    if (!Number.isSafeInteger(limit) || limit < 1 || limit > SEMAPHORE_MAX_LIMIT) {
      throw invalidOption(
        'semaphore.limit',
        `got ${String(limit)}`,
        `an integer from 1 to ${SEMAPHORE_MAX_LIMIT}`,
      )
    }
    this.limit = limit
    this.#ref = engine.ref('semaphore', name)
  }

  readonly limit: number

  acquire(options?: AcquireOptions): Promise<AcquireResult> {
    const a = resolveAcquire(options, this.engine.options, false)
    return this.engine.acquire(waitSpec(this.#ref, 'semaphore', 's', this.limit, a))
  }

  withPermit<T>(fn: (lease: Lease) => T | Promise<T>, options?: AcquireOptions): Promise<WithLockResult<T>> {
    const a = resolveAcquire(options, this.engine.options, true)
    return withLease(this.engine.acquire(waitSpec(this.#ref, 'semaphore', 's', this.limit, a)), fn)
  }

  async inspect(): Promise<ResourceState> {
    const state = await this.engine.primary.inspect(this.#ref)
    return {
      holders: state.holders.map(({ owner, token, expiresInMs }) => ({ owner, token, expiresInMs })),
      queued: state.queued,
      lastToken: state.lastToken,
    }
  }
}
