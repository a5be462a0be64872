import { parseEvent, recordOf } from './job-record.js'
import type {
  FetchRequest,
  LeasedJob,
  ManageAction,
  NewJob,
  QueueStore,
  Settlement,
  StepResult,
  StoredJob,
  StoredSchedule,
  TickJob,
  WakeReason,
} from './queue-store.js'
import type { JobCounts, JobRecord, JobState, QueueEvent } from './queue-types.js'

const P = 4_294_967_296

/** A sorted set small enough for arrays: members kept in score order (ties by insertion). */
class Sorted {
  readonly #scores = new Map<string, number>()
  #order: string[] | null = []
  get size(): number {
    return this.#scores.size
  }
  add(id: string, score: number): void {
    const order = this.#order
    if (this.#scores.has(id) || order === null) {
      this.#scores.set(id, score)
      this.#order = null
      return
    }
    this.#scores.set(id, score)
    // Binary search for the first member with a greater score: ties keep insertion order.
    let lo = 0
    let hi = order.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (this.#scores.get(order[mid]!)! <= score) lo = mid + 1
      else hi = mid
    }
    order.splice(lo, 0, id)
  }
  has(id: string): boolean {
    return this.#scores.has(id)
  }
  score(id: string): number | undefined {
    return this.#scores.get(id)
  }
  delete(id: string): boolean {
    if (!this.#scores.delete(id)) return false
    if (this.#order !== null) {
      const i = this.#order.indexOf(id)
      if (i >= 0) this.#order.splice(i, 1)
    }
    return true
  }
  ordered(): string[] {
    if (this.#order === null) {
      this.#order = [...this.#scores.keys()].sort((a, b) => this.#scores.get(a)! - this.#scores.get(b)!)
    }
    return this.#order
  }
  /** Members with score ≤ max, at most `limit`, in order. */
  upTo(max: number, limit: number): string[] {
    const out: string[] = []
    for (const id of this.ordered()) {
      if (out.length >= limit || this.#scores.get(id)! > max) break
      out.push(id)
    }
    return out
  }
  first(): [string, number] | undefined {
    const id = this.ordered()[0]
    return id === undefined ? undefined : [id, this.#scores.get(id)!]
  }
  last(): [string, number] | undefined {
    const o = this.ordered()
    const id = o[o.length - 1]
    return id === undefined ? undefined : [id, this.#scores.get(id)!]
  }
  popMin(n: number): string[] {
    const out = this.ordered().splice(0, n)
    for (const id of out) this.#scores.delete(id)
    return out
  }
  clear(): void {
    this.#scores.clear()
    this.#order = []
  }
}

type Fields = Record<string, string>

/**
 * One partition of a queue inside this process: the same states, transitions and replies as
 * the Lua scripts of the Redis store, for `valkit` without Redis. Jobs live only as long as the
 * process.
 *
 * @internal
 */
export class MemoryQueueStore implements QueueStore {
  readonly local = true
  readonly #jobs = new Map<string, Fields>()
  readonly #w = new Sorted()
  readonly #d = new Sorted()
  readonly #a = new Sorted()
  /** Newest first. */
  #c: string[] = []
  #x: string[] = []
  readonly #m: Record<string, number> = {}
  readonly #events: { id: string; fields: Fields }[] = []
  #eventSeq = 0
  #lastEventMs = 0
  readonly #eventWaiters = new Set<() => void>()
  readonly #wakeListeners = new Set<(what: WakeReason) => void>()
  readonly #schedules = new Map<string, string>()
  readonly #next = new Sorted()

  constructor(
    private readonly eventsMax: number,
    private readonly idPrefix = '',
    private readonly clock: () => number = Date.now,
  ) {}

  #defaults = ''

  setDefaults(options: string): Promise<void> {
    this.#defaults = options
    return Promise.resolve()
  }

  countRefused(n: number): Promise<void> {
    this.#inc('refused', n)
    return Promise.resolve()
  }

  #inc(field: string, by = 1): number {
    return (this.#m[field] = (this.#m[field] ?? 0) + by)
  }

  #ev(fields: Fields): void {
    if (this.eventsMax <= 0) return
    const now = this.clock()
    if (now > this.#lastEventMs) [this.#lastEventMs, this.#eventSeq] = [now, 0]
    else this.#eventSeq++
    this.#events.push({ id: `${this.#lastEventMs}-${this.#eventSeq}`, fields })
    // Trimmed in steps, like XADD MAXLEN ~: the length stays within an eighth over the cap.
    if (this.#events.length > this.eventsMax + (this.eventsMax >> 3) + 1) {
      this.#events.splice(0, this.#events.length - this.eventsMax)
    }
    if (this.#eventWaiters.size > 0) for (const wake of [...this.#eventWaiters]) wake()
  }

  #notifyWake(what: WakeReason = 'jobs'): void {
    queueMicrotask(() => {
      for (const l of this.#wakeListeners) l(what)
    })
  }

  #wake(): void {
    if (this.#m.paused === 1 || this.#w.size === 0 || this.#m.sleep !== 1) return
    delete this.#m.sleep
    this.#notifyWake()
  }

  #enqueue(id: string, front = false): void {
    const f = this.#jobs.get(id)!
    const prio = Number(f.P ?? 0)
    f.s = 'w'
    this.#w.add(id, front ? prio * P : prio * P + (this.#inc('seq') % P))
  }

  add(jobs: readonly NewJob[], maxLength: number, overflow: 'reject' | 'drop-lowest' | 'wait') {
    const now = this.clock()
    const out: StoredJob[] = []
    const dropped: string[] = []
    let length = maxLength > 0 ? this.#w.size + this.#d.size : -1
    let added = 0
    let ready = 0
    for (const j of jobs) {
      const id = j.id === '' ? `${this.idPrefix}${this.#inc('id')}` : j.id
      let code = 1
      const kept = this.#live(id)
      if (kept !== undefined) code = 10 + 'wdacx'.indexOf(kept.s ?? 'w')
      else if (maxLength > 0 && length >= maxLength) {
        code = -1
        if (overflow === 'drop-lowest' && j.delayMs <= 0) {
          code = -2
          const worst = this.#w.last()
          if (worst !== undefined && Math.floor(worst[1] / P) > j.priority) {
            this.#w.delete(worst[0])
            this.#jobs.delete(worst[0])
            dropped.push(worst[0])
            length--
            code = 1
          }
        }
        if (code === -1 && overflow !== 'wait') this.#inc('refused')
        if (code === -2) this.#inc('dropped')
      }
      if (code === 1) {
        const seq = this.#inc('seq') % P
        const f: Fields = { n: j.name, d: j.data, t: String(now), a: '0' }
        if (j.priority !== 0) f.P = String(j.priority)
        if (j.options !== '') f.o = j.options
        this.#jobs.set(id, f)
        if (j.delayMs > 0) {
          code = 2
          f.s = 'd'
          f.rt = String(now + j.delayMs)
          this.#d.add(id, now + j.delayMs)
        } else {
          f.s = 'w'
          this.#w.add(id, j.priority * P + seq)
          ready++
        }
        if (maxLength > 0) length++
        added++
        this.#ev({ e: code === 2 ? 'delayed' : 'added', i: id, n: j.name })
      }
      out.push({ id, code })
    }
    if (added > 0) this.#inc('added', added)
    if (dropped.length > 0) this.#inc('dropped', dropped.length)
    if (ready > 0) this.#wake()
    return Promise.resolve({ nowMs: now, jobs: out, dropped })
  }

  #pushError(f: Fields, payload: string): void {
    let list: unknown[] = []
    try {
      const parsed = JSON.parse(f.e ?? '[]') as unknown
      if (Array.isArray(parsed)) list = parsed
    } catch {
      list = []
    }
    list.push(JSON.parse(payload))
    while (list.length > 10) list.shift()
    f.e = JSON.stringify(list)
  }

  #keep(list: 'c' | 'x', id: string, count: number, ageMs: number, now: number): void {
    const l = list === 'c' ? this.#c : this.#x
    // A job kept by age expires by itself, as PEXPIRE makes it in Redis.
    if (ageMs > 0) this.#jobs.get(id)!.ex = String(now + ageMs)
    if (count >= 0 && l.length > count) for (const id of l.splice(count)) this.#jobs.delete(id)
    if (ageMs > 0) {
      while (l.length > 0) {
        const oldest = l[l.length - 1]!
        const f = this.#jobs.get(oldest)
        if (f?.f !== undefined && now - Number(f.f) <= ageMs) break
        l.pop()
        this.#jobs.delete(oldest)
      }
    }
  }

  step(settlements: readonly Settlement[], req: FetchRequest): Promise<StepResult> {
    const now = this.clock()
    const stale: string[] = []
    let woke = false
    let settled = 0
    for (const s of settlements) {
      const f = this.#jobs.get(s.id)
      if (f === undefined || f.k !== s.token || f.s !== 'a') {
        stale.push(s.id)
        continue
      }
      settled++
      this.#a.delete(s.id)
      if (s.kind === 'c') {
        this.#inc('completed')
        if (s.keep.count === 0) this.#jobs.delete(s.id)
        else {
          Object.assign(f, { s: 'c', f: String(now) })
          if (s.payload !== '') f.r = s.payload
          delete f.k
          this.#c.unshift(s.id)
          this.#keep('c', s.id, s.keep.count, s.keep.ageMs, now)
        }
        this.#ev({ e: 'completed', i: s.id })
      } else if (s.kind === 'r') {
        this.#inc('failed')
        this.#pushError(f, s.payload)
        if (s.delayMs > 0) {
          Object.assign(f, { s: 'd', rt: String(now + s.delayMs) })
          this.#d.add(s.id, now + s.delayMs)
        } else {
          this.#enqueue(s.id)
          woke = true
        }
        this.#ev({ e: 'retried', i: s.id, delay: String(s.delayMs), err: s.payload })
      } else {
        this.#inc('failed')
        this.#inc('dead')
        this.#pushError(f, s.payload)
        if (s.keep.count === 0) this.#jobs.delete(s.id)
        else {
          Object.assign(f, { s: 'x', f: String(now) })
          this.#x.unshift(s.id)
          this.#keep('x', s.id, s.keep.count, s.keep.ageMs, now)
        }
        this.#ev({ e: 'dead-lettered', i: s.id, err: s.payload })
      }
    }
    if (req.globalConcurrency > 0 && settled > 0) woke = true
    for (const id of this.#d.upTo(now, 200)) {
      this.#d.delete(id)
      this.#enqueue(id)
      this.#ev({ e: 'waiting', i: id })
      woke = true
    }
    for (const id of this.#a.upTo(now, 200)) {
      this.#a.delete(id)
      const f = this.#jobs.get(id)!
      const stalls = Number(f.st ?? 0) + 1
      f.st = String(stalls)
      this.#inc('stalled')
      if (stalls > req.maxStalls) {
        this.#pushError(
          f,
          JSON.stringify({
            message: `the job stalled ${stalls} times (its worker died or froze past its lease)`,
            code: 'VALKIT_JOB_STALLED',
            at: now,
          }),
        )
        Object.assign(f, { s: 'x', f: String(now) })
        this.#x.unshift(id)
        this.#inc('dead')
        this.#ev({ e: 'stalled', i: id, final: '1' })
      } else {
        this.#enqueue(id, true)
        this.#ev({ e: 'stalled', i: id, final: '0' })
        woke = true
      }
    }
    const paused = this.#m.paused === 1
    let want = paused ? 0 : req.count
    let capped = false
    let rateWaitMs = 0
    if (want > 0 && req.globalConcurrency > 0) {
      const free = req.globalConcurrency - this.#a.size
      if (free < want) [want, capped] = [Math.max(free, 0), true]
    }
    if (want > 0 && req.rateMax > 0) {
      let start = this.#m.rs ?? 0
      let used = 0
      if (now - start < req.rateWindowMs) used = this.#m.rn ?? 0
      else {
        start = now - ((now - start) % req.rateWindowMs)
        this.#m.rs = start
        this.#m.rn = 0
      }
      if (used + want > req.rateMax) {
        want = Math.max(req.rateMax - used, 0)
        rateWaitMs = Math.max(start + req.rateWindowMs - now, 1)
      }
    }
    const jobs: LeasedJob[] = []
    if (want > 0) {
      const ids = this.#w.popMin(want)
      let token = this.#inc('tok', ids.length) - ids.length
      for (const id of ids) {
        const f = this.#jobs.get(id)!
        const attempt = Number(f.a ?? 0) + 1
        token++
        Object.assign(f, { a: String(attempt), k: String(token), s: 'a' })
        this.#a.add(id, now + req.leaseMs)
        jobs.push({
          id,
          name: f.n ?? '',
          data: f.d ?? 'null',
          options: f.o ?? '',
          attempt,
          token: String(token),
          createdAt: Number(f.t ?? 0),
        })
        this.#ev({ e: 'active', i: id, a: String(attempt) })
      }
      if (req.rateMax > 0) this.#inc('rn', ids.length)
    }
    if (woke) this.#wake()
    let nextDelayedAt = -1
    if (jobs.length < want || want === 0) {
      nextDelayedAt = this.#d.first()?.[1] ?? -1
      if (jobs.length < want || capped) this.#m.sleep = 1
    }
    const nextLeaseAt = this.#a.first()?.[1] ?? -1
    return Promise.resolve({
      nowMs: now,
      stale,
      nextDelayedAt,
      nextLeaseAt,
      rateWaitMs,
      paused,
      defaults: jobs.length > 0 ? this.#defaults : '',
      jobs,
    })
  }

  extend(leases: readonly { id: string; token: string }[], leaseMs: number): Promise<string[]> {
    const now = this.clock()
    const lost: string[] = []
    for (const l of leases) {
      const f = this.#jobs.get(l.id)
      if (f?.k === l.token && f.s === 'a') this.#a.add(l.id, now + leaseMs)
      else lost.push(l.id)
    }
    return Promise.resolve(lost)
  }

  progress(id: string, token: string, value: string): Promise<boolean> {
    const f = this.#jobs.get(id)
    if (f?.k !== token || f.s !== 'a') return Promise.resolve(false)
    f.p = value
    this.#ev({ e: 'progress', i: id, p: value })
    return Promise.resolve(true)
  }

  manage(action: ManageAction, ids: readonly string[], limit: number): Promise<number> {
    let changed = 0
    if (action === 'retry') {
      for (const id of ids.length > 0 ? ids : this.#x.slice(0, limit)) {
        const f = this.#jobs.get(id)
        if (f?.s !== 'x') continue
        this.#x.splice(this.#x.indexOf(id), 1)
        Object.assign(f, { a: '0', st: '0' })
        delete f.f
        delete f.k
        this.#enqueue(id)
        this.#ev({ e: 'waiting', i: id })
        changed++
      }
      if (changed > 0) this.#wake()
    } else if (action === 'promote') {
      for (const id of ids.length > 0 ? ids : this.#d.ordered().slice(0, limit)) {
        if (!this.#d.delete(id)) continue
        delete this.#jobs.get(id)!.rt
        this.#enqueue(id)
        this.#ev({ e: 'waiting', i: id })
        changed++
      }
      if (changed > 0) this.#wake()
    } else if (action === 'remove') {
      for (const id of ids) {
        const f = this.#jobs.get(id)
        if (f === undefined) continue
        this.#w.delete(id)
        this.#d.delete(id)
        this.#a.delete(id)
        this.#c = this.#c.filter((x) => x !== id)
        this.#x = this.#x.filter((x) => x !== id)
        this.#jobs.delete(id)
        this.#ev({ e: 'removed', i: id })
        changed++
      }
    } else if (action === 'drain') {
      for (const set of [this.#w, this.#d]) {
        for (const id of set.ordered().slice(0, Math.max(0, limit - changed))) {
          set.delete(id)
          this.#jobs.delete(id)
          this.#ev({ e: 'removed', i: id })
          changed++
        }
      }
    } else if (action === 'pause') {
      changed = this.#m.paused === 1 ? 0 : 1
      this.#m.paused = 1
    } else {
      changed = this.#m.paused === 1 ? 1 : 0
      delete this.#m.paused
      if (changed === 1) {
        this.#m.sleep = 1
        this.#wake()
        this.#notifyWake()
      }
    }
    return Promise.resolve(changed)
  }

  /** The job's fields, unless it expired (removing it then). */
  #live(id: string): Fields | undefined {
    const f = this.#jobs.get(id)
    if (f?.ex !== undefined && Number(f.ex) <= this.clock()) {
      this.#jobs.delete(id)
      return undefined
    }
    return f
  }

  getJob(id: string): Promise<JobRecord | undefined> {
    const f = this.#live(id)
    return Promise.resolve(f === undefined ? undefined : recordOf(id, f))
  }

  list(state: JobState, start: number, end: number): Promise<string[]> {
    const all =
      state === 'waiting'
        ? this.#w.ordered()
        : state === 'delayed'
          ? this.#d.ordered()
          : state === 'active'
            ? this.#a.ordered()
            : state === 'completed'
              ? this.#c
              : this.#x
    return Promise.resolve(all.slice(start, end < 0 ? all.length + end + 1 : end + 1))
  }

  counts(): Promise<JobCounts> {
    const m = this.#m
    return Promise.resolve({
      waiting: this.#w.size,
      delayed: this.#d.size,
      active: this.#a.size,
      completed: this.#c.length,
      dead: this.#x.length,
      paused: m.paused === 1,
      totals: {
        added: m.added ?? 0,
        completed: m.completed ?? 0,
        failed: m.failed ?? 0,
        dead: m.dead ?? 0,
        stalled: m.stalled ?? 0,
        refused: m.refused ?? 0,
        dropped: m.dropped ?? 0,
      },
    })
  }

  obliterate(): Promise<number> {
    const n = this.#jobs.size
    this.#jobs.clear()
    for (const s of [this.#w, this.#d, this.#a, this.#next]) s.clear()
    this.#c = []
    this.#x = []
    for (const k of Object.keys(this.#m)) delete this.#m[k]
    this.#events.length = 0
    this.#schedules.clear()
    this.#m.sleep = 1
    this.#notifyWake()
    return Promise.resolve(n)
  }

  onWake(listener: (what: WakeReason) => void): Promise<() => Promise<void>> {
    this.#wakeListeners.add(listener)
    return Promise.resolve(() => {
      this.#wakeListeners.delete(listener)
      return Promise.resolve()
    })
  }

  lastEventId(): Promise<string> {
    return Promise.resolve(this.#events[this.#events.length - 1]?.id ?? '0-0')
  }

  async readEvents(from: string, count: number, blockMs: number, signal: AbortSignal): Promise<QueueEvent[]> {
    const after = (id: string): boolean => {
      if (from === '$') return false
      const [a1, a2] = id.split('-').map(Number) as [number, number]
      const [b1, b2] = (from.includes('-') ? from : `${from}-0`).split('-').map(Number) as [number, number]
      return a1 > b1 || (a1 === b1 && a2 > b2) || (from === '0' && a1 >= 0)
    }
    const pick = (): QueueEvent[] => {
      const out: QueueEvent[] = []
      for (const e of this.#events) {
        if (out.length >= count) break
        if (after(e.id)) {
          const event = parseEvent(e.id, e.fields)
          if (event !== undefined) out.push(event)
        }
      }
      return out
    }
    if (from === '$') from = this.#events[this.#events.length - 1]?.id ?? '0-0'
    const now = pick()
    if (now.length > 0 || blockMs <= 0 || signal.aborted) return now
    await new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer)
        this.#eventWaiters.delete(done)
        signal.removeEventListener('abort', done)
        resolve()
      }
      const timer = setTimeout(done, blockMs)
      this.#eventWaiters.add(done)
      signal.addEventListener('abort', done)
    })
    return pick()
  }

  upsertSchedule(id: string, definition: string, nextAt: number): Promise<void> {
    this.#notifyWake('schedules')
    this.#schedules.set(id, definition)
    if (nextAt >= 0) this.#next.add(id, nextAt)
    else this.#next.delete(id)
    return Promise.resolve()
  }

  removeSchedule(id: string): Promise<boolean> {
    this.#next.delete(id)
    return Promise.resolve(this.#schedules.delete(id))
  }

  schedules(): Promise<StoredSchedule[]> {
    return Promise.resolve(
      [...this.#schedules].map(([id, definition]) => ({
        id,
        definition,
        nextAt: this.#next.score(id) ?? -1,
      })),
    )
  }

  nextTick(): Promise<{ id: string; at: number } | undefined> {
    const first = this.#next.first()
    return Promise.resolve(first === undefined ? undefined : { id: first[0], at: first[1] })
  }

  claimTick(id: string, tick: number, after: number, jobs: readonly TickJob[]) {
    const now = this.clock()
    if (this.#next.score(id) !== tick) return Promise.resolve({ claimed: false, nowMs: now })
    if (after >= 0) this.#next.add(id, after)
    else this.#next.delete(id)
    let added = 0
    for (const j of jobs) {
      if (this.#live(j.id) !== undefined) continue
      const f: Fields = { n: j.name, d: j.data, t: String(now), a: '0', sc: id }
      if (j.priority !== 0) f.P = String(j.priority)
      if (j.options !== '') f.o = j.options
      this.#jobs.set(j.id, f)
      this.#enqueue(j.id)
      added++
      this.#ev({ e: 'added', i: j.id, n: j.name })
    }
    if (added > 0) {
      this.#inc('added', added)
      this.#wake()
    }
    return Promise.resolve({ claimed: true, nowMs: now })
  }

  close(): Promise<void> {
    for (const wake of [...this.#eventWaiters]) wake()
    return Promise.resolve()
  }
}
