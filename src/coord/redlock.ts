import { ValkitError, invalidOption, type Duration, type Valkit } from '../core/index.js'
import { resolveAcquire, waitSpec } from './acquire-options.js'
import { CoordEngine } from './coord-engine.js'
import { durationOption, resolveCoordOptions, type CoordOptions } from './coord-options.js'
import type { LeaseImpl } from './lease.js'
import type { AcquireResult, Lease, NotAcquiredReason, WithLockResult } from './lease-types.js'
import type { SlotRef } from './slot-backend.js'
import type { WaitSpec } from './waiting.js'
import { withLease } from './with-lease.js'

/**
 * Options of {@link createRedlock}. `ttl`, `wait`, `driftFactor`, `driftMs` and
 * `fenceRetention` mean what they mean for `createCoord`.
 *
 * @example
 * ```ts
 * createRedlock([a, b, c], { ttl: '30s', wait: '5s', retryDelay: '100ms' })
 * ```
 */
export interface RedlockOptions extends Pick<
  CoordOptions,
  'ttl' | 'wait' | 'driftFactor' | 'driftMs' | 'fenceRetention'
> {
  /**
   * The mean pause between two attempts while the lock is held elsewhere; each pause is drawn
   * between half and one and a half of it, so contenders do not retry in step.
   * @defaultValue '50ms'
   */
  readonly retryDelay?: Duration
}

/**
 * Per-call options of a Redlock acquire. There is no `fair` (no server keeps a queue across the
 * others) and no `agent` (deadlock detection lives on one server).
 *
 * @example
 * ```ts
 * await redlock.acquire('report:daily', { ttl: '1m', wait: 0 })
 * ```
 */
export interface RedlockAcquireOptions {
  /** Time to live of the grant on every server. @defaultValue the Redlock's `ttl` ('10s') */
  readonly ttl?: Duration
  /** How long to keep trying; `0` tries once. @defaultValue the Redlock's `wait` ('10s') */
  readonly wait?: Duration
  /**
   * Keep extending the grant on every server that has it (every third of its TTL) until it is
   * released. @defaultValue false for acquire, true for withLock
   */
  readonly watchdog?: boolean
  /** With the watchdog: stop extending after this long. @defaultValue none */
  readonly maxHold?: Duration
  /** Ends the wait (`reason: 'aborted'`). */
  readonly signal?: AbortSignal
}

/** Counters of one Redlock instance. */
export interface RedlockStats {
  readonly granted: number
  readonly busy: number
  readonly timeouts: number
  readonly aborted: number
  /** Acquires refused because too few servers answered (`VALKIT_UNAVAILABLE`). */
  readonly unavailable: number
  /** Rounds of grant requests sent to every server. */
  readonly attempts: number
  /** Rounds that got grants from some servers but fewer than a quorum (given back). */
  readonly quorumMisses: number
  readonly released: number
  readonly lost: number
  /** Quorum leases held now. */
  readonly held: number
}

/**
 * A mutex over several independent Redis/Valkey servers (the Redlock scheme): granted when a
 * majority of them grant it within its TTL, with a fencing token agreed over that majority.
 *
 * @example
 * ```ts
 * const got = await redlock.acquire('invoice:42')
 * if (got.acquired) {
 *   try { await db.save(invoice, { fence: got.lease.token }) } finally { await got.lease.release() }
 * }
 * ```
 */
export interface Redlock {
  /** How many servers it runs over. */
  readonly servers: number
  /** How many of them must grant: a majority, `floor(servers / 2) + 1`. */
  readonly quorum: number
  /**
   * Asks every server at once for `resource`; granted when a quorum granted and agreed on the
   * token before the grant's validity ran out; otherwise gives back what it got and tries again
   * after a jittered pause until `wait` runs out. Rejects with `VALKIT_UNAVAILABLE` (fail
   * closed) when too few servers answer for a quorum to be possible.
   */
  acquire(resource: string, options?: RedlockAcquireOptions): Promise<AcquireResult>
  /** Runs `fn(lease)` holding the lock (watchdog on), releases it after; as `coord.withLock`. */
  withLock<T>(
    resource: string,
    fn: (lease: Lease) => T | Promise<T>,
    options?: RedlockAcquireOptions,
  ): Promise<WithLockResult<T>>
  stats(): RedlockStats
  /** Withdraws pending acquires (`VALKIT_CLOSED`) and stops watchdogs; held grants expire unless released. */
  close(): Promise<void>
}

