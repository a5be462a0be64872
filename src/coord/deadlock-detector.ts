import { ValkitError } from '../core/index.js'
import type { AgentHooks, CoordEngine } from './coord-engine.js'
import type { LeaseImpl } from './lease.js'
import type { SlotKind, SlotRef } from './slot-backend.js'
import type { Waiter } from './waiting.js'
import type { Cycle, StuckHold, WaitGraph } from './wait-graph.js'

/**
 * A lock held longer than `deadlock.maxHold`, as reported to `coord.onStuckLock` listeners.
 *
 * @example
 * ```ts
 * coord.onStuckLock(({ kind, resource, agent, heldMs }) => alert(`${agent} held ${kind} ${resource} for ${heldMs} ms`))
 * ```
 */
export interface StuckLock {
  /** `mutex`, `semaphore`, `rwlock` or `leader`. */
  readonly kind: SlotKind
  readonly resource: string
  readonly agent: string
  /** How long it had been held when it was found. */
  readonly heldMs: number
  /** Whether it was taken back (`false`: it had been released meanwhile). */
  readonly recovered: boolean
}

const KINDS: readonly SlotKind[] = ['mutex', 'semaphore', 'rwlock', 'leader']

/** The graph's id of a lock resource. */
export function lockId(ref: SlotRef): string {
  return `${ref.kind}:${ref.resource}`
}

/**
 * Keeps the wait-for graph of this instance's agents up to date (holds, renewals, waits) and
 * breaks deadlocks: a wait that closes a cycle is searched at once, in the script that records
 * it; the newest wait closes the cycle, so its waiter is the youngest and is aborted with
 * `VALKIT_DEADLOCK`. A sweep every `sweepMs` (while this instance has agent waits or holds)
 * searches again for cycles whose records arrived in another order, and takes back locks held
 * longer than `maxHoldMs`.
 *
 * @internal
 */
