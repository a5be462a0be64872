import { ValkitError, type Duration } from '../core/index.js'
import { durationOption } from './coord-options.js'
import type { Lease, LeaseKind } from './lease-types.js'
import type { SlotBackend, SlotMode, SlotRef } from './slot-backend.js'

/** What a lease needs from the engine that made it. @internal */
export interface LeaseHost {
  /** The drift allowance for a grant that lasts `ms` (server time). */
  margin(ms: number): number
  /** A lease was extended (the deadlock detector renews its record). */
  renewed(lease: LeaseImpl, ttlMs: number): void
  /** A lease's release was just sent: an unfair local waiter of the resource may try now. */
  released(backend: SlotBackend, ref: SlotRef): void
  /** A lease ended (released or lost): stop counting it as held. */
  ended(lease: LeaseImpl, how: 'released' | 'lost'): void
  /** Grants another call made to this instance's waiters. */
  dispatch(
    backend: SlotBackend,
    ref: SlotRef,
    grants: readonly { owner: string; token: number; expiresAtMs: number }[],
  ): void
  readonly counters: { extended: number; extendFailures: number }
}

/** How a lease was granted. @internal */
export interface LeaseSpec {
  readonly ref: SlotRef
  readonly kind: LeaseKind
  readonly mode: SlotMode
  readonly ttlMs: number
  readonly watchdog: boolean
  /** `0`: no limit. */
  readonly maxHoldMs: number
}

/** How soon a failed extension is tried again, at most. */
const RETRY_MS = 200

/**
 * A grant held by this process. `validUntil` is on the monotonic clock (`performance.now()`),
 * which keeps counting while the process is stopped, so a holder that was paused past its
 * grant sees `held === false` as soon as it runs again.
 *
 * @internal
 */
export class LeaseImpl implements Lease {
  readonly resource: string
  readonly kind: LeaseKind
  readonly local: boolean
  #state: 'held' | 'released' | 'lost' = 'held'
  #validUntil: number
  #controller: AbortController | undefined
  #expiryTimer: NodeJS.Timeout | undefined
  #watchdogTimer: NodeJS.Timeout | undefined
  #releasing: Promise<boolean> | undefined
  /** The watchdog may extend (false once the coord instance closed). */
  #renewing = true
  readonly #grantedAt = performance.now()

  constructor(
    private readonly host: LeaseHost,
    private readonly backend: SlotBackend,
    private readonly spec: LeaseSpec,
    readonly owner: string,
    readonly token: number,
    validUntil: number,
  ) {
    this.resource = spec.ref.resource
    this.kind = spec.kind
    this.local = backend.local
    this.#validUntil = validUntil
    if (spec.watchdog) this.#scheduleWatchdog(spec.ttlMs / 3)
  }

  /** The resource, its mode and TTL (for the deadlock detector). */
  get ref(): SlotRef {
    return this.spec.ref
  }

  get mode(): SlotMode {
    return this.spec.mode
  }

  get ttlMs(): number {
    return this.spec.ttlMs
  }

  get held(): boolean {
    return this.#state === 'held' && performance.now() < this.#validUntil
  }

  get remainingMs(): number {
    return this.#state === 'held' ? Math.max(0, this.#validUntil - performance.now()) : 0
  }

  /** The lease was lost (not released by its holder). */
  get lost(): boolean {
    return this.#state === 'lost'
  }

  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController()
      if (this.#state === 'lost') this.#abort('its grant ran out')
      else if (this.#state === 'held') this.#armExpiry()
    }
    return this.#controller.signal
  }

