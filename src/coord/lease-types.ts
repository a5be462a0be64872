import type { Duration } from '../core/index.js'

/**
 * A grant held by this process: a mutex, a semaphore permit, a read or write slot, or a
 * leadership term. Its `token` is the fencing token: pass it to whatever the lock protects and
 * have that resource reject a write whose token is lower than one it has already seen
 * (`coord.fencedStore()`, or the SQL in docs/coord.md).
 *
 * @example
 * ```ts
 * const got = await coord.acquire('invoice:42', { ttl: '30s' })
 * if (got.acquired) {
 *   try { await db.saveInvoice(invoice, { fence: got.lease.token }) }
 *   finally { await got.lease.release() }
 * }
 * ```
 */
export interface Lease {
  /** The resource name given to `acquire`. */
  readonly resource: string
  /** `mutex`, `semaphore`, `read`, `write` or `leader`. */
  readonly kind: LeaseKind
  /**
   * The fencing token: strictly larger than every token granted before for this resource
   * (`max(last + 1, server time in µs)`, a safe integer). Only the order means something.
   */
  readonly token: number
  /** The owner id this grant is recorded under on the server (unique per grant). */
  readonly owner: string
  /** `true` for an in-process lease granted while Redis was down (`whenUnavailable: 'local'`). */
  readonly local: boolean
  /**
   * `true` until the lease is released, found lost, or its local expiry passes: the grant's
   * TTL counted from before the request was sent, minus the drift allowance. While it is
   * `false` nothing guarantees exclusivity any more; the fencing token still protects writes.
   */
  readonly held: boolean
  /** Milliseconds left until the local expiry (`0` once it passed or the lease ended). */
  readonly remainingMs: number
  /**
   * Aborted (with a `VALKIT_LOCK_LOST` reason) when the lease is lost: an extension found
   * another owner, the local expiry passed without a renewal, or Redis stayed unreachable
   * until then. Not aborted by `release()`.
   */
  readonly signal: AbortSignal
  /**
   * Gives the grant a fresh TTL (default: the one it was acquired with), one round trip.
   * Resolves `false` (and aborts `signal`) when the server no longer has this owner.
   */
  extend(ttl?: Duration): Promise<boolean>
  /**
   * Gives the grant back and hands it to the next waiter. Resolves `false` when it had already
   * run out (someone else may hold it now). Idempotent.
   */
  release(): Promise<boolean>
  /** Releases (for `await using`). */
  [Symbol.asyncDispose](): Promise<void>
}

/** What a {@link Lease} holds. */
export type LeaseKind = 'mutex' | 'semaphore' | 'read' | 'write' | 'leader'

/** Why an acquire was not granted. */
export type NotAcquiredReason =
  /** `wait: 0` and the resource was held. */
  | 'busy'
  /** The wait ran out. */
  | 'timeout'
  /** The caller's `signal` aborted the wait. */
  | 'aborted'

/**
 * What `acquire` resolves with: a lease, or why there is none. Not being granted is a result, not an error.
 *
 * @example
 * ```ts
 * const got = await coord.acquire('sync:crm', { wait: 0 })
 * if (!got.acquired) return got.reason // 'busy'
 * ```
 */
export type AcquireResult =
  | { readonly acquired: true; readonly lease: Lease }
  | { readonly acquired: false; readonly reason: NotAcquiredReason }

/**
 * What `withLock` and its relatives resolve with.
 *
 * @example
 * ```ts
 * const r = await coord.withLock('sync:crm', () => syncCrm())
 * if (r.acquired) console.log(r.value, r.token)
 * ```
 */
export type WithLockResult<T> =
  | { readonly acquired: true; readonly value: T; readonly token: number }
  | { readonly acquired: false; readonly reason: NotAcquiredReason }

/**
 * Per-call options of every acquire (mutex, semaphore, read/write lock). Defaults come from the coord's options.
 *
 * @example
 * ```ts
 * await coord.acquire('doc:9', { ttl: '20s', wait: '2s', fair: true, watchdog: true, maxHold: '10m', agent: 'agent-7' })
 * ```
 */
export interface AcquireOptions {
  /** Time to live of the grant. @defaultValue the coord's `ttl` ('10s') */
  readonly ttl?: Duration
  /** How long to wait; `0` tries once. @defaultValue the coord's `wait` ('10s') */
  readonly wait?: Duration
  /** First in, first out on the server. @defaultValue the coord's `fair` (false) */
  readonly fair?: boolean
  /**
   * Keep extending the grant (every third of its TTL) until it is released. `withLock` turns it
   * on by default; with `acquire` the caller must release, or `maxHold` ends it.
   * @defaultValue false for acquire, true for withLock
   */
  readonly watchdog?: boolean
  /**
   * With the watchdog: stop extending after this long, so a forgotten lease frees itself.
   * @defaultValue none
   */
  readonly maxHold?: Duration
  /** Aborts the wait (`reason: 'aborted'`). */
  readonly signal?: AbortSignal
  /**
   * Who asks, for deadlock detection across resources: an agent, a session, a job id. The
   * same agent may hold several locks; when its wait would close a cycle of agents waiting for
   * each other, the youngest waiter of the cycle is aborted with `VALKIT_DEADLOCK`.
   * @defaultValue none (no deadlock detection for this call)
   */
  readonly agent?: string
}
