import { isValkitError, ValkitError, type Duration } from '../core/index.js'
import type { CoordEngine } from './coord-engine.js'
import { durationOption } from './coord-options.js'
import type { LeaseImpl } from './lease.js'
import type { SlotRef } from './slot-backend.js'

/**
 * A leadership term, as `onElected` receives it.
 *
 * @example
 * ```ts
 * const term = await coord.election('billing-cron').elected()
 * term.signal.addEventListener('abort', () => stopWork())
 * ```
 */
export interface LeaderTerm {
  /** The election group. */
  readonly group: string
  /** This term's fencing token: larger than every earlier leader's of the group. */
  readonly token: number
  /** Aborted (reason `VALKIT_LOCK_LOST`) when the term ends for any reason but `stepDown()`/`close()`. */
  readonly signal: AbortSignal
}

/** Why a leader stopped leading. */
export type DemotionReason =
  /** The renewal failed or could not be made before the term's local expiry (paused, partitioned, Redis away). */
  | 'lost'
  /** `stepDown()` gave it up. */
  | 'stepped-down'
  /** `close()`. */
  | 'closed'

/** Options of `coord.election()`. */
export interface ElectionOptions {
  /**
   * How long a term lasts on the server unless renewed; the leader renews every third of it.
   * A crashed leader is replaced after at most this long.
   * @defaultValue the coord's `ttl` ('10s')
   */
  readonly ttl?: Duration
  /** Called when this process becomes leader. Errors it throws are ignored. */
  readonly onElected?: (term: LeaderTerm) => void
  /** Called when this process stops being leader, before the term can be granted elsewhere (drift allowance). */
  readonly onDemoted?: (reason: DemotionReason, term: LeaderTerm) => void
}

/**
 * One candidate in a leader election: lease-based, at most one leader per group. The leader
 * renews its term every third of the TTL; it is demoted as soon as a renewal fails or the
 * term's local expiry passes — the TTL minus the drift allowance (`driftFactor × ttl +
 * driftMs`), counted from before the request that granted or renewed it — so it knows it lost
 * the term before the server can grant it to anyone else. Candidates wait for the term to be
 * released (a message) or to run out; a dead candidate is never handed leadership.
 *
 * @example
 * ```ts
 * const election = coord.election('nightly-report', {
 *   onElected: ({ token }) => log.info(`leading with token ${token}`),
 *   onDemoted: (reason) => log.warn(`demoted: ${reason}`),
 * })
 * setInterval(async () => {
 *   if (!election.isLeader) return
 *   await db.query('UPDATE jobs SET ran_at = now(), fence = $1 WHERE name = $2 AND fence <= $1', [election.token, 'report'])
 * }, 60_000)
 * ```
 */
export interface Election {
  readonly group: string
  /** `true` while this process leads and the term's local expiry has not passed. Check it before acting. */
  readonly isLeader: boolean
  /** The current term's fencing token while leading, else `undefined`. */
  readonly token: number | undefined
  /** Resolves with the current term once this process leads (at once if it does). */
  elected(): Promise<LeaderTerm>
  /** Gives the term up (`onDemoted('stepped-down')`) and stays out of the election for `pause` (default: the TTL), so another candidate takes over. */
  stepDown(options?: { readonly pause?: Duration }): Promise<void>
  /** Leaves the election: gives the term up if it has it. Idempotent. */
  close(): Promise<void>
  /** The group's current term as the server has it (any candidate's), or `undefined` when nobody leads. */
  leader(): Promise<
    { readonly token: number; readonly expiresInMs: number; readonly self: boolean } | undefined
  >
}

/** How long one wait of a candidate lasts before it asks again (a long wait is not a poll: it ends early on a release). */
const CAMPAIGN_WAIT_MS = 60_000

/** @internal */
export class ElectionImpl implements Election {
  readonly #ref: SlotRef
  readonly #ttlMs: number
  #lease: LeaseImpl | null = null
  #term: LeaderTerm | null = null
  #running = true
  #campaign: AbortController | null = null
  #resumeTimer: NodeJS.Timeout | undefined
  readonly #waiting = new Set<{ resolve: (term: LeaderTerm) => void; reject: (err: unknown) => void }>()

  constructor(
    private readonly engine: CoordEngine,
    readonly group: string,
    private readonly options: ElectionOptions,
  ) {
    this.#ref = engine.ref('leader', group)
    this.#ttlMs = durationOption(options.ttl, 'election.ttl', engine.options.ttlMs)
    void this.#run()
  }

