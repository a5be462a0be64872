import type {
  AcquireAnswer,
  AcquireCall,
  CancelAnswer,
  ExtendAnswer,
  Grant,
  ReleaseAnswer,
  SlotBackend,
  SlotEvent,
  SlotInspection,
  SlotMode,
  SlotRef,
} from './slot-backend.js'

/**
 * The table's clock: ms since the epoch on the monotonic clock, like the leases' `performance.now()`.
 * `Date.now()` jumps with NTP steps and VM resumes; a step forward would expire a grant here that
 * its holder, on the monotonic clock, still holds.
 */
const monotonicMs = (): number => Math.floor(performance.timeOrigin + performance.now())

interface Holder {
  readonly token: number
  expiresAt: number
}

interface QueuedWaiter {
  readonly deadline: number
  readonly ttlMs: number
  readonly mode: SlotMode
  readonly limit: number
}

/** One resource's state: the same fields as the script's six keys. */
interface Resource {
  exclusive: ({ readonly owner: string } & Holder) | null
  readonly shared: Map<string, Holder>
  readonly queue: string[]
  readonly waiters: Map<string, QueuedWaiter>
  unfairUntil: number
  lastToken: number
}

/**
 * The lock state of one process, shared by every coord instance made on the same valkit
 * instance. Exclusive only inside this process.
 *
 * @internal
 */
export class MemoryLockTable {
  readonly resources = new Map<string, Resource>()
  readonly listeners = new Map<string, Set<(event: SlotEvent) => void>>()
  /** The last token of any resource: tokens stay monotonic after a resource's entry is dropped. */
  lastToken = 0
  /** The last token of each resource, for `inspect` (the most recent {@link FENCES_KEPT}). */
  readonly fences = new Map<string, number>()

  resource(id: string): Resource {
    let r = this.resources.get(id)
    if (r === undefined) {
      r = { exclusive: null, shared: new Map(), queue: [], waiters: new Map(), unfairUntil: 0, lastToken: 0 }
      this.resources.set(id, r)
    }
    return r
  }

  /** Drops an entry with nothing left in it (its last token lives on in `lastToken`). */
  forget(id: string, r: Resource, now: number): void {
    if (r.exclusive !== null && r.exclusive.expiresAt > now) return
    for (const h of r.shared.values()) if (h.expiresAt > now) return
    if (r.queue.length > 0 || r.unfairUntil > now) return
    this.resources.delete(id)
  }

  nextToken(id: string, r: Resource): number {
    const micros = Math.floor((performance.timeOrigin + performance.now()) * 1000)
    const token = Math.max(micros, this.lastToken + 1, r.lastToken + 1)
    this.raise(id, r, token)
    return token
  }

  /** Every later token of the resource (and of this table) is larger than `token`. */
  raise(id: string, r: Resource, token: number): void {
    if (token <= r.lastToken) return
    this.lastToken = Math.max(this.lastToken, token)
    r.lastToken = token
    this.fences.delete(id)
    this.fences.set(id, token)
    if (this.fences.size > FENCES_KEPT) this.fences.delete(this.fences.keys().next().value!)
  }
}

/** How many resources' last tokens the memory backend remembers for `inspect`. */
const FENCES_KEPT = 10_000

const tables = new WeakMap<object, MemoryLockTable>()

/** The lock table of a valkit instance (created on first use). @internal */
export function lockTableOf(owner: object): MemoryLockTable {
  let table = tables.get(owner)
  if (table === undefined) tables.set(owner, (table = new MemoryLockTable()))
  return table
}

/**
 * The memory backend: the scripts' state machine in this process. Grants to waiters of other
 * coord instances on the same valkit are delivered as channel events, on a later microtask.
 *
 * @internal
 */
export class MemorySlots implements SlotBackend {
  readonly local = true
  readonly #table: MemoryLockTable
  readonly #mine: string

  constructor(table: MemoryLockTable, ownerPrefix: string) {
    this.#table = table
    this.#mine = ownerPrefix
  }