const SERVERS_MAX = 15

/**
 * Creates a Redlock over independent Redis/Valkey servers, one valkit instance per server
 * (standalone, Sentinel or Cluster each; the memory backend for tests). Use an odd number: 3
 * or 5. Read "Redlock over several servers" in docs/coord.md for what it does and does not
 * guarantee; the fencing token is what keeps a paused holder from doing harm.
 *
 * @example
 * ```ts
 * import { createValkit } from 'valkit'
 * import { createRedlock } from 'valkit/coord'
 *
 * const servers = ['redis://a:6379', 'redis://b:6379', 'redis://c:6379'].map((url) => createValkit({ url }))
 * const redlock = createRedlock(servers, { ttl: '15s' })
 * const r = await redlock.withLock('nightly-report', (lease) => buildReport(lease.token))
 * ```
 */
export function createRedlock(servers: readonly Valkit[], options: RedlockOptions = {}): Redlock {
  if (!Array.isArray(servers) || servers.length === 0 || servers.length > SERVERS_MAX) {
    throw invalidOption(
      'redlock.servers',
      Array.isArray(servers) ? `got ${servers.length} servers` : `got ${typeof servers}`,
      `an array of 1-${SERVERS_MAX} valkit instances, one per independent server (3 or 5 is usual)`,
    )
  }
  const list: readonly Valkit[] = servers
  const seen = new Map<unknown, number>()
  list.forEach((valkit, i) => {
    if (valkit === null || typeof valkit !== 'object' || typeof valkit.config?.topology !== 'object') {
      throw invalidOption(`redlock.servers[${i}]`, `got ${typeof valkit}`, 'a valkit instance (createValkit)')
    }
    const t = valkit.config.topology
    const where = t.kind === 'standalone' ? (t.socketPath ?? `${t.host}:${t.port}`) : valkit
    const first = seen.get(where)
    if (first !== undefined) {
      throw invalidOption(
        `redlock.servers[${i}]`,
        `the same server as redlock.servers[${first}]`,
        'independent servers: a quorum of one server counted twice excludes nobody',
      )
    }
    seen.set(where, i)
  })
  if (typeof options !== 'object' || options === null) {
    throw invalidOption('redlock', `got ${typeof options}`, 'an options object')
  }
  const { ttl, wait, driftFactor, driftMs, fenceRetention } = options
  const resolved = resolveCoordOptions(
    { ttl, wait, driftFactor, driftMs, fenceRetention, deadlock: false },
    'redlock',
  )
  const retryDelayMs = durationOption(options.retryDelay, 'redlock.retryDelay', 50)
  return new RedlockImpl(
    list.map((valkit) => new CoordEngine(valkit, resolved)),
    retryDelayMs,
  )
}

interface Counters {
  granted: number
  busy: number
  timeouts: number
  aborted: number
  unavailable: number
  attempts: number
  quorumMisses: number
  released: number
  lost: number
}

/** One round of requests: a lease, or why not. */
type Round =
  | { readonly lease: QuorumLease }
  | { readonly lease: null; readonly unreachable: number; readonly error: unknown }

class RedlockImpl implements Redlock {
  readonly servers: number
  readonly quorum: number
  readonly counters: Counters = {
    granted: 0,
    busy: 0,
    timeouts: 0,
    aborted: 0,
    unavailable: 0,
    attempts: 0,
    quorumMisses: 0,
    released: 0,
    lost: 0,
  }
  readonly held = new Set<QuorumLease>()
  #closed = false
  readonly #pauses = new Set<() => void>()

  constructor(
    private readonly engines: readonly CoordEngine[],
    private readonly retryDelayMs: number,
  ) {
    this.servers = engines.length
    this.quorum = Math.floor(engines.length / 2) + 1
  }

  acquire(resource: string, options?: RedlockAcquireOptions): Promise<AcquireResult> {
    return this.#acquire(resource, options, false)
  }