  get isLeader(): boolean {
    return this.#lease?.held === true
  }

  get token(): number | undefined {
    return this.isLeader ? this.#term?.token : undefined
  }

  elected(): Promise<LeaderTerm> {
    if (this.isLeader && this.#term !== null) return Promise.resolve(this.#term)
    if (!this.#running && this.#resumeTimer === undefined) {
      return Promise.reject(new ValkitError('VALKIT_CLOSED', 'This election was closed.'))
    }
    return new Promise((resolve, reject) => this.#waiting.add({ resolve, reject }))
  }

  async stepDown(options?: { readonly pause?: Duration }): Promise<void> {
    const pauseMs = durationOption(options?.pause, 'pause', this.#ttlMs, 0)
    this.#running = false
    this.#campaign?.abort()
    await this.#end('stepped-down')
    if (this.#resumeTimer !== undefined) clearTimeout(this.#resumeTimer)
    this.#resumeTimer = setTimeout(() => {
      this.#resumeTimer = undefined
      if (this.#closed) return
      this.#running = true
      void this.#run()
    }, pauseMs)
  }

  #closed = false

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.#running = false
    if (this.#resumeTimer !== undefined) clearTimeout(this.#resumeTimer)
    this.#resumeTimer = undefined
    this.#campaign?.abort()
    for (const waiting of this.#waiting)
      waiting.reject(new ValkitError('VALKIT_CLOSED', 'This election was closed.'))
    this.#waiting.clear()
    await this.#end('closed')
  }

  async leader(): Promise<
    { readonly token: number; readonly expiresInMs: number; readonly self: boolean } | undefined
  > {
    const state = await this.engine.primary.inspect(this.#ref)
    const holder = state.holders[0]
    if (holder === undefined) return undefined
    return { token: holder.token, expiresInMs: holder.expiresInMs, self: holder.owner === this.#lease?.owner }
  }

  async #run(): Promise<void> {
    while (this.#running) {
      const campaign = new AbortController()
      this.#campaign = campaign
      let lease: LeaseImpl
      try {
        const got = await this.engine.acquire({
          ref: this.#ref,
          kind: 'leader',
          mode: 'x',
          limit: 1,
          ttlMs: this.#ttlMs,
          waitMs: CAMPAIGN_WAIT_MS,
          fair: false,
          watchdog: true,
          maxHoldMs: 0,
          signal: campaign.signal,
          agent: undefined,
        })
        if (!got.acquired) continue
        lease = got.lease as LeaseImpl
      } catch (err) {
        // The coord instance closed (this election was made while it closed): stop for good.
        if (isValkitError(err, 'VALKIT_CLOSED')) {
          void this.close()
          return
        }
        // Redis away: no term can be proven; ask again shortly.
        if (this.#running)
          await new Promise((resolve) => setTimeout(resolve, Math.min(1000, this.#ttlMs / 4)))
        continue
      }
      if (!this.#running) {
        await lease.release().catch(() => false)
        return
      }
      await this.#lead(lease)
    }
  }

  /** Leads until the term is lost, given up or closed. */
  async #lead(lease: LeaseImpl): Promise<void> {
    const term: LeaderTerm = { group: this.group, token: lease.token, signal: lease.signal }
    this.#lease = lease
    this.#term = term
    this.engine.leading.set(this.group, 1)
    this.engine.metrics.leaderChange(this.group, 'elected')
    safely(() => this.options.onElected?.(term))
    for (const waiting of this.#waiting) waiting.resolve(term)
    this.#waiting.clear()
    await new Promise<void>((resolve) => {
      if (term.signal.aborted) resolve()
      else term.signal.addEventListener('abort', () => resolve(), { once: true })
      this.#campaign?.signal.addEventListener('abort', () => resolve(), { once: true })
    })
    if (this.#lease === lease && lease.lost) this.#demoted('lost')
  }

  async #end(reason: 'stepped-down' | 'closed'): Promise<void> {
    const lease = this.#lease
    if (lease === null) return
    this.#demoted(reason)
    await lease.release().catch(() => false)
  }

  #demoted(reason: DemotionReason): void {
    const term = this.#term
    if (term === null) return
    this.#lease = null
    this.#term = null
    this.engine.leading.set(this.group, 0)
    this.engine.metrics.leaderChange(this.group, 'demoted')
    safely(() => this.options.onDemoted?.(reason, term))
  }
}

function safely(fn: () => void): void {
  try {
    fn()
  } catch {
    // A listener's error must not stop the election.
  }
}
