import { randomBytes } from 'node:crypto'
import { ValkitError, isValkitError, type Valkit } from '../core/index.js'
import type { ResolvedCoordOptions } from './coord-options.js'
import { registerCoordMetrics, type CoordCounters, type CoordMetrics } from './coord-metrics.js'
import { LeaseImpl, type LeaseHost } from './lease.js'
import type { AcquireResult, LeaseKind } from './lease-types.js'
import { MemorySlots, lockTableOf } from './memory-slots.js'
import { RedisSlots } from './redis-slots.js'
import type { AcquireAnswer, Grant, SlotBackend, SlotKind, SlotRef } from './slot-backend.js'
import { LocalQueue, Waiter, type WaitHost, type WaitSpec } from './waiting.js'

/** Hooks of the deadlock detector into waits and leases. @internal */
export interface AgentHooks {
  granted(lease: LeaseImpl, agent: string): void
  renewed(lease: LeaseImpl, agent: string, ttlMs: number): void
  ended(lease: LeaseImpl, agent: string): void
  waitStarted(waiter: Waiter, agent: string): void
  waitEnded(waiter: Waiter, agent: string): void
}

const RESOURCE_MAX = 512

/** What the first call of an acquire found. */
interface FirstCall {
  readonly backend: SlotBackend
  readonly answer: AcquireAnswer
  readonly sentAt: number
  /** A grant dispatched for this owner before the reply was handled. */
  readonly early: Grant | null
}

/**
 * The state of one coord instance: its owner-id prefix, its backends (Redis/Valkey or memory,
 * and the opt-in in-process fallback), its waiters and leases, counters and metrics.
 *
 * @internal
 */
export class CoordEngine implements LeaseHost, WaitHost {
  /** Every owner id of this instance starts with it, so a script can tell our waiters from others'. */
  readonly prefix = `${randomBytes(6).toString('base64url')}.`
  readonly primary: SlotBackend
  readonly fallback: SlotBackend | null
  readonly counters: CoordCounters = {
    granted: 0,
    busy: 0,
    timeouts: 0,
    aborted: 0,
    errors: 0,
    released: 0,
    lost: 0,
    extended: 0,
    extendFailures: 0,
    localGrants: 0,
    deadlocksBroken: 0,
    locksRecovered: 0,
    fencedWritten: 0,
    fencedStale: 0,
  }
  readonly metrics: CoordMetrics
  readonly waiters = new Map<string, Waiter>()
  readonly leases = new Map<string, LeaseImpl>()
  /** Leadership per election group (1 while this instance leads it). */
  readonly leading = new Map<string, number>()
  agentHooks: AgentHooks | null = null
  readonly #queues = new Map<string, LocalQueue>()
  readonly #agents = new WeakMap<LeaseImpl | Waiter, string>()
  readonly #early = new Map<string, Grant | null>()
  /** First acquire calls on their way, with what they do after the reply (close waits for them). */
  #firstCalls = 0
  #drained: (() => void) | undefined
  #seq = 0
  #closed = false
  readonly #unhook: () => void