  acquire(call: AcquireCall): Promise<AcquireAnswer> {
    const now = monotonicMs()
    const { ref, owner, mode, limit, ttlMs, waitMs, fair, queued } = call
    const r = this.#table.resource(ref.id)
    const grants: Grant[] = []
    prune(r, now)
    if (fair) this.#pump(ref, r, now, grants)
    const held = holding(r, owner, mode, now)
    if (held !== undefined) {
      held.expiresAt = now + ttlMs
      return Promise.resolve({ granted: true, token: held.token, nowMs: now, grants })
    }
    if ((!fair || r.queue.length === 0) && free(r, mode, limit, now)) {
      if (queued) dequeue(r, owner)
      return Promise.resolve({
        granted: true,
        token: this.#grant(ref, r, owner, mode, ttlMs, now),
        nowMs: now,
        grants,
      })
    }
    if (waitMs > 0) {
      if (fair) {
        if (!queued) {
          r.queue.push(owner)
          r.waiters.set(owner, { deadline: now + waitMs, ttlMs, mode, limit })
        }
      } else if (r.unfairUntil < now + waitMs) r.unfairUntil = now + waitMs
    }
    return Promise.resolve({ granted: false, retryInMs: untilExpiry(r, now), nowMs: now, grants })
  }

  release(ref: SlotRef, owner: string, mode: SlotMode): Promise<ReleaseAnswer> {
    const now = monotonicMs()
    const r = this.#table.resources.get(ref.id)
    const grants: Grant[] = []
    if (r === undefined) return Promise.resolve({ released: false, nowMs: now, grants })
    prune(r, now)
    if (mode === 'x') {
      if (r.exclusive === null || r.exclusive.owner !== owner || r.exclusive.expiresAt <= now) {
        return Promise.resolve({ released: false, nowMs: now, grants })
      }
      r.exclusive = null
    } else {
      const h = r.shared.get(owner)
      if (h === undefined) return Promise.resolve({ released: false, nowMs: now, grants })
      r.shared.delete(owner)
      if (h.expiresAt <= now) return Promise.resolve({ released: false, nowMs: now, grants })
    }
    this.#pump(ref, r, now, grants)
    if (r.unfairUntil > now) this.#emit(ref, { type: 'free' })
    this.#table.forget(ref.id, r, now)
    return Promise.resolve({ released: true, nowMs: now, grants })
  }

  extend(ref: SlotRef, owner: string, mode: SlotMode, ttlMs: number): Promise<ExtendAnswer> {
    const now = monotonicMs()
    const r = this.#table.resources.get(ref.id)
    const held = r === undefined ? undefined : holding(r, owner, mode, now)
    if (held === undefined) return Promise.resolve({ extended: false, nowMs: now, confirmed: true })
    held.expiresAt = now + ttlMs
    return Promise.resolve({ extended: true, nowMs: now, confirmed: true })
  }

  cancel(ref: SlotRef, owner: string, mode: SlotMode): Promise<CancelAnswer> {
    const now = monotonicMs()
    const r = this.#table.resources.get(ref.id)
    const grants: Grant[] = []
    if (r === undefined) return Promise.resolve({ granted: null, nowMs: now, grants })
    prune(r, now)
    const held = holding(r, owner, mode, now)
    if (held !== undefined) {
      return Promise.resolve({
        granted: { owner, token: held.token, expiresAtMs: held.expiresAt },
        nowMs: now,
        grants,
      })
    }
    dequeue(r, owner)
    this.#pump(ref, r, now, grants)
    this.#table.forget(ref.id, r, now)
    return Promise.resolve({ granted: null, nowMs: now, grants })
  }

  watch(ref: SlotRef, listener: (event: SlotEvent) => void): Promise<void> {
    let set = this.#table.listeners.get(ref.id)
    if (set === undefined) this.#table.listeners.set(ref.id, (set = new Set()))
    set.add(listener)
    return Promise.resolve()
  }

  unwatch(ref: SlotRef, listener: (event: SlotEvent) => void): Promise<void> {
    const set = this.#table.listeners.get(ref.id)
    set?.delete(listener)
    if (set?.size === 0) this.#table.listeners.delete(ref.id)
    return Promise.resolve()
  }