export class DeadlockDetector implements AgentHooks {
  readonly #chains = new Map<string, Promise<unknown>>()
  readonly #waiting = new Map<string, { waiter: Waiter; agent: string }>()
  readonly #held = new Set<LeaseImpl>()
  readonly #stuckListeners = new Set<(lock: StuckLock) => void>()
  #timer: NodeJS.Timeout | undefined
  #watching = false
  readonly #onVictim = (agent: string, owner: string): void => {
    const entry = this.#waiting.get(owner)
    if (entry !== undefined && entry.agent === agent) this.#abort(entry.waiter, null)
  }

  constructor(
    private readonly engine: CoordEngine,
    private readonly graph: WaitGraph,
    private readonly sweepMs: number,
    private readonly maxHoldMs: number,
  ) {}

  onStuck(listener: (lock: StuckLock) => void): () => void {
    this.#stuckListeners.add(listener)
    return () => this.#stuckListeners.delete(listener)
  }

  granted(lease: LeaseImpl, agent: string): void {
    this.#held.add(lease)
    void this.#chain(lease.owner, () =>
      this.graph.noteHold('add', lockId(lease.ref), lease.owner, agent, lease.mode, lease.ttlMs),
    )
    this.#arm()
  }

  renewed(lease: LeaseImpl, agent: string, ttlMs: number): void {
    void this.#chain(lease.owner, () =>
      this.graph.noteHold('renew', lockId(lease.ref), lease.owner, agent, lease.mode, ttlMs),
    )
  }

  ended(lease: LeaseImpl, agent: string): void {
    this.#held.delete(lease)
    void this.#chain(lease.owner, () =>
      this.graph.noteHold('drop', lockId(lease.ref), lease.owner, agent, lease.mode, 0),
    ).then(() => this.#chains.delete(lease.owner))
  }

  waitStarted(waiter: Waiter, agent: string): void {
    this.#waiting.set(waiter.owner, { waiter, agent })
    this.#arm()
    void this.#watch()
    const left = waiter.spec.waitMs - (performance.now() - waiter.startedAt)
    void this.#chain(`w:${waiter.owner}`, async () => {
      const cycle = await this.graph.waitFor(agent, lockId(waiter.queue.ref), waiter.owner, left, true)
      if (cycle !== null && cycle.victimOwner === waiter.owner) this.#abort(waiter, cycle)
    })
  }

  waitEnded(waiter: Waiter, agent: string): void {
    this.#waiting.delete(waiter.owner)
    void this.#chain(`w:${waiter.owner}`, () => this.graph.endWait(agent, waiter.owner)).then(() =>
      this.#chains.delete(`w:${waiter.owner}`),
    )
  }

  /** One sweep: cycles through this instance's waits, and locks held past the maximum. */
  async sweep(): Promise<void> {
    for (const { waiter, agent } of [...this.#waiting.values()]) {
      if (waiter.state !== 'waiting') continue
      const left = waiter.spec.waitMs - (performance.now() - waiter.startedAt)
      const cycle = await this.graph
        .waitFor(agent, lockId(waiter.queue.ref), waiter.owner, left, false)
        .catch(() => null)
      if (cycle !== null && cycle.victimOwner === waiter.owner) this.#abort(waiter, cycle)
    }
    if (this.maxHoldMs > 0) {
      const stuck = await this.graph.findStuck(this.maxHoldMs).catch(() => [] as StuckHold[])
      for (const hold of stuck) await this.#recover(hold)
    }
  }

  async close(): Promise<void> {
    if (this.#timer !== undefined) clearInterval(this.#timer)
    this.#timer = undefined
    if (this.#watching) await this.graph.unwatchVictims(this.#onVictim).catch(() => undefined)
    await Promise.allSettled([...this.#chains.values()])
  }

  async #recover(hold: StuckHold): Promise<void> {
    const colon = hold.lock.indexOf(':')
    const kind = hold.lock.slice(0, colon) as SlotKind
    if (!KINDS.includes(kind)) return
    const ref = this.engine.ref(kind, hold.lock.slice(colon + 1))
    const answer = await this.engine.primary.release(ref, hold.owner, hold.mode).catch(() => undefined)
    this.engine.dispatch(this.engine.primary, ref, answer?.grants ?? [])
    await this.graph.noteHold('drop', hold.lock, hold.owner, hold.agent, hold.mode, 0).catch(() => undefined)
    const recovered = answer?.released === true
    if (recovered) {
      this.engine.counters.locksRecovered++
      this.engine.metrics.lockRecovered()
    }
    const report: StuckLock = {
      kind,
      resource: ref.resource,
      agent: hold.agent,
      heldMs: Date.now() - hold.sinceMs,
      recovered,
    }
    this.engine.valkit.logger.warn(
      `coord: ${kind} "${ref.resource}" held by agent ${hold.agent} for ${report.heldMs} ms, past maxHold; ${recovered ? 'taken back' : 'already released'}`,
      {
        kind,
        resource: ref.resource,
        agent: hold.agent,
      },
    )
    for (const listener of this.#stuckListeners) {
      try {
        listener(report)
      } catch {
        // A listener's error does not stop the sweep.
      }
    }
  }

  #abort(waiter: Waiter, cycle: Cycle | null): void {
    if (waiter.state !== 'waiting') return
    this.engine.counters.deadlocksBroken++
    this.engine.metrics.deadlockBroken()
    const path =
      cycle?.members.map((m) => `${m.agent} waits for ${m.lock}`).join(', ') ?? 'found by another instance'
    void waiter.giveUp(
      'aborted',
      new ValkitError(
        'VALKIT_DEADLOCK',
        `The wait for "${waiter.queue.ref.resource}" was aborted to break a deadlock (${path}): it was the youngest waiter of the cycle. Release what the agent holds and retry, or take locks in one order.`,
        { details: { resource: waiter.queue.ref.resource, cycle: cycle?.members ?? [] } },
      ),
    )
  }

  #chain<T>(key: string, step: () => Promise<T>): Promise<unknown> {
    const next = (this.#chains.get(key) ?? Promise.resolve()).then(step).catch(() => undefined)
    this.#chains.set(key, next)
    return next
  }

  async #watch(): Promise<void> {
    if (this.#watching) return
    this.#watching = true
    await this.graph.watchVictims(this.#onVictim).catch(() => {
      this.#watching = false
    })
  }

  /** The sweep runs while this instance has agent waits or holds. */
  #arm(): void {
    if (this.#timer !== undefined) return
    this.#timer = setInterval(() => {
      if (this.#waiting.size === 0 && this.#held.size === 0) {
        clearInterval(this.#timer)
        this.#timer = undefined
        return
      }
      void this.sweep()
    }, this.sweepMs)
    this.#timer.unref()
  }
}