  constructor(
    readonly valkit: Valkit,
    readonly options: ResolvedCoordOptions,
  ) {
    const table = lockTableOf(valkit)
    if (valkit.config.topology.kind === 'memory') {
      this.primary = new MemorySlots(table, this.prefix)
      this.fallback = null
    } else {
      this.primary = new RedisSlots(valkit, options, this.prefix)
      this.fallback = options.whenUnavailable === 'local' ? new MemorySlots(table, this.prefix) : null
    }
    const unhook = this.primary.onResubscribe(() => {
      for (const q of this.#queues.values()) q.recheckAll()
    })
    this.#unhook = unhook
    this.metrics = registerCoordMetrics(valkit.metrics, {
      held: () => countBy(this.leases.values(), (l) => l.kind),
      waiting: () => countBy(this.waiters.values(), (w) => w.spec.kind),
      leaders: () => this.leading,
    })
  }

  /** A resource reference; throws `VALKIT_INVALID_ARGUMENT` for a name that cannot be a hash tag. */
  ref(kind: SlotKind, resource: string): SlotRef {
    if (
      typeof resource !== 'string' ||
      resource.length === 0 ||
      resource.length > RESOURCE_MAX ||
      /[{}\t\n]/.test(resource)
    ) {
      throw new ValkitError(
        'VALKIT_INVALID_ARGUMENT',
        `Invalid resource name ${JSON.stringify(typeof resource === 'string' ? resource.slice(0, 40) : resource)}: expected 1-${RESOURCE_MAX} characters without braces, tabs or newlines.`,
        { details: { argument: 'resource' } },
      )
    }
    return { kind, resource, id: `${kind}\u0000${resource}` }
  }

  nextOwner(): string {
    return this.prefix + (this.#seq++).toString(36)
  }

  margin(ms: number): number {
    return ms * this.options.driftFactor + this.options.driftMs
  }

  /** One acquire: granted at once, refused (`wait: 0`), or a wait. */
  async acquire(spec: WaitSpec): Promise<AcquireResult> {
    if (this.#closed)
      throw new ValkitError('VALKIT_CLOSED', 'This coord instance is closed; create a new one.')
    if (spec.signal?.aborted) return this.#count(spec.kind, { acquired: false, reason: 'aborted' })
    const owner = this.nextOwner()
    this.#firstCalls++
    let firstCall: FirstCall
    try {
      firstCall = await this.#first(spec, owner)
    } finally {
      if (--this.#firstCalls === 0) this.#drained?.()
    }
    const { backend, answer, sentAt, early } = firstCall
    this.dispatch(backend, spec.ref, answer.grants)
    if (answer.granted) {
      const lease = this.#lease(
        backend,
        spec,
        owner,
        answer.token,
        sentAt + spec.ttlMs - this.margin(spec.ttlMs),
      )
      return this.#count(spec.kind, { acquired: true, lease })
    }
    if (spec.waitMs === 0) return this.#count(spec.kind, { acquired: false, reason: 'busy' })
    const queue = this.#queue(backend, spec.ref)
    const waiter = new Waiter(queue, spec, owner, sentAt, answer.nowMs)
    this.waiters.set(owner, waiter)
    if (spec.agent !== undefined) this.#agents.set(waiter, spec.agent)
    queue.join(waiter, answer.retryInMs)
    if (early !== null) waiter.granted(early)
    const result = await waiter.promise.catch((err: unknown) => {
      this.counters.errors++
      this.metrics.acquire(spec.kind, 'error')
      throw err
    })
    if (result.acquired) this.metrics.waited(spec.kind, (performance.now() - sentAt) / 1000)
    return this.#count(spec.kind, result)
  }

  /** The first call of an acquire (with the in-process fallback); undone if the instance closed meanwhile. */
  async #first(spec: WaitSpec, owner: string): Promise<FirstCall> {
    let backend = this.#pick()
    const call = {
      ref: spec.ref,
      owner,
      mode: spec.mode,
      limit: spec.limit,
      ttlMs: spec.ttlMs,
      waitMs: spec.waitMs,
      fair: spec.fair,
      queued: false,
    }
    let sentAt = performance.now()
    let answer: AcquireAnswer
    // A grant for this owner can be dispatched (from another call's reply or a message) before
    // this call's own reply is processed: it is kept here until the waiter exists.
    this.#early.set(owner, null)
    try {
      try {
        answer = await backend.acquire(call)
      } catch (err) {
        if (this.fallback === null || backend === this.fallback || !unreachable(err)) throw err
        backend = this.fallback
        sentAt = performance.now()
        answer = await backend.acquire(call)
      }
    } catch (err) {
      this.#early.delete(owner)
      this.counters.errors++
      this.metrics.acquire(spec.kind, 'error')
      throw err
    }
    const early = this.#early.get(owner) ?? null
    this.#early.delete(owner)
    if (this.#closed) {
      // Closed while the call was on its way: undo what it did on the server.
      if (answer.granted || early !== null)
        await backend.release(spec.ref, owner, spec.mode).catch(() => undefined)
      else if (spec.fair && spec.waitMs > 0)
        await backend.cancel(spec.ref, owner, spec.mode).catch(() => undefined)
      throw new ValkitError(
        'VALKIT_CLOSED',
        'The coord instance was closed while this acquire was on its way.',
      )
    }
    return { backend, answer, sentAt, early }
  }

  settleGranted(waiter: Waiter, token: number, validUntil: number): void {
    if (waiter.state === 'done') return
    const lease = this.#lease(waiter.queue.backend, waiter.spec, waiter.owner, token, validUntil)
    waiter.finish({ acquired: true, lease })
  }

  dispatch(backend: SlotBackend, ref: SlotRef, grants: readonly Grant[]): void {
    for (const grant of grants) {
      const waiter = this.waiters.get(grant.owner)
      if (waiter !== undefined) {
        waiter.granted(grant)
        continue
      }
      if (this.#early.has(grant.owner)) {
        this.#early.set(grant.owner, grant)
        continue
      }
      // A grant for one of ours that nobody waits for (its wait ended): give it back.
      if (grant.owner.startsWith(this.prefix) && !this.leases.has(grant.owner)) {
        void (async () => {
          const first = await backend.release(ref, grant.owner, 'x')
          const answer = first.released ? first : await backend.release(ref, grant.owner, 's')
          this.dispatch(backend, ref, [...first.grants, ...(answer === first ? [] : answer.grants)])
        })().catch(() => undefined)
      }
    }
  }

  giveBack(backend: SlotBackend, ref: SlotRef, owner: string, spec: WaitSpec): void {
    void backend
      .release(ref, owner, spec.mode)
      .then((answer) => this.dispatch(backend, ref, answer.grants))
      .catch(() => undefined)
  }

  waiterDone(waiter: Waiter): void {
    this.waiters.delete(waiter.owner)
    const agent = this.#agents.get(waiter)
    if (agent !== undefined) this.agentHooks?.waitEnded(waiter, agent)
  }

  waitStarted(waiter: Waiter): void {
    const agent = this.#agents.get(waiter)
    if (agent !== undefined) this.agentHooks?.waitStarted(waiter, agent)
  }

  queueIdle(queue: LocalQueue): void {
    if (this.#queues.get(queue.key) === queue) this.#queues.delete(queue.key)
  }

  renewed(lease: LeaseImpl, ttlMs: number): void {
    const agent = this.#agents.get(lease)
    if (agent !== undefined) this.agentHooks?.renewed(lease, agent, ttlMs)
  }

  released(backend: SlotBackend, ref: SlotRef): void {
    this.#queues.get(`${backend === this.primary ? 'p' : 'f'}\u0000${ref.id}`)?.tryUnfairHead()
  }

  ended(lease: LeaseImpl, how: 'released' | 'lost'): void {
    this.leases.delete(lease.owner)
    if (how === 'released') {
      this.counters.released++
      this.metrics.released(lease.kind)
    } else {
      this.counters.lost++
      this.metrics.lost(lease.kind)
    }
    const agent = this.#agents.get(lease)
    if (agent !== undefined) this.agentHooks?.ended(lease, agent)
  }

  /** The agent a lease or waiter belongs to, if any. */
  agentOf(item: LeaseImpl | Waiter): string | undefined {
    return this.#agents.get(item)
  }

  /** Fails pending waits with `VALKIT_CLOSED`; fair waiters first leave the server's queue (best effort). */
  async close(): Promise<void> {
    this.#closed = true
    this.#unhook()
    // Held leases are not released (their holders may still be working) but no longer extended:
    // they expire at their TTL unless released.
    for (const lease of this.leases.values()) lease.stopRenewing()
    // First calls on their way undo themselves when they come back (see `acquire`).
    if (this.#firstCalls > 0) await new Promise<void>((resolve) => (this.#drained = resolve))
    const waiting = [...this.waiters.values()]
    await Promise.all(
      waiting.map(async (waiter) => {
        if (!waiter.spec.fair || waiter.state !== 'waiting') return
        const { backend, ref } = waiter.queue
        const answer = await backend.cancel(ref, waiter.owner, waiter.spec.mode).catch(() => undefined)
        if (answer?.granted) await backend.release(ref, waiter.owner, waiter.spec.mode).catch(() => undefined)
      }),
    )
    for (const waiter of waiting) {
      waiter.fail(
        new ValkitError('VALKIT_CLOSED', 'The coord instance was closed while this acquire waited.'),
      )
    }
    for (const q of [...this.#queues.values()]) q.close()
    this.metrics.detach()
  }

  #lease(backend: SlotBackend, spec: WaitSpec, owner: string, token: number, validUntil: number): LeaseImpl {
    const lease = new LeaseImpl(this, backend, spec, owner, token, validUntil)
    this.leases.set(owner, lease)
    if (backend.local && backend === this.fallback) this.counters.localGrants++
    if (spec.agent !== undefined) {
      this.#agents.set(lease, spec.agent)
      this.agentHooks?.granted(lease, spec.agent)
    }
    return lease
  }

  #queue(backend: SlotBackend, ref: SlotRef): LocalQueue {
    const key = `${backend === this.primary ? 'p' : 'f'}\u0000${ref.id}`
    let queue = this.#queues.get(key)
    if (queue === undefined) this.#queues.set(key, (queue = new LocalQueue(this, backend, ref, key)))
    return queue
  }

  #pick(): SlotBackend {
    if (this.fallback !== null && this.valkit.supervisor.backend === 'memory') return this.fallback
    return this.primary
  }

  #count(kind: LeaseKind, result: AcquireResult): AcquireResult {
    if (result.acquired) {
      this.counters.granted++
      this.metrics.acquire(kind, 'granted')
    } else {
      const reason = result.reason
      if (reason === 'busy') this.counters.busy++
      else if (reason === 'timeout') this.counters.timeouts++
      else this.counters.aborted++
      this.metrics.acquire(kind, reason)
    }
    return result
  }
}

function unreachable(err: unknown): boolean {
  return isValkitError(err, 'VALKIT_UNAVAILABLE') || isValkitError(err, 'VALKIT_TIMEOUT')
}

function countBy<T>(items: Iterable<T>, key: (item: T) => LeaseKind): Map<LeaseKind, number> {
  const out = new Map<LeaseKind, number>()
  for (const item of items) out.set(key(item), (out.get(key(item)) ?? 0) + 1)
  return out
}
