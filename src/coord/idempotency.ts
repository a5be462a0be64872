import { ValkitError, type Duration, type RedisReply, type Valkit, replyText } from '../core/index.js'
import { BEGIN_IDEMPOTENT, END_IDEMPOTENT } from './coord-scripts.js'
import type { CoordEngine } from './coord-engine.js'
import { durationOption } from './coord-options.js'
import { lockTableOf } from './memory-slots.js'

/** Options of `coord.idempotency()`, and per call of `run`. */
export interface IdempotencyOptions {
  /**
   * How long a result is kept and handed to repeats.
   * @defaultValue '24h'
   */
  readonly ttl?: Duration
  /**
   * The runner's lease: a runner that dies is replaced (a repeat runs the operation) after this
   * long; while the operation runs, the lease is extended every third of it.
   * @defaultValue the coord's `ttl` ('10s')
   */
  readonly lease?: Duration
  /**
   * How long a repeat waits for a run in progress elsewhere before it rejects with `VALKIT_TIMEOUT`.
   * @defaultValue the coord's `wait` ('10s')
   */
  readonly wait?: Duration
}

/** What `run` resolves with: the value, and whether this call ran the operation. */
export interface IdempotentResult<T> {
  readonly value: T
  /** `ran`: this call ran it; `replayed`: it had run, the stored result is returned; `waited`: it was running elsewhere and this call waited for its result. */
  readonly outcome: 'ran' | 'replayed' | 'waited'
}

/**
 * Runs an operation once per key across every instance: a repeat gets the stored result; a
 * repeat that arrives while the first run is in progress waits for it (woken by a message). A
 * run that throws stores nothing: the next repeat runs it again. Results are JSON.
 *
 * @example
 * ```ts
 * const payments = coord.idempotency('payments', { ttl: '24h' })
 * app.post('/charge', async (req, res) => {
 *   const { value } = await payments.run(req.get('Idempotency-Key')!, () => stripe.charge(req.body))
 *   res.json(value)
 * })
 * ```
 */
export interface Idempotency {
  readonly name: string
  run<T>(
    key: string,
    fn: (signal: AbortSignal) => T | Promise<T>,
    options?: IdempotencyOptions,
  ): Promise<IdempotentResult<T>>
}

const KEY = /^[^{}]{1,512}$/

interface MemoryOp {
  state: 'running' | 'done'
  owner: string
  result: string
  expiresAt: number
}

const memoryOps = new WeakMap<
  object,
  { ops: Map<string, MemoryOp>; listeners: Map<string, Set<() => void>> }
>()

type Begin =
  | { readonly kind: 'done'; readonly result: string }
  | { readonly kind: 'wait'; readonly leftMs: number }
  | { readonly kind: 'run' }

/** @internal */
export class IdempotencyImpl implements Idempotency {
  readonly #memory: { ops: Map<string, MemoryOp>; listeners: Map<string, Set<() => void>> } | null

  constructor(
    private readonly engine: CoordEngine,
    private readonly valkit: Valkit,
    readonly name: string,
    private readonly defaults: IdempotencyOptions,
  ) {
    if (typeof name !== 'string' || !KEY.test(name) || name.includes(':')) {
      throw new ValkitError(
        'VALKIT_INVALID_ARGUMENT',
        `Invalid idempotency name ${JSON.stringify(name)}: expected 1-512 characters without ':' or braces.`,
      )
    }
    this.#settings(defaults)
    if (engine.primary.local) {
      const table = lockTableOf(valkit)
      let memory = memoryOps.get(table)
      if (memory === undefined) memoryOps.set(table, (memory = { ops: new Map(), listeners: new Map() }))
      this.#memory = memory
    } else this.#memory = null
  }

  async run<T>(
    key: string,
    fn: (signal: AbortSignal) => T | Promise<T>,
    options?: IdempotencyOptions,
  ): Promise<IdempotentResult<T>> {
    if (typeof key !== 'string' || !KEY.test(key)) {
      throw new ValkitError(
        'VALKIT_INVALID_ARGUMENT',
        `Invalid idempotency key ${JSON.stringify(key)}: expected 1-512 characters without braces.`,
      )
    }
    const { ttlMs, leaseMs, waitMs } = this.#settings({ ...this.defaults, ...options })
    const full = this.valkit.keys.key('coord', `${this.name}:${key}`, 'idem')
    const channel = `${full}:ch`
    const owner = this.engine.nextOwner()
    const startedAt = performance.now()
    let waited = false
    let wake: (() => void) | null = null
    const onMessage = (): void => wake?.()
    let watching = false
    try {
      for (;;) {
        const begin = await this.#begin(full, owner, leaseMs)
        if (begin.kind === 'done') {
          this.engine.metrics.idempotent(waited ? 'waited' : 'replayed')
          return { value: (JSON.parse(begin.result) as { v: T }).v, outcome: waited ? 'waited' : 'replayed' }
        }
        if (begin.kind === 'run') return await this.#runOnce(full, channel, owner, fn, ttlMs, leaseMs)
        const left = waitMs - (performance.now() - startedAt)
        if (left <= 0) {
          throw new ValkitError(
            'VALKIT_TIMEOUT',
            `Idempotent operation "${key}" is still running elsewhere after ${waitMs} ms; try again later.`,
            {
              details: { key, waitMs },
            },
          )
        }
        waited = true
        if (!watching) {
          // Subscribed first, then asked again: a message sent in between is not missed.
          watching = true
          await this.#watch(full, channel, onMessage)
          continue
        }
        await new Promise<void>((resolve) => {
          const timer = setTimeout(done, Math.min(left, Math.max(1, begin.leftMs) + 1))
          function done(): void {
            clearTimeout(timer)
            wake = null
            resolve()
          }
          wake = done
        })
      }
    } finally {
      if (watching) await this.#unwatch(full, channel, onMessage)
    }
  }

