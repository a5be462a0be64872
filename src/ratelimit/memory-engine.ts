import { performance } from 'node:perf_hooks'
import { createInstantClock, createMemoryStore, type InstantClock, type MemoryStore } from '../core/index.js'

/** State of one key, per algorithm. */
type State =
  | { kind: 'bucket'; tokens: number; ts: number }
  | { kind: 'tat'; tat: number }
  | { kind: 'log'; ts: number[]; costs: number[]; head: number; total: number }
  | { kind: 'window'; idx: number; cur: number; prev: number }
  | { kind: 'leases'; leases: Map<string, { expiry: number; cost: number }>; total: number }
  | { kind: 'penalty'; v: number; ve: number; b: number }

/** Microseconds since the epoch, from the monotonic clock anchored at the process start. @internal */
export function nowMicros(): number {
  return Math.floor((performance.timeOrigin + performance.now()) * 1000)
}

const ceilMs = (us: number): number => (us <= 0 ? 0 : Math.ceil(us / 1000))

/**
 * The rate-limit algorithms inside one process, on the same inputs as the Redis script
 * (`check-rules-n.lua`: the keys and flat arguments of a check) and with the same reply, so
 * both backends share the planning and decision code and behave alike. Used when valkit runs
 * without Redis, and as the insurance limiter while Redis is down.
 *
 * @internal
 */
export class MemoryEngine {
  readonly #store: MemoryStore<State>
  readonly #clock: InstantClock

