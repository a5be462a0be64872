import { readFileSync } from 'node:fs'
import {
  defineScript,
  ValkitError,
  type DriverPort,
  type RedisArg,
  type RedisReply,
  type Script,
  type Valkit,
  replyText,
} from '../core/index.js'
import { parseEntry, recordOf, splitEventId } from './job-record.js'
import { MAX_JOB_ID_LENGTH } from './queue-options.js'
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

const EVENT_BUFFER = readFileSync(new URL('./scripts/event-buffer.lua', import.meta.url), 'utf8')
/** A queue script, with the shared event buffer pasted in where it says `-- #include event-buffer.lua`. */
const load = (file: string): Script => {
  const source = readFileSync(new URL(`./scripts/${file}`, import.meta.url), 'utf8')
  return defineScript({
    name: file,
    source: source.replace(/^-- #include event-buffer\.lua.*$/m, () => EVENT_BUFFER),
  })
}
const ADD_JOBS = load('add-jobs-4.lua')
const SETTLE_FETCH = load('settle-fetch-7.lua')
const EXTEND_LEASES = load('extend-leases-2.lua')
const REPORT_PROGRESS = load('report-progress-2.lua')
const MANAGE_JOBS = load('manage-jobs-7.lua')
const CLAIM_TICK = load('claim-tick-6.lua')

/** Most delayed jobs promoted and expired leases reaped per call. */
const SWEEP = 200

const num = (reply: RedisReply | undefined): number => Number(reply)

function array(reply: RedisReply, script: string): RedisReply[] {
  if (!Array.isArray(reply))
    throw new ValkitError('VALKIT_SCRIPT', `Script "${script}" returned ${typeof reply}, expected an array.`)
  return reply
}

/**
 * One partition of a queue in Redis/Valkey. Every key shares the partition's hash tag, so each
 * script runs on one Cluster slot: waiting (sorted set by priority and sequence), delayed
 * (sorted set by run-at), active (sorted set by lease deadline), completed and dead (lists,
 * newest first), meta (hash of counters and flags), events (stream), schedules (hash and sorted
 * set), and one hash per job. Workers asleep on an empty queue are woken on a sharded channel.
 *
 * @internal
 */
export class RedisQueueStore implements QueueStore {
  readonly local = false
  readonly #valkit: Valkit
  readonly #tag: string
  readonly #jp: string
  readonly #k: {
    readonly w: string
    readonly d: string
    readonly a: string
    readonly c: string
    readonly x: string
    readonly m: string
    readonly e: string
    readonly s: string
    readonly n: string
  }
  readonly #wake: string
  readonly #eventsMax: string
  #blocking: Promise<DriverPort> | undefined
  #closed = false

  readonly #durable: boolean
  readonly #idPrefix: string

  constructor(valkit: Valkit, tag: string, eventsMaxLength: number, durable = false, idPrefix = '') {
    this.#durable = durable
    this.#idPrefix = idPrefix
    this.#valkit = valkit
    this.#tag = tag
    const key = (part: string): string => valkit.keys.key('queue', tag, part)
    this.#jp = key('j:')
    this.#k = {
      w: key('w'),
      d: key('d'),
      a: key('a'),
      c: key('c'),
      x: key('x'),
      m: key('m'),
      e: key('e'),
      s: key('s'),
      n: key('n'),
    }
    this.#wake = key('wake')
    this.#eventsMax = String(eventsMaxLength)
  }

  #script(
    script: Script,
    keys: readonly string[],
    args: readonly RedisArg[],
    idempotent = false,
  ): Promise<RedisReply> {
    return this.#valkit.connection.script(script, keys, args, idempotent ? { idempotent: true } : undefined)
  }

  async add(jobs: readonly NewJob[], maxLength: number, overflow: 'reject' | 'drop-lowest' | 'wait') {
    const { w, d, m, e } = this.#k
    const args: RedisArg[] = [
      this.#jp,
      this.#wake,
      this.#eventsMax,
      String(maxLength),
      overflow,
      this.#idPrefix,
      String(jobs.length),
    ]
    for (const j of jobs) args.push(j.id, j.name, j.data, String(j.priority), String(j.delayMs), j.options)
    // Adding a job with an id is idempotent (a repeat finds it); auto-numbered ones are not.
    const idempotent = jobs.every((j) => j.id !== '')
    const reply = array(
      await this.#valkit.connection.script(ADD_JOBS, [w, d, m, e], args, {
        ...(idempotent ? { idempotent: true } : {}),
        ...(this.#durable ? { durable: true } : {}),
      }),
      ADD_JOBS.name,
    )
    const out: StoredJob[] = []
    let i = 1
    for (; i + 1 < reply.length && out.length < jobs.length; i += 2)
      out.push({ id: replyText(reply[i]), code: num(reply[i + 1]) })
    const dropped: string[] = []
    if (replyText(reply[i]) === 'dropped')
      for (let k = i + 1; k < reply.length; k++) dropped.push(replyText(reply[k]))
    return { nowMs: num(reply[0]), jobs: out, dropped }
  }

  async setDefaults(options: string): Promise<void> {
    const { m } = this.#k
    await this.#valkit.connection.command(options === '' ? ['HDEL', m, 'opt'] : ['HSET', m, 'opt', options], {
      key: m,
      idempotent: true,
    })
  }

  async countRefused(n: number): Promise<void> {
    await this.#valkit.connection.command(['HINCRBY', this.#k.m, 'refused', String(n)], { key: this.#k.m })
  }

  async step(settlements: readonly Settlement[], f: FetchRequest): Promise<StepResult> {
    const { w, d, a, c, x, m, e } = this.#k
    const args: RedisArg[] = [
      this.#jp,
      this.#wake,
      this.#eventsMax,
      String(f.leaseMs),
      String(f.count),
      String(f.maxStalls),
      String(f.globalConcurrency),
      String(f.rateMax),
      String(f.rateWindowMs),
      String(SWEEP),
      String(settlements.length),
    ]
    for (const s of settlements) {
      args.push(s.id, s.token, s.kind, s.payload, String(s.delayMs), `${s.keep.count} ${s.keep.ageMs}`)
    }
    const reply = array(await this.#script(SETTLE_FETCH, [w, d, a, c, x, m, e], args), SETTLE_FETCH.name)
    const nStale = num(reply[1])
    const stale: string[] = []
    let i = 2
    for (; i < 2 + nStale; i++) stale.push(replyText(reply[i]))
    const nextDelayedAt = num(reply[i])
    const nextLeaseAt = num(reply[i + 1])
    const rateWaitMs = num(reply[i + 2])
    const paused = num(reply[i + 3]) === 1
    const defaults = replyText(reply[i + 4])
    const jobs: LeasedJob[] = []
    for (i += 5; i + 6 < reply.length; i += 7) {
      jobs.push({
        id: replyText(reply[i]),
        name: replyText(reply[i + 1]),
        data: replyText(reply[i + 2]),
        options: replyText(reply[i + 3]),
        attempt: num(reply[i + 4]),
        token: replyText(reply[i + 5]),
        createdAt: num(reply[i + 6]),
      })
    }
    return { nowMs: num(reply[0]), stale, nextDelayedAt, nextLeaseAt, rateWaitMs, paused, defaults, jobs }
  }

  async extend(leases: readonly { id: string; token: string }[], leaseMs: number): Promise<string[]> {
    const args: RedisArg[] = [this.#jp, String(leaseMs)]
    for (const l of leases) args.push(l.id, l.token)
    const reply = array(
      await this.#script(EXTEND_LEASES, [this.#k.a, this.#k.e], args, true),
      EXTEND_LEASES.name,
    )
    return reply.slice(1).map(replyText)
  }

  async progress(id: string, token: string, value: string): Promise<boolean> {
    const reply = await this.#script(
      REPORT_PROGRESS,
      [this.#k.m, this.#k.e],
      [this.#jp, id, token, value, this.#eventsMax],
      true,
    )
    return num(reply) === 1
  }

  async manage(action: ManageAction, ids: readonly string[], limit: number): Promise<number> {
    const { w, d, a, c, x, m } = this.#k
    const reply = await this.#script(
      MANAGE_JOBS,
      [w, d, a, c, x, m, this.#k.e],
      [this.#jp, this.#wake, action, String(limit), this.#eventsMax, ...ids],
    )
    return num(reply)
  }

  async getJob(id: string): Promise<JobRecord | undefined> {
    const reply = await this.#valkit.connection.command(['HGETALL', this.#jp + id], { key: this.#jp + id })
    const flat = Array.isArray(reply) ? reply : []
    if (flat.length === 0) return undefined
    const fields: Record<string, string> = {}
    for (let i = 0; i + 1 < flat.length; i += 2) fields[replyText(flat[i])] = replyText(flat[i + 1])
    return recordOf(id, fields)
  }

  async list(state: JobState, start: number, end: number): Promise<string[]> {
    const { w, d, a, c, x } = this.#k
    const cmd: RedisArg[] =
      state === 'waiting'
        ? ['ZRANGE', w, start, end]
        : state === 'delayed'
          ? ['ZRANGE', d, start, end]
          : state === 'active'
            ? ['ZRANGE', a, start, end]
            : ['LRANGE', state === 'completed' ? c : x, start, end]
    const reply = await this.#valkit.connection.command(cmd, { key: cmd[1] })
    const ids = Array.isArray(reply) ? reply.map(replyText) : []
    // The active set's last member keeps its encoding and is no job (ids are at most 256 characters).
    return state === 'active' ? ids.filter((id) => id.length <= MAX_JOB_ID_LENGTH) : ids
  }

  async counts(): Promise<JobCounts> {
    const { w, d, a, c, x, m } = this.#k
    const replies = await this.#valkit.connection.pipeline(
      [
        ['ZCARD', w],
        ['ZCARD', d],
        // Jobs only: the set also holds a member at +inf that keeps its encoding (settle-fetch).
        ['ZCOUNT', a, '-inf', '(+inf'],
        ['LLEN', c],
        ['LLEN', x],
        ['HGETALL', m],
      ],
      { key: w },
    )
    for (const r of replies) if (r instanceof Error) throw r
    const flat = (replies[5] as RedisReply[]) ?? []
    const meta: Record<string, number> = {}
    for (let i = 0; i + 1 < flat.length; i += 2) meta[replyText(flat[i])] = Number(replyText(flat[i + 1]))
    return {
      waiting: num(replies[0] as RedisReply),
      delayed: num(replies[1] as RedisReply),
      active: num(replies[2] as RedisReply),
      completed: num(replies[3] as RedisReply),
      dead: num(replies[4] as RedisReply),
      paused: meta.paused === 1,
      totals: {
        added: meta.added ?? 0,
        completed: meta.completed ?? 0,
        failed: meta.failed ?? 0,
        dead: meta.dead ?? 0,
        stalled: meta.stalled ?? 0,
        refused: meta.refused ?? 0,
        dropped: meta.dropped ?? 0,
      },
    }
  }

  async obliterate(): Promise<number> {
    const pattern = this.#valkit.keys.pattern('queue', this.#tag)
    let removed = 0
    for (const node of await this.#valkit.driver.masters()) {
      let cursor = '0'
      do {
        const reply = (await node.command([
          'SCAN',
          cursor,
          'MATCH',
          pattern,
          'COUNT',
          '1000',
        ])) as RedisReply[]
        cursor = replyText(reply[0])
        const keys = ((reply[1] as RedisReply[]) ?? []).map(replyText)
        // Every key shares the partition's hash tag (one slot): one UNLINK per page.
        if (keys.length > 0)
          removed += num(await this.#valkit.connection.command(['UNLINK', ...keys], { key: keys[0]! }))
      } while (cursor !== '0')
    }
    // The sleep flags went with the meta hash: wake the workers, so they sleep again properly.
    await this.#valkit.connection
      .command(['SPUBLISH', this.#wake, 'w'], { key: this.#wake })
      .catch(() => undefined)
    return removed
  }

  async onWake(listener: (what: WakeReason) => void): Promise<() => Promise<void>> {
    const raw = (message: Buffer): void =>
      listener(message.length === 1 && message[0] === 0x73 ? 'schedules' : 'jobs')
    await this.#valkit.driver.ssubscribe(this.#wake, raw)
    const off = this.#valkit.driver.onEvent((event) => {
      // After a reconnect a wake-up may have been missed: look again.
      if (event.type === 'ready' || event.type === 'resubscribed') listener('both')
    })
    return async () => {
      off()
      await this.#valkit.driver.sunsubscribe(this.#wake, raw).catch(() => undefined)
    }
  }

  async lastEventId(): Promise<string> {
    const reply = await this.#valkit.connection.command(['XREVRANGE', this.#k.e, '+', '-', 'COUNT', '1'], {
      key: this.#k.e,
    })
    const first = Array.isArray(reply) ? (reply[0] as RedisReply[] | undefined) : undefined
    return first === undefined ? '0-0' : replyText(first[0])
  }

  async readEvents(from: string, count: number, blockMs: number, signal: AbortSignal): Promise<QueueEvent[]> {
    if (this.#closed)
      throw new ValkitError('VALKIT_CLOSED', 'The queue is closed: its events are no longer read.')
    this.#blocking ??= this.#valkit.driver.duplicate()
    this.#blocking.catch(() => (this.#blocking = undefined))
    const driver = await this.#blocking
    // close() ran while the connection was opening: it took that connection and closes it.
    if (signal.aborted || this.#closed) return []
    // An id inside an entry of several events: the rest of that entry first, then what follows it.
    const { entry, index } = splitEventId(from)
    const out: QueueEvent[] = []
    if (index !== undefined) {
      const reply = await driver.command(['XRANGE', this.#k.e, entry, entry], { key: this.#k.e })
      for (const e of entriesOf(reply)) for (const event of e.slice(index + 1)) out.push(event)
      if (out.length > 0) blockMs = 0
    }
    const reply = await driver.command(
      blockMs > 0
        ? ['XREAD', 'COUNT', String(count), 'BLOCK', String(blockMs), 'STREAMS', this.#k.e, entry]
        : ['XREAD', 'COUNT', String(count), 'STREAMS', this.#k.e, entry],
      { key: this.#k.e },
    )
    if (Array.isArray(reply) && reply.length > 0)
      for (const e of entriesOf((reply[0] as RedisReply[])[1] ?? [])) for (const event of e) out.push(event)
    return out
  }

  async upsertSchedule(id: string, definition: string, nextAt: number): Promise<void> {
    const replies = await this.#valkit.connection.pipeline(
      [
        ['HSET', this.#k.s, id, definition],
        nextAt >= 0 ? ['ZADD', this.#k.n, String(nextAt), id] : ['ZREM', this.#k.n, id],
        // Workers look at the schedules when woken, so a new one runs its first tick on time.
        ['SPUBLISH', this.#wake, 's'],
      ],
      { key: this.#k.s },
    )
    for (const r of replies) if (r instanceof Error) throw r
  }

  async removeSchedule(id: string): Promise<boolean> {
    const replies = await this.#valkit.connection.pipeline(
      [
        ['HDEL', this.#k.s, id],
        ['ZREM', this.#k.n, id],
      ],
      { key: this.#k.s },
    )
    for (const r of replies) if (r instanceof Error) throw r
    return num(replies[0] as RedisReply) === 1
  }

  async schedules(): Promise<StoredSchedule[]> {
    const replies = await this.#valkit.connection.pipeline(
      [
        ['HGETALL', this.#k.s],
        ['ZRANGE', this.#k.n, '0', '-1', 'WITHSCORES'],
      ],
      { key: this.#k.s },
    )
    for (const r of replies) if (r instanceof Error) throw r
    const next = new Map<string, number>()
    const z = (replies[1] as RedisReply[]) ?? []
    for (let i = 0; i + 1 < z.length; i += 2) next.set(replyText(z[i]), num(z[i + 1]))
    const h = (replies[0] as RedisReply[]) ?? []
    const out: StoredSchedule[] = []
    for (let i = 0; i + 1 < h.length; i += 2) {
      const id = replyText(h[i])
      out.push({ id, definition: replyText(h[i + 1]), nextAt: next.get(id) ?? -1 })
    }
    return out
  }

  async nextTick(): Promise<{ id: string; at: number } | undefined> {
    const reply = await this.#valkit.connection.command(['ZRANGE', this.#k.n, '0', '0', 'WITHSCORES'], {
      key: this.#k.n,
    })
    if (!Array.isArray(reply) || reply.length < 2) return undefined
    return { id: replyText(reply[0]), at: num(reply[1]) }
  }

  async claimTick(id: string, tick: number, after: number, jobs: readonly TickJob[]) {
    const { s, n, w, m, e, d } = this.#k
    const args: RedisArg[] = [
      this.#jp,
      this.#wake,
      this.#eventsMax,
      id,
      String(tick),
      String(after),
      String(jobs.length),
    ]
    for (const j of jobs) args.push(j.id, j.name, j.data, String(j.priority), j.options)
    const reply = array(await this.#script(CLAIM_TICK, [s, n, w, m, e, d], args, true), CLAIM_TICK.name)
    return { claimed: num(reply[0]) === 1, nowMs: num(reply[1]) }
  }

  async close(): Promise<void> {
    this.#closed = true
    const blocking = this.#blocking
    this.#blocking = undefined
    if (blocking !== undefined) await (await blocking.catch(() => undefined))?.close()
  }
}

/** The events of each entry of an XRANGE / XREAD reply, entry by entry. */
function entriesOf(reply: RedisReply): QueueEvent[][] {
  if (!Array.isArray(reply)) return []
  return reply.map((entry) => {
    const [id, flat] = entry as [RedisReply, RedisReply[]]
    return parseEntry(replyText(id), (flat ?? []).map(replyText))
  })
}