  async #runOnce<T>(
    full: string,
    channel: string,
    owner: string,
    fn: (signal: AbortSignal) => T | Promise<T>,
    ttlMs: number,
    leaseMs: number,
  ): Promise<IdempotentResult<T>> {
    const controller = new AbortController()
    const lost = (): ValkitError =>
      new ValkitError(
        'VALKIT_LOCK_LOST',
        'The lease of an idempotent operation ran out while it ran: another caller may have run it too.',
        {
          details: { key: full },
        },
      )
    const renew = setInterval(() => {
      void this.#end(full, channel, owner, 'renew', '', leaseMs).then(
        (ok) => (ok ? undefined : controller.abort(lost())),
        () => undefined,
      )
    }, leaseMs / 3)
    renew.unref()
    let value: T
    try {
      value = await fn(controller.signal)
    } catch (err) {
      clearInterval(renew)
      await this.#end(full, channel, owner, 'abandon', '', 0).catch(() => false)
      throw err
    }
    clearInterval(renew)
    if (!(await this.#end(full, channel, owner, 'done', JSON.stringify({ v: value }), ttlMs))) throw lost()
    this.engine.metrics.idempotent('ran')
    return { value, outcome: 'ran' }
  }

  #settings(options: IdempotencyOptions): { ttlMs: number; leaseMs: number; waitMs: number } {
    return {
      ttlMs: durationOption(options.ttl, 'idempotency.ttl', 24 * 3600_000),
      leaseMs: durationOption(options.lease, 'idempotency.lease', this.engine.options.ttlMs, 10),
      waitMs: durationOption(options.wait, 'idempotency.wait', this.engine.options.waitMs, 0),
    }
  }

  async #begin(full: string, owner: string, leaseMs: number): Promise<Begin> {
    if (this.#memory !== null) {
      const now = Date.now()
      const op = this.#memory.ops.get(full)
      const live = op !== undefined && op.expiresAt > now ? op : undefined
      if (live?.state === 'done') return { kind: 'done', result: live.result }
      if (live?.state === 'running' && live.owner !== owner)
        return { kind: 'wait', leftMs: live.expiresAt - now }
      this.#memory.ops.set(full, { state: 'running', owner, result: '', expiresAt: now + leaseMs })
      return { kind: 'run' }
    }
    const reply = (await this.valkit.connection.script(
      BEGIN_IDEMPOTENT,
      [full],
      [owner, String(leaseMs)],
    )) as RedisReply[]
    const kind = Number(reply[0])
    if (kind === 2) return { kind: 'done', result: replyText(reply[1]) }
    if (kind === 3) return { kind: 'wait', leftMs: Number(reply[1]) }
    return { kind: 'run' }
  }

  async #end(
    full: string,
    channel: string,
    owner: string,
    op: 'done' | 'abandon' | 'renew',
    result: string,
    ms: number,
  ): Promise<boolean> {
    if (this.#memory !== null) {
      const now = Date.now()
      const current = this.#memory.ops.get(full)
      if (
        current === undefined ||
        current.expiresAt <= now ||
        current.state !== 'running' ||
        current.owner !== owner
      )
        return false
      if (op === 'renew') current.expiresAt = now + ms
      else {
        if (op === 'done') this.#memory.ops.set(full, { state: 'done', owner, result, expiresAt: now + ms })
        else this.#memory.ops.delete(full)
        const listeners = this.#memory.listeners.get(full)
        if (listeners !== undefined) queueMicrotask(() => listeners.forEach((l) => l()))
      }
      return true
    }
    const reply = await this.valkit.connection.script(
      END_IDEMPOTENT,
      [full],
      [owner, op, result, String(ms), channel],
    )
    return Number(reply) === 1
  }

  async #watch(full: string, channel: string, listener: () => void): Promise<void> {
    if (this.#memory !== null) {
      let set = this.#memory.listeners.get(full)
      if (set === undefined) this.#memory.listeners.set(full, (set = new Set()))
      set.add(listener)
      return
    }
    await this.valkit.driver.ssubscribe(channel, listener)
  }

  async #unwatch(full: string, channel: string, listener: () => void): Promise<void> {
    if (this.#memory !== null) {
      const set = this.#memory.listeners.get(full)
      set?.delete(listener)
      if (set?.size === 0) this.#memory.listeners.delete(full)
      return
    }
    await this.valkit.driver.sunsubscribe(channel, listener).catch(() => undefined)
  }
}