  constructor(
    maxKeys: number,
    private readonly clock: () => number = nowMicros,
  ) {
    // Expiry follows the engine's clock (µs; the store counts ms), so a test's clock and the
    // store never disagree; during a check it is the check's own reading (see InstantClock).
    this.#clock = createInstantClock(clock)
    this.#store = createMemoryStore<State>({
      maxEntries: maxKeys,
      sizeOf: () => 64,
      now: () => this.#clock.now() / 1000,
    })
  }

  get size(): number {
    return this.#store.size
  }

  check(keys: readonly string[], args: readonly (string | number)[]): number[] {
    return this.#clock.at((now) => this.#check(keys, args, now))
  }

  #check(keys: readonly string[], args: readonly (string | number)[], now: number): number[] {
    const n = Number(args[0])
    const out: number[] = [now]
    const commits: (() => void)[] = []
    let k = 0
    let a = 1
    let admitted = true
    for (let i = 0; i < n; i++) {
      const spec = String(args[a]).split(' ')
      const rawCode = Number(spec[0])
      const hasPenalty = rawCode > 8
      const alg = hasPenalty ? rawCode - 8 : rawCode
      const limit = Number(spec[1])
      const win = Number(spec[2]) * 1000
      const burst = alg <= 2 ? Number(spec[3]) : limit
      const cost = Number(args[a + 1])
      a += 2
      let lease = ''
      if (alg === 6) lease = String(args[a++])
      const sk = keys[k++]!
      const hasExtra = alg === 3 || alg === 6
      if (hasExtra) k++
      const pk = hasPenalty ? keys[k++]! : null
      let after = 0
      let withinMs = 0
      let blockMs = 0
      if (hasPenalty) {
        const p = String(args[a++]).split(' ')
        after = Number(p[0])
        withinMs = Number(p[1])
        blockMs = Number(p[2])
      }
      let code = 1
      let remaining = 0
      let reset = 0
      let retry = 0
      let commit: (() => void) | null = null
      const pen = pk === null ? undefined : this.#get(pk, 'penalty')
      const blocked = pen?.b ?? 0
      if (blocked > now) {
        code = -2
        retry = reset = blocked - now
      } else if (alg === 1) {
        const cap = burst * 1_000_000
        const s = this.#get(sk, 'bucket')
        let tokens = cap
        if (s !== undefined) {
          tokens = s.tokens
          if (now > s.ts)
            tokens = Math.min(cap, tokens + Math.floor(((now - s.ts) * limit * 1_000_000) / win))
        }
        const need = cost * 1_000_000
        const perUs = (limit * 1_000_000) / win
        if (cost > burst) [code, retry] = [-3, -1]
        else if (tokens >= need) {
          const left = tokens - need
          remaining = Math.floor(left / 1_000_000)
          reset = (cap - left) / perUs
          const ttl = ceilMs(reset) + 1
          if (cost > 0) commit = () => this.#set(sk, { kind: 'bucket', tokens: left, ts: now }, ttl)
        } else {
          code = -1
          remaining = Math.floor(tokens / 1_000_000)
          retry = (need - tokens) / perUs
          reset = (cap - tokens) / perUs
        }
      } else if (alg === 2) {
        const interval = win / limit
        let tat = this.#get(sk, 'tat')?.tat ?? 0
        if (tat < now) tat = now
        const nextTat = tat + cost * interval
        const horizon = now + burst * interval
        if (cost > burst) [code, retry] = [-3, -1]
        else if (nextTat <= horizon) {
          remaining = Math.floor((horizon - nextTat) / interval)
          reset = nextTat - now
          const ttl = ceilMs(reset) + 1
          if (cost > 0) commit = () => this.#set(sk, { kind: 'tat', tat: Math.ceil(nextTat) }, ttl)
        } else {
          code = -1
          remaining = Math.floor(Math.max(0, horizon - tat) / interval)
          retry = nextTat - horizon
          reset = tat - now
        }
      } else if (alg === 3) {
        const s: Extract<State, { kind: 'log' }> = this.#get(sk, 'log') ?? {
          kind: 'log',
          ts: [],
          costs: [],
          head: 0,
          total: 0,
        }
        while (s.head < s.ts.length && s.ts[s.head]! <= now - win) {
          s.total = Math.max(0, s.total - s.costs[s.head]!)
          s.head++
        }
        if (s.head > 64 && s.head * 2 > s.ts.length) {
          s.ts = s.ts.slice(s.head)
          s.costs = s.costs.slice(s.head)
          s.head = 0
        }
        const total = s.total
        const newest = s.ts.length > s.head ? s.ts[s.ts.length - 1]! : 0
        if (cost > limit) [code, retry] = [-3, -1]
        else if (total + cost <= limit) {
          remaining = limit - total - cost
          reset = (cost === 0 ? newest : now) + win - now
          if (cost > 0) {
            commit = () => {
              s.ts.push(now)
              s.costs.push(cost)
              s.total = total + cost
              this.#set(sk, s, win / 1000 + 1)
            }
          }
        } else {
          code = -1
          remaining = Math.max(0, limit - total)
          const need = total + cost - limit
          let freed = 0
          retry = win
          for (let j = s.head; j < s.ts.length; j++) {
            freed += s.costs[j]!
            if (freed >= need) {
              retry = s.ts[j]! + win - now
              break
            }
          }
          reset = (newest || now) + win - now
        }
      } else if (alg === 4) {
        const idx = Math.floor(now / win)
        const s = this.#get(sk, 'window')
        let cur = 0
        let prev = 0
        if (s !== undefined) {
          if (s.idx === idx) [cur, prev] = [s.cur, s.prev]
          else if (s.idx === idx - 1) prev = s.cur
        }
        const into = now - idx * win
        const estimate = (prev * (win - into)) / win + cur
        reset = (idx + 2) * win - now
        if (cost > limit) [code, retry] = [-3, -1]
        else if (estimate + cost <= limit) {
          remaining = Math.floor(limit - estimate - cost)
          const ttl = ceilMs(reset) + 1
          if (cost > 0) commit = () => this.#set(sk, { kind: 'window', idx, cur: cur + cost, prev }, ttl)
        } else {
          code = -1
          remaining = Math.max(0, Math.floor(limit - estimate))
          if (cur + cost <= limit) retry = Math.ceil((1 - (limit - cur - cost) / prev) * win) - into
          else retry = (idx + 1) * win - now + Math.max(0, Math.ceil((1 - (limit - cost) / cur) * win))
          if (retry < 1) retry = 1
        }
      } else if (alg === 5) {
        const idx = Math.floor(now / win)
        const s = this.#get(sk, 'window')
        const count = s !== undefined && s.idx === idx ? s.cur : 0
        reset = (idx + 1) * win - now
        if (cost > limit) [code, retry] = [-3, -1]
        else if (count + cost <= limit) {
          remaining = limit - count - cost
          const ttl = ceilMs(reset) + 1
          if (cost > 0) commit = () => this.#set(sk, { kind: 'window', idx, cur: count + cost, prev: 0 }, ttl)
        } else {
          code = -1
          remaining = limit - count
          retry = reset
        }
      } else {
        const s = this.#get(sk, 'leases') ?? {
          kind: 'leases',
          leases: new Map<string, { expiry: number; cost: number }>(),
          total: 0,
        }
        let first = Infinity
        for (const [id, held] of s.leases) {
          if (held.expiry <= now) {
            s.leases.delete(id)
            s.total = Math.max(0, s.total - held.cost)
          } else if (held.expiry < first) first = held.expiry
        }
        if (cost > limit) [code, retry] = [-3, -1]
        else if (s.total + cost <= limit) {
          remaining = limit - s.total - cost
          if (cost > 0) {
            commit = () => {
              s.leases.set(lease, { expiry: now + win, cost })
              s.total += cost
              let last = 0
              for (const held of s.leases.values()) last = Math.max(last, held.expiry)
              this.#set(sk, s, ceilMs(last - now) + 1)
            }
          }
        } else {
          code = -1
          remaining = Math.max(0, limit - s.total)
          retry = (first === Infinity ? now + win : first) - now
        }
        reset = retry
      }
      if (code < 0) {
        admitted = false
        if (code === -1 && pk !== null) {
          let count = pen?.v ?? 0
          let vend = pen?.ve ?? 0
          if (vend <= now) [count, vend] = [0, now + withinMs * 1000]
          count++
          if (count >= after) {
            const b = now + blockMs * 1000
            this.#set(pk, { kind: 'penalty', v: 0, ve: 0, b }, ceilMs(b - now) + 1)
            code = -2
            retry = reset = b - now
          } else {
            this.#set(pk, { kind: 'penalty', v: count, ve: vend, b: pen?.b ?? 0 }, ceilMs(vend - now) + 1)
          }
        }
      }
      if (commit !== null) commits.push(commit)
      out.push(code, Math.max(0, remaining), ceilMs(reset), retry < 0 ? -1 : ceilMs(retry))
    }
    if (admitted) for (const commit of commits) commit()
    return out
  }

  /** Releases a lease on pairs (lease zset key, cost hash key); returns on how many rules it was held. */
  release(keys: readonly string[], id: string): number {
    let released = 0
    for (let i = 0; i < keys.length; i += 2) {
      const s = this.#get(keys[i]!, 'leases')
      const held = s?.leases.get(id)
      if (s === undefined || held === undefined) continue
      s.leases.delete(id)
      s.total = Math.max(0, s.total - held.cost)
      released++
    }
    return released
  }

  /** Extends a held lease to now + ttl; returns on how many rules it was extended. */
  extend(keys: readonly string[], id: string, ttlMs: number): number {
    return this.#clock.at((now) => this.#extend(keys, id, ttlMs, now))
  }

  #extend(keys: readonly string[], id: string, ttlMs: number, now: number): number {
    let extended = 0
    for (let i = 0; i < keys.length; i += 2) {
      const key = keys[i]!
      const s = this.#get(key, 'leases')
      const held = s?.leases.get(id)
      if (s === undefined || held === undefined || held.expiry <= now) continue
      held.expiry = now + ttlMs * 1000
      let last = 0
      for (const h of s.leases.values()) last = Math.max(last, h.expiry)
      this.#store.expire(key, ceilMs(last - now) + 1)
      extended++
    }
    return extended
  }

  /** Blocks (ms > 0) or unblocks (0) on penalty hashes; returns the block's end (ms since the epoch) or 0. */
  block(keys: readonly string[], ms: number): number {
    if (ms <= 0) {
      for (const key of keys) this.#store.delete(key)
      return 0
    }
    const b = this.clock() + ms * 1000
    for (const key of keys) this.#set(key, { kind: 'penalty', v: 0, ve: 0, b }, ms + 1)
    return Math.floor(b / 1000)
  }

  delete(keys: readonly string[]): void {
    for (const key of keys) this.#store.delete(key)
  }

  clear(): void {
    this.#store.clear()
  }

  close(): void {
    this.#store.close()
  }

  #get<K extends State['kind']>(key: string, kind: K): Extract<State, { kind: K }> | undefined {
    const state = this.#store.get(key)
    return state !== undefined && state.kind === kind ? (state as Extract<State, { kind: K }>) : undefined
  }

  #set(key: string, state: State, ttlMs: number): void {
    this.#store.set(key, state, { ttlMs: Math.max(1, Math.ceil(ttlMs)) })
  }
}
