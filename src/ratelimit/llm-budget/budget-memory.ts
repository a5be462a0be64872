import {
  createInstantClock,
  createMemoryStore,
  type InstantClock,
  type MemoryStore,
} from '../../core/index.js'

interface Ledger {
  p: number
  s: number
  r: number
  st: number
  rt: number
  /** Reservation id -> [period, estimate µ$, estimate tokens, expiry ms]. */
  held: Map<string, [number, number, number, number]>
}

/** The period index of `ms` and when it ends: fixed lengths from the epoch, or UTC calendar months. @internal */
export function periodOf(ms: number, len: number): [number, number] {
  if (len > 0) {
    const p = Math.floor(ms / len)
    return [p, (p + 1) * len]
  }
  const d = new Date(ms)
  const y = d.getUTCFullYear()
  const m = d.getUTCMonth()
  return [y * 12 + m, Date.UTC(y, m + 1, 1)]
}

/**
 * The budget scripts (`reserve-budget-n.lua`, `settle-budget-n.lua`) inside one process, on the
 * same inputs and with the same replies. Used when valkit runs without Redis.
 *
 * @internal
 */
export class BudgetMemory {
  readonly #store: MemoryStore<Ledger>
  readonly #clock: InstantClock

  constructor(maxKeys: number, clock: () => number = Date.now) {
    // The ledgers expire on the engine's clock, during a call at that call's own reading (see
    // InstantClock): a later reading could drop a ledger the call still counts in its period.
    this.#clock = createInstantClock(clock)
    this.#store = createMemoryStore<Ledger>({ maxEntries: maxKeys, sizeOf: () => 128, now: this.#clock.now })
  }

  #ledger(key: string, p: number): Ledger {
    let l = this.#store.get(key)
    if (l === undefined) {
      l = { p, s: 0, r: 0, st: 0, rt: 0, held: new Map() }
      this.#store.set(key, l)
    } else if (l.p !== p) [l.p, l.s, l.r, l.st, l.rt] = [p, 0, 0, 0, 0]
    return l
  }

  reserve(keys: readonly string[], args: readonly (string | number)[]): number[] {
    return this.#clock.at((now) => this.#reserve(keys, args, now))
  }

  #reserve(keys: readonly string[], args: readonly (string | number)[], now: number): number[] {
    const n = Number(args[0])
    const id = String(args[1])
    const ttl = Number(args[2])
    const chargeExpired = String(args[3]) === '1'
    const out: number[] = [now, 1]
    const ledgers: [Ledger, number, number, number][] = []
    for (let i = 0; i < n; i++) {
      const a = 4 + i * 5
      const [p, ends] = periodOf(now, Number(args[a]))
      const limitUsd = Number(args[a + 1])
      const limitTok = Number(args[a + 2])
      const cost = Number(args[a + 3])
      const tokens = Number(args[a + 4])
      const l = this.#ledger(keys[2 * i]!, p)
      for (const [held, [hp, hc, ht, expiry]] of l.held) {
        if (expiry > now) continue
        if (hp === p) {
          l.r = Math.max(0, l.r - hc)
          l.rt = Math.max(0, l.rt - ht)
          if (chargeExpired) [l.s, l.st] = [l.s + hc, l.st + ht]
        }
        l.held.delete(held)
      }
      let code = 1
      if (limitUsd >= 0 && l.s + l.r + cost > limitUsd) code = -1
      else if (limitTok >= 0 && l.st + l.rt + tokens > limitTok) code = -2
      if (code < 0) out[1] = 0
      ledgers.push([l, cost, tokens, p])
      out.push(code, l.s, l.r, l.st, l.rt, ends - now)
      this.#store.expire(keys[2 * i]!, Math.max(ends - now, ttl) + ttl + 1000)
    }
    if (out[1] === 1 && id !== '') {
      ledgers.forEach(([l, cost, tokens, p], i) => {
        l.r += cost
        l.rt += tokens
        l.held.set(id, [p, cost, tokens, now + ttl])
        out[2 + i * 6 + 2] = l.r
        out[2 + i * 6 + 4] = l.rt
      })
    }
    return out
  }

  settle(keys: readonly string[], args: readonly (string | number)[]): number[] {
    return this.#clock.at((now) => this.#settle(keys, args, now))
  }

  #settle(keys: readonly string[], args: readonly (string | number)[], now: number): number[] {
    const n = Number(args[0])
    const id = String(args[1])
    const out: number[] = [now]
    for (let i = 0; i < n; i++) {
      const a = 2 + i * 3
      const [p] = periodOf(now, Number(args[a]))
      const cost = Number(args[a + 1])
      const tokens = Number(args[a + 2])
      const l = this.#ledger(keys[2 * i]!, p)
      const held = l.held.get(id)
      let code = -1
      let estimate = 0
      if (held !== undefined) {
        const [hp, hc, ht] = held
        if (hp === p) [l.r, l.rt] = [Math.max(0, l.r - hc), Math.max(0, l.rt - ht)]
        l.s += cost
        l.st += tokens
        l.held.delete(id)
        code = 1
        estimate = hc
      }
      out.push(code, l.s, l.r, l.st, l.rt, estimate)
    }
    return out
  }

  close(): void {
    this.#store.close()
  }
}
