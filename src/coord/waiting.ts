import type { AcquireResult, NotAcquiredReason } from './lease-types.js'
import type { LeaseSpec } from './lease.js'
import type { Grant, SlotBackend, SlotEvent, SlotRef } from './slot-backend.js'

/** An acquire that waits. @internal */
export interface WaitSpec extends LeaseSpec {
  readonly limit: number
  readonly waitMs: number
  readonly fair: boolean
  readonly signal: AbortSignal | undefined
  readonly agent: string | undefined
}

/** What waiters need from the engine. @internal */
export interface WaitHost {
  margin(ms: number): number
  /** Turns a grant into a lease (or, when nobody wants it any more, releases it). */
  settleGranted(waiter: Waiter, token: number, validUntil: number): void
  dispatch(backend: SlotBackend, ref: SlotRef, grants: readonly Grant[]): void
  /** Gives back a grant nobody waits for any more. */
  giveBack(backend: SlotBackend, ref: SlotRef, owner: string, spec: WaitSpec): void
  /** A waiter is done: forget it. */
  waiterDone(waiter: Waiter): void
  /** A queue has had no waiter for a while. */
  queueIdle(queue: LocalQueue): void
  /** The wait of an agent starts (deadlock detection). */
  waitStarted(waiter: Waiter): void
}

/** After an error, how soon a waiter asks again. */
const ERROR_RETRY_MS = 250
/** When nobody seems to hold the resource yet it was not granted, how soon to ask again, at most. */
const FALLBACK_RECHECK_MS = 1000
/** How long a resource's channel stays subscribed after its last local waiter left. */
const LINGER_MS = 5000

/**
 * One pending acquire. Granted by a message on the resource's channel, by the reply of a call
 * this instance made (a release hands the resource to the next local waiter directly), or by
 * its own re-check; given up at its deadline (a fair waiter withdraws from the server's queue,
 * and keeps a grant made just before).
 *
 * @internal
 */
export class Waiter {
  state: 'waiting' | 'settling' | 'done' = 'waiting'
  /** A call for this waiter is on its way. */
  inflight = false
  /** A release came while a call was on its way: the call's answer may predate it, so ask again. */
  again = false
  /** The wait ended with a lease. */
  leased = false
  /** Clock reference: local monotonic time a call was sent, and the server time of its reply. */
  refLocal: number
  refServer: number
  readonly startedAt: number
  readonly promise: Promise<AcquireResult>
  resolve!: (result: AcquireResult) => void
  reject!: (err: unknown) => void
  #deadline: NodeJS.Timeout | undefined
  #onAbort: (() => void) | undefined