  withLock<T>(
    resource: string,
    fn: (lease: Lease) => T | Promise<T>,
    options?: RedlockAcquireOptions,
  ): Promise<WithLockResult<T>> {
    return withLease(this.#acquire(resource, options, true), fn)
  }

  stats(): RedlockStats {
    let held = 0
    for (const lease of this.held) if (lease.held) held++
    return { ...this.counters, held }
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    for (const wake of [...this.#pauses]) wake()
    await Promise.all(this.engines.map((e) => e.close()))
  }

  async #acquire(
    resource: string,
    options: RedlockAcquireOptions | undefined,
    watchdogDefault: boolean,
  ): Promise<AcquireResult> {
    this.#open()
    const extra = options as { fair?: unknown; agent?: unknown } | undefined
    if (extra?.fair !== undefined && extra.fair !== false) {
      throw invalidOption(
        'fair',
        `got ${JSON.stringify(extra.fair)}`,
        'nothing: a Redlock keeps no queue across servers',
      )
    }
    if (extra?.agent !== undefined) {
      throw invalidOption(
        'agent',
        'got an agent',
        'nothing: deadlock detection needs a single server (createCoord)',
      )
    }
    const a = resolveAcquire(options, this.engines[0]!.options, watchdogDefault)
    const once = { ...a, waitMs: 0, fair: false, agent: undefined }
    const specs = this.engines.map((e) => waitSpec(e.ref('redlock', resource), 'mutex', 'x', 1, once))
    const deadline = performance.now() + a.waitMs
    for (;;) {
      if (a.signal?.aborted) return this.#refuse('aborted')
      const round = await this.#round(resource, specs)
      if (this.#closed) {
        await round.lease?.release().catch(() => false)
        this.#open()
      }
      if (round.lease !== null) {
        if (a.signal?.aborted) {
          await round.lease.release().catch(() => false)
          return this.#refuse('aborted')
        }
        this.counters.granted++
        return { acquired: true, lease: round.lease }
      }
      if (round.unreachable > this.servers - this.quorum) {
        this.counters.unavailable++
        throw new ValkitError(
          'VALKIT_UNAVAILABLE',
          `Redlock on "${resource}": ${round.unreachable} of ${this.servers} servers did not answer, so no quorum of ${this.quorum} can grant it (fail closed). Check the servers; retry when they are back.`,
          {
            cause: round.error,
            details: { resource, servers: this.servers, quorum: this.quorum, unreachable: round.unreachable },
          },
        )
      }
      const left = deadline - performance.now()
      if (left <= 0) return this.#refuse(a.waitMs === 0 ? 'busy' : 'timeout')
      await this.#pause(Math.min(left, this.retryDelayMs * (0.5 + Math.random())), a.signal)
      this.#open()
    }
  }

  /** Asks every server at once; with a quorum of grants, agrees on their largest token. */
  async #round(resource: string, specs: readonly WaitSpec[]): Promise<Round> {
    this.counters.attempts++
    const settled = await Promise.allSettled(this.engines.map((e, i) => e.acquire(specs[i]!)))
    const parts: Part[] = []
    let unreachable = 0
    let error: unknown
    settled.forEach((s, i) => {
      if (s.status === 'rejected') {
        unreachable++
        error ??= s.reason
      } else if (s.value.acquired) {
        parts.push({ engine: this.engines[i]!, ref: specs[i]!.ref, lease: s.value.lease as LeaseImpl })
      }
    })
    if (parts.length < this.quorum) {
      if (parts.length > 0) this.counters.quorumMisses++
      await giveBack(parts)
      return { lease: null, unreachable, error }
    }
    // The agreed token: the largest of the grants, written into the fence of every server that
    // granted a smaller one. Any later quorum shares a server with this one, whose next token
    // is then larger: tokens increase across the servers, not only on each.
    const token = Math.max(...parts.map((p) => p.lease.token))
    const raised = await Promise.allSettled(
      parts.map((p) =>
        p.lease.token === token
          ? Promise.resolve(true)
          : p.engine.primary.raiseFence(p.ref, p.lease.owner, token),
      ),
    )
    const agreed = parts.filter((p, i) => {
      const r = raised[i]!
      return r.status === 'fulfilled' && r.value && p.lease.held
    })
    if (agreed.length < this.quorum) {
      this.counters.quorumMisses++
      await giveBack(parts)
      return { lease: null, unreachable, error }
    }
    void giveBack(parts.filter((p) => !agreed.includes(p)))
    const lease = new QuorumLease(
      this,
      resource,
      token,
      agreed.map((p) => p.lease),
      this.quorum,
    )
    this.held.add(lease)
    return { lease }
  }

  #refuse(reason: NotAcquiredReason): AcquireResult {
    if (reason === 'busy') this.counters.busy++
    else if (reason === 'timeout') this.counters.timeouts++
    else this.counters.aborted++
    return { acquired: false, reason }
  }