  async extend(ttl?: Duration): Promise<boolean> {
    if (this.#state !== 'held') return false
    const ttlMs = ttl === undefined ? this.spec.ttlMs : durationOption(ttl, 'ttl', this.spec.ttlMs)
    return this.#extend(ttlMs)
  }

  release(): Promise<boolean> {
    this.#releasing ??= this.#release()
    return this.#releasing
  }

  /** What a lease shows when logged: its public facts, never the engine behind it. */
  toJSON(): Record<string, unknown> {
    return {
      resource: this.resource,
      kind: this.kind,
      token: this.token,
      owner: this.owner,
      local: this.local,
      held: this.held,
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.release()
  }

  /** The coord instance closed: no more extensions; the lease expires at its TTL unless released. */
  stopRenewing(): void {
    this.#renewing = false
    if (this.#watchdogTimer !== undefined) clearTimeout(this.#watchdogTimer)
    this.#watchdogTimer = undefined
  }

  /** Marks the lease lost: aborts `signal`, stops the watchdog. */
  markLost(why: string): void {
    if (this.#state !== 'held') return
    this.#state = 'lost'
    this.#stopTimers()
    this.#abort(why)
    this.host.ended(this, 'lost')
  }

  async #extend(ttlMs: number): Promise<boolean> {
    const sentAt = performance.now()
    const answer = await this.backend.extend(this.spec.ref, this.owner, this.spec.mode, ttlMs)
    if (!answer.extended) {
      this.host.counters.extendFailures++
      this.markLost('the server no longer has this owner (its grant ran out and may be held by another)')
      return false
    }
    this.host.counters.extended++
    this.host.renewed(this, ttlMs)
    if (this.#state === 'held' && answer.confirmed) {
      this.#validUntil = Math.max(this.#validUntil, sentAt + ttlMs - this.host.margin(ttlMs))
      if (this.#expiryTimer !== undefined) this.#armExpiry()
    }
    return this.#state === 'held'
  }

  async #release(): Promise<boolean> {
    const wasHeld = this.#state === 'held'
    this.#stopTimers()
    if (wasHeld) this.#state = 'released'
    try {
      const released = this.backend.release(this.spec.ref, this.owner, this.spec.mode)
      // An unfair local waiter asks right behind the release. Not in this turn: an acquire batch
      // opened earlier in it would carry the ask ahead of the release (batches go out in the
      // order they opened), to be refused. The release's "free" message stays the wake-up of
      // last resort (a release retried after NOSCRIPT or a redirection runs after the ask).
      if (wasHeld) setImmediate(() => this.host.released(this.backend, this.spec.ref))
      const answer = await released
      this.host.dispatch(this.backend, this.spec.ref, answer.grants)
      return answer.released
    } finally {
      if (wasHeld) this.host.ended(this, 'released')
    }
  }

  #armExpiry(): void {
    if (this.#expiryTimer !== undefined) clearTimeout(this.#expiryTimer)
    const left = this.#validUntil - performance.now()
    this.#expiryTimer = setTimeout(
      () => {
        this.#expiryTimer = undefined
        if (this.#state !== 'held') return
        if (performance.now() >= this.#validUntil) this.markLost('its grant ran out before it was extended')
        else this.#armExpiry()
      },
      Math.max(0, left),
    )
    this.#expiryTimer.unref()
  }

  #scheduleWatchdog(inMs: number): void {
    if (!this.#renewing) return
    this.#watchdogTimer = setTimeout(() => void this.#watch(), Math.max(1, inMs))
    this.#watchdogTimer.unref?.()
  }

  async #watch(): Promise<void> {
    this.#watchdogTimer = undefined
    if (this.#state !== 'held' || !this.#renewing) return
    if (this.spec.maxHoldMs > 0 && performance.now() - this.#grantedAt >= this.spec.maxHoldMs) return
    try {
      if (await this.#extend(this.spec.ttlMs)) this.#scheduleWatchdog(this.spec.ttlMs / 3)
    } catch {
      // Unreachable or slow: try again soon; the lease is lost once its local expiry passes.
      if (this.#state !== 'held') return
      if (performance.now() >= this.#validUntil) {
        this.markLost('Redis/Valkey stayed unreachable until its grant ran out')
        return
      }
      this.#scheduleWatchdog(Math.min(RETRY_MS, this.spec.ttlMs / 10))
    }
  }

  #stopTimers(): void {
    if (this.#expiryTimer !== undefined) clearTimeout(this.#expiryTimer)
    if (this.#watchdogTimer !== undefined) clearTimeout(this.#watchdogTimer)
    this.#expiryTimer = undefined
    this.#watchdogTimer = undefined
  }

  #abort(why: string): void {
    if (this.#controller === undefined || this.#controller.signal.aborted) return
    this.#controller.abort(
      new ValkitError('VALKIT_LOCK_LOST', `The ${this.kind} lease on "${this.resource}" was lost: ${why}.`, {
        details: { resource: this.resource, kind: this.kind, token: this.token },
      }),
    )
  }
}