  constructor(
    readonly queue: LocalQueue,
    readonly spec: WaitSpec,
    readonly owner: string,
    sentAt: number,
    serverNow: number,
  ) {
    this.refLocal = sentAt
    this.refServer = serverNow
    this.startedAt = sentAt
    this.promise = new Promise<AcquireResult>((resolve, reject) => {
      this.resolve = resolve
      this.reject = reject
    })
    const left = spec.waitMs - (performance.now() - sentAt)
    this.#deadline = setTimeout(() => void this.giveUp('timeout'), Math.max(0, left))
    if (spec.signal !== undefined) {
      this.#onAbort = () => void this.giveUp('aborted')
      spec.signal.addEventListener('abort', this.#onAbort, { once: true })
      // Aborted while the first call was on its way.
      if (spec.signal.aborted) queueMicrotask(this.#onAbort)
    }
  }

  /** A grant announced for this owner (message or another call's reply). */
  granted(grant: Grant): void {
    if (this.state === 'done') return
    const validUntil =
      this.refLocal +
      (grant.expiresAtMs - this.refServer) -
      this.queue.host.margin(grant.expiresAtMs - this.refServer)
    this.queue.host.settleGranted(this, grant.token, validUntil)
  }

  /** This waiter's own call was granted. */
  grantedDirect(token: number, sentAt: number): void {
    if (this.state === 'done') {
      // Granted twice over (a reply and a message): nothing to do. Granted after giving up: give it back.
      if (!this.leased) this.queue.host.giveBack(this.queue.backend, this.queue.ref, this.owner, this.spec)
      return
    }
    this.queue.host.settleGranted(
      this,
      token,
      sentAt + this.spec.ttlMs - this.queue.host.margin(this.spec.ttlMs),
    )
  }

  /** The deadline passed or the caller aborted; with `error`, the wait rejects with it (a deadlock). */
  async giveUp(reason: NotAcquiredReason, error?: Error): Promise<void> {
    if (this.state !== 'waiting') return
    this.state = 'settling'
    this.#clear()
    const end = (): void =>
      error === undefined ? this.finish({ acquired: false, reason }) : this.fail(error)
    if (!this.spec.fair) {
      end()
      return
    }
    const { backend, ref, host } = this.queue
    const sentAt = performance.now()
    try {
      const answer = await backend.cancel(ref, this.owner, this.spec.mode)
      host.dispatch(backend, ref, answer.grants)
      if (answer.granted !== null && (this.state as Waiter['state']) !== 'done') {
        const left = answer.granted.expiresAtMs - answer.nowMs
        host.settleGranted(this, answer.granted.token, sentAt + left - host.margin(left))
        return
      }
      end()
    } catch (err) {
      this.fail(err)
    }
  }

  /** Settles the caller's promise once. */
  finish(result: AcquireResult): void {
    if (this.state === 'done') return
    this.state = 'done'
    this.leased = result.acquired
    this.#clear()
    this.queue.leave(this)
    this.queue.host.waiterDone(this)
    this.resolve(result)
  }

  fail(err: unknown): void {
    if (this.state === 'done') return
    this.state = 'done'
    this.#clear()
    this.queue.leave(this)
    this.queue.host.waiterDone(this)
    this.reject(err)
  }

  #clear(): void {
    if (this.#deadline !== undefined) clearTimeout(this.#deadline)
    this.#deadline = undefined
    if (this.#onAbort !== undefined) this.spec.signal?.removeEventListener('abort', this.#onAbort)
    this.#onAbort = undefined
  }
}

/**
 * This instance's waiters for one resource, oldest first, and the resource's channel
 * subscription. Only the oldest re-checks when a holder's grant may have run out (in fair mode
 * its call hands the resource to whoever is first on the server); an unfair release message
 * wakes only the oldest local waiter, so one release costs one attempt per instance, not one per waiter.
 *
 * @internal
 */
export class LocalQueue {
  readonly waiters: Waiter[] = []
  #watch: 'none' | 'pending' | 'ready' = 'none'
  #readyAt = Infinity
  #recheckTimer: NodeJS.Timeout | undefined
  #recheckAt = Infinity
  #linger: NodeJS.Timeout | undefined
  readonly #listener = (event: SlotEvent): void => this.#onEvent(event)

  constructor(
    readonly host: WaitHost,
    readonly backend: SlotBackend,
    readonly ref: SlotRef,
    readonly key: string,
  ) {}

  get size(): number {
    return this.waiters.length
  }

  join(waiter: Waiter, retryInMs: number): void {
    if (this.#linger !== undefined) clearTimeout(this.#linger)
    this.#linger = undefined
    this.waiters.push(waiter)
    this.#ensureWatching()
    this.scheduleRecheck(retryInMs)
    this.host.waitStarted(waiter)
    // Subscribed, but only after this waiter's call was sent: a message may have come in between.
    if (this.#watch === 'ready' && waiter.refLocal < this.#readyAt) void this.recheck(waiter)
  }

  leave(waiter: Waiter): void {
    const i = this.waiters.indexOf(waiter)
    if (i >= 0) this.waiters.splice(i, 1)
    if (this.waiters.length > 0) return
    if (this.#recheckTimer !== undefined) clearTimeout(this.#recheckTimer)
    this.#recheckTimer = undefined
    this.#recheckAt = Infinity
    this.#linger ??= setTimeout(() => this.close(), LINGER_MS)
    this.#linger.unref()
  }

  /** Asks the server again for every waiter (fair) or the oldest (unfair): messages may have been missed. */
  recheckAll(): void {
    for (const w of this.waiters) {
      if (w.spec.fair) void this.recheck(w)
    }
    const head = this.#head()
    if (head !== undefined && !head.spec.fair) void this.recheck(head)
  }

  scheduleRecheck(retryInMs: number): void {
    if (this.waiters.length === 0) return
    const ms = retryInMs < 0 ? FALLBACK_RECHECK_MS : retryInMs + 1
    const at = performance.now() + ms
    if (this.#recheckTimer !== undefined && this.#recheckAt <= at) return
    if (this.#recheckTimer !== undefined) clearTimeout(this.#recheckTimer)
    this.#recheckAt = at
    this.#recheckTimer = setTimeout(() => {
      this.#recheckTimer = undefined
      this.#recheckAt = Infinity
      const head = this.#head()
      if (head !== undefined) void this.recheck(head)
    }, ms)
  }

  async recheck(waiter: Waiter): Promise<void> {
    if (waiter.state !== 'waiting') return
    if (waiter.inflight) {
      waiter.again = true
      return
    }
    waiter.inflight = true
    waiter.again = false
    const sentAt = performance.now()
    const { spec } = waiter
    try {
      const answer = await this.backend.acquire({
        ref: this.ref,
        owner: waiter.owner,
        mode: spec.mode,
        limit: spec.limit,
        ttlMs: spec.ttlMs,
        waitMs: Math.max(1, Math.round(spec.waitMs - (sentAt - waiter.startedAt))),
        fair: spec.fair,
        queued: spec.fair,
      })
      waiter.refLocal = sentAt
      waiter.refServer = answer.nowMs
      waiter.inflight = false
      this.host.dispatch(this.backend, this.ref, answer.grants)
      if (answer.granted) {
        waiter.grantedDirect(answer.token, sentAt)
        // Shared slots may have room for the next one too.
        if (!spec.fair && spec.mode === 's') {
          const next = this.#head()
          if (next !== undefined) void this.recheck(next)
        }
      } else if (waiter.again) {
        // A release came while this call was out: its "busy" may be older than that release.
        void this.recheck(waiter)
      } else this.scheduleRecheck(answer.retryInMs)
    } catch {
      waiter.inflight = false
      this.scheduleRecheck(ERROR_RETRY_MS)
    }
  }

  /** This instance released the resource: its oldest unfair waiter tries now (before the message comes back). */
  tryUnfairHead(): void {
    const head = this.#head()
    if (head !== undefined && !head.spec.fair) void this.recheck(head)
  }

  close(): void {
    if (this.#linger !== undefined) clearTimeout(this.#linger)
    if (this.#recheckTimer !== undefined) clearTimeout(this.#recheckTimer)
    this.#linger = undefined
    this.#recheckTimer = undefined
    if (this.waiters.length > 0) return
    if (this.#watch !== 'none') void this.backend.unwatch(this.ref, this.#listener).catch(() => undefined)
    this.#watch = 'none'
    this.host.queueIdle(this)
  }

  #head(): Waiter | undefined {
    for (const w of this.waiters) if (w.state === 'waiting' && !w.inflight) return w
    return undefined
  }

  #ensureWatching(): void {
    if (this.#watch !== 'none') return
    this.#watch = 'pending'
    this.backend.watch(this.ref, this.#listener).then(
      () => {
        this.#watch = 'ready'
        this.#readyAt = performance.now()
        // Waiters whose calls were sent before the subscription took effect may have missed a message.
        for (const w of this.waiters) if (w.refLocal < this.#readyAt && w.spec.fair) void this.recheck(w)
        const head = this.#head()
        if (head !== undefined && !head.spec.fair) void this.recheck(head)
      },
      () => {
        this.#watch = 'none'
        this.scheduleRecheck(ERROR_RETRY_MS)
      },
    )
  }

  #onEvent(event: SlotEvent): void {
    if (event.type === 'grant') {
      this.host.dispatch(this.backend, this.ref, [event.grant])
      return
    }
    const head = this.#head()
    if (head !== undefined) void this.recheck(head)
    // Every waiter has a call out: the release may be newer than their answers; they ask again.
    else for (const w of this.waiters) if (w.state === 'waiting' && w.inflight) w.again = true
  }
}