  #open(): void {
    if (this.#closed)
      throw new ValkitError('VALKIT_CLOSED', 'This Redlock instance is closed; create a new one.')
  }

  #pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer)
        signal?.removeEventListener('abort', done)
        this.#pauses.delete(done)
        resolve()
      }
      const timer = setTimeout(done, ms)
      signal?.addEventListener('abort', done, { once: true })
      this.#pauses.add(done)
    })
  }
}

interface Part {
  readonly engine: CoordEngine
  readonly ref: SlotRef
  readonly lease: LeaseImpl
}

async function giveBack(parts: readonly Part[]): Promise<void> {
  await Promise.allSettled(parts.map((p) => p.lease.release()))
}

/**
 * A grant held on a quorum of servers. Held while a quorum of its per-server leases is held;
 * lost once more than `parts - quorum` of them are lost.
 */
class QuorumLease implements Lease {
  readonly kind = 'mutex'
  readonly local = false
  readonly owner: string
  #state: 'held' | 'released' | 'lost' = 'held'
  #controller: AbortController | undefined
  #releasing: Promise<boolean> | undefined

  constructor(
    private readonly host: RedlockImpl,
    readonly resource: string,
    readonly token: number,
    private readonly parts: readonly LeaseImpl[],
    private readonly quorum: number,
  ) {
    this.owner = parts.map((p) => p.owner).join(' ')
  }

  get held(): boolean {
    if (this.#state !== 'held') return false
    let n = 0
    for (const p of this.parts) if (p.held) n++
    return n >= this.quorum
  }

  get remainingMs(): number {
    if (this.#state !== 'held') return 0
    const left = this.parts.map((p) => p.remainingMs).sort((x, y) => y - x)
    return left[this.quorum - 1] ?? 0
  }

  /** More of its per-server leases were lost than it can spare. */
  get lost(): boolean {
    if (this.#state === 'lost') return true
    let n = 0
    for (const p of this.parts) if (p.lost) n++
    return n > this.parts.length - this.quorum
  }

  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController()
      const check = (): void => {
        if (this.#state === 'held' && this.lost) this.#markLost()
      }
      for (const p of this.parts) p.signal.addEventListener('abort', check, { once: true })
      if (this.#state === 'lost') this.#abort()
      else check()
    }
    return this.#controller.signal
  }

  async extend(ttl?: Duration): Promise<boolean> {
    if (this.#state !== 'held') return false
    const settled = await Promise.allSettled(this.parts.map((p) => p.extend(ttl)))
    const extended = settled.filter((s) => s.status === 'fulfilled' && s.value).length
    if (extended >= this.quorum) return this.#state === 'held'
    if (this.lost) {
      this.#markLost()
      return false
    }
    // Not lost, not extended: some servers did not answer. Say so, as a single-server lease does.
    const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected')
    if (failed !== undefined) throw failed.reason
    return false
  }

  release(): Promise<boolean> {
    this.#releasing ??= (async () => {
      const wasHeld = this.#state === 'held'
      if (wasHeld) this.#state = 'released'
      const settled = await Promise.allSettled(this.parts.map((p) => p.release()))
      this.host.held.delete(this)
      if (wasHeld) this.host.counters.released++
      const released = settled.filter((s) => s.status === 'fulfilled' && s.value).length
      if (released >= this.quorum) return true
      if (settled.every((s) => s.status === 'rejected')) {
        throw (settled[0] as PromiseRejectedResult).reason
      }
      return false
    })()
    return this.#releasing
  }

  toJSON(): Record<string, unknown> {
    return {
      resource: this.resource,
      kind: this.kind,
      token: this.token,
      servers: this.parts.length,
      quorum: this.quorum,
      held: this.held,
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.release()
  }

  #markLost(): void {
    if (this.#state !== 'held') return
    this.#state = 'lost'
    this.host.held.delete(this)
    this.host.counters.lost++
    this.#abort()
  }

  #abort(): void {
    if (this.#controller === undefined || this.#controller.signal.aborted) return
    this.#controller.abort(
      new ValkitError(
        'VALKIT_LOCK_LOST',
        `The Redlock lease on "${this.resource}" was lost: fewer than ${this.quorum} servers still hold it.`,
        { details: { resource: this.resource, kind: this.kind, token: this.token } },
      ),
    )
  }
}