  raiseFence(ref: SlotRef, owner: string, token: number): Promise<boolean> {
    const r = this.#table.resources.get(ref.id)
    if (r === undefined || holding(r, owner, 'x', monotonicMs()) === undefined) return Promise.resolve(false)
    this.#table.raise(ref.id, r, token)
    return Promise.resolve(true)
  }

  inspect(ref: SlotRef): Promise<SlotInspection> {
    const now = monotonicMs()
    const r = this.#table.resources.get(ref.id)
    const lastToken = this.#table.fences.get(ref.id) ?? 0
    if (r === undefined) return Promise.resolve({ holders: [], queued: 0, lastToken })
    const holders: { owner: string; token: number; mode: SlotMode; expiresInMs: number }[] = []
    if (r.exclusive !== null && r.exclusive.expiresAt > now) {
      holders.push({
        owner: r.exclusive.owner,
        token: r.exclusive.token,
        mode: 'x',
        expiresInMs: r.exclusive.expiresAt - now,
      })
    }
    for (const [owner, h] of r.shared) {
      if (h.expiresAt > now)
        holders.push({ owner, token: h.token, mode: 's', expiresInMs: h.expiresAt - now })
    }
    return Promise.resolve({ holders, queued: r.queue.length, lastToken })
  }

  onResubscribe(): () => void {
    return () => {}
  }

  #grant(ref: SlotRef, r: Resource, owner: string, mode: SlotMode, ttlMs: number, now: number): number {
    const token = this.#table.nextToken(ref.id, r)
    if (mode === 'x') r.exclusive = { owner, token, expiresAt: now + ttlMs }
    else r.shared.set(owner, { token, expiresAt: now + ttlMs })
    return token
  }

  #pump(ref: SlotRef, r: Resource, now: number, grants: Grant[]): void {
    for (let i = 0; i < 32; i++) {
      const head = r.queue[0]
      if (head === undefined) return
      const entry = r.waiters.get(head)
      if (entry === undefined || entry.deadline <= now) {
        r.queue.shift()
        r.waiters.delete(head)
      } else if (free(r, entry.mode, entry.limit, now)) {
        r.queue.shift()
        r.waiters.delete(head)
        const token = this.#grant(ref, r, head, entry.mode, entry.ttlMs, now)
        const grant = { owner: head, token, expiresAtMs: now + entry.ttlMs }
        if (head.startsWith(this.#mine)) grants.push(grant)
        else this.#emit(ref, { type: 'grant', grant })
      } else return
    }
  }

  #emit(ref: SlotRef, event: SlotEvent): void {
    const set = this.#table.listeners.get(ref.id)
    if (set === undefined) return
    queueMicrotask(() => {
      for (const listener of set) listener(event)
    })
  }
}

function prune(r: Resource, now: number): void {
  if (r.exclusive !== null && r.exclusive.expiresAt <= now) r.exclusive = null
  for (const [owner, h] of r.shared) if (h.expiresAt <= now) r.shared.delete(owner)
}

function free(r: Resource, mode: SlotMode, limit: number, now: number): boolean {
  if (r.exclusive !== null && r.exclusive.expiresAt > now) return false
  let live = 0
  for (const h of r.shared.values()) if (h.expiresAt > now) live++
  return mode === 'x' ? live === 0 : live < limit
}

function holding(r: Resource, owner: string, mode: SlotMode, now: number): Holder | undefined {
  if (mode === 'x') {
    return r.exclusive !== null && r.exclusive.owner === owner && r.exclusive.expiresAt > now
      ? r.exclusive
      : undefined
  }
  const h = r.shared.get(owner)
  return h !== undefined && h.expiresAt > now ? h : undefined
}

function dequeue(r: Resource, owner: string): void {
  const i = r.queue.indexOf(owner)
  if (i >= 0) r.queue.splice(i, 1)
  r.waiters.delete(owner)
}

function untilExpiry(r: Resource, now: number): number {
  let left = r.exclusive !== null && r.exclusive.expiresAt > now ? r.exclusive.expiresAt - now : -1
  for (const h of r.shared.values()) {
    const s = h.expiresAt - now
    if (s > 0 && (left < 0 || s < left)) left = s
  }
  return left
}
