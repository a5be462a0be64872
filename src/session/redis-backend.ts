import {
  ValkitError,
  createMultiCallBatcher,
  loadScript,
  withKeyCount,
  type RedisArg,
  type RedisReply,
  type Script,
  type ScriptCall,
  type Valkit,
} from '../core/index.js'
import {
  GONE,
  TRIM_LIMIT,
  type FetchedRecord,
  type RawRecord,
  type CreateReply,
  type CreateSpec,
  type RemoveUserSpec,
  type RetireReply,
  type SessionBackend,
  type TouchOptions,
  type TouchReply,
  type UpdateReply,
  type UpdateSpec,
  type UserListing,
} from './session-backend.js'
import { BoundedCache } from './bounded-cache.js'
import type { RecordRef, SessionKeys, UserRef } from './session-keys.js'

const load = (file: string, numberOfKeys: number): Script =>
  loadScript(new URL(`./scripts/${file}`, import.meta.url), { numberOfKeys })

const TOUCH = load('touch-session-2.lua', 2)
const CREATE = load('create-session-2.lua', 2)
const UPDATE = load('update-session-2.lua', 2)
const DESTROY = load('destroy-session-2.lua', 2)
const RETIRE = load('retire-session-2.lua', 2)
const QUARANTINE = load('quarantine-session-4.lua', 4)
const LIST = load('list-sessions-2.lua', 2)
const REMOVE_USER = load('remove-user-n.lua', 3)
/** `remove-user-n` for one call's key count (same source and SHA). */
const removeUser = (numberOfKeys: number): Script => withKeyCount(REMOVE_USER, numberOfKeys)

const BUFFERS = Object.freeze({ buffers: true as const })
const TOUCH_ON = '1'
const TOUCH_OFF = '0'
const TRIM = String(TRIM_LIMIT)

/** SCAN pages per counting step, keys asked per page, and how often a step runs. */
const PAGES_PER_STEP = 10
const SCAN_COUNT = 1000
const COUNT_INTERVAL_MS = 5000

function text(reply: RedisReply): string {
  if (Buffer.isBuffer(reply)) return reply.toString('latin1')
  return typeof reply === 'string' || typeof reply === 'number' ? String(reply) : ''
}

const num = (reply: RedisReply | undefined): number =>
  Number(Buffer.isBuffer(reply) ? reply.toString('latin1') : reply)

/** `version, created, absolute deadline, last seen, rotated until, owned, data` from `at` on. */
function rawRecord(reply: readonly RedisReply[], at: number): RawRecord {
  const data = reply[at + 6]
  return {
    version: num(reply[at]),
    createdAt: num(reply[at + 1]),
    absoluteDeadline: num(reply[at + 2]),
    lastSeenAt: num(reply[at + 3]),
    rotatedUntil: num(reply[at + 4]),
    owned: num(reply[at + 5]) === 1,
    data: Buffer.isBuffer(data) ? data : data === undefined ? null : Buffer.alloc(0),
  }
}

/** `work`, or a rejection after `ms` (a frozen node must not stall the count forever). */
function deadline<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no SCAN reply within ${ms} ms`)), ms)
    timer.unref()
  })
  return Promise.race([work, expired]).finally(() => clearTimeout(timer))
}

/** What stays the same across the reads of one version of a record. */
interface HeldVersion {
  readonly version: number
  /** The version as the script compares it. */
  readonly text: string
  readonly createdAt: number
  readonly absoluteDeadline: number
}

/** Length of the touch script's reply at a version the caller holds (status, now, expires, due, last seen, owned). */
const SHORT_TOUCH = 6

/** The touch script's reply: per read its length, then its reply (a code alone, or the list). */
function splitTouches(reply: RedisReply, calls: readonly ScriptCall[]): RedisReply[] {
  const all = reply as RedisReply[]
  const out: RedisReply[] = new Array<RedisReply>(calls.length)
  for (let i = 0, at = 0; i < calls.length; i++) {
    const length = Number(all[at])
    out[i] =
      length === 1 && typeof all[at + 1] === 'number' ? all[at + 1]! : all.slice(at + 1, at + 1 + length)
    at += 1 + length
  }
  return out
}

/** The session store's backend on Redis/Valkey: every state change is one script. @internal */
export class RedisSessionBackend implements SessionBackend {
  readonly kind = 'redis'
  private records: number | undefined
  private readonly timer: NodeJS.Timeout
  private pass: {
    nodes: { command(args: readonly RedisArg[]): Promise<RedisReply> }[]
    node: number
    cursor: string
    count: number
  } | null = null
  private counting = false
  /** Reads of one turn of the event loop travel in one script run (per Cluster slot). */
  private readonly touches: (read: ScriptCall) => Promise<RedisReply>
  /**
   * Per handle, the fields that are fixed for a version of its record: a read at a version the
   * caller holds gets them from here, and the touch script sends only what a touch changes.
   */
  private readonly held: BoundedCache<string, HeldVersion>

  constructor(
    private readonly valkit: Valkit,
    private readonly keys: SessionKeys,
    cacheEntries: number,
  ) {
    this.held = new BoundedCache(cacheEntries)
    this.touches = createMultiCallBatcher(valkit.connection, TOUCH, {
      bySlot: valkit.config.topology.kind === 'cluster',
      buffers: true,
      split: splitTouches,
    })
    this.timer = setInterval(() => void this.countStep(), COUNT_INTERVAL_MS)
    this.timer.unref()
  }

  /**
   * Runs a script, failing fast while the supervisor says Redis/Valkey is unusable (degraded or
   * recovering): a session operation then gets a prompt `VALKIT_UNAVAILABLE`, not a timeout.
   */
  private run(script: Script, keys: readonly RedisArg[], args: readonly RedisArg[]): Promise<RedisReply> {
    if (this.valkit.supervisor.backend !== 'redis') return Promise.reject(this.down())
    return this.valkit.connection.script(script, keys, args, BUFFERS)
  }

  private down(): ValkitError {
    return new ValkitError(
      'VALKIT_UNAVAILABLE',
      `Redis/Valkey is unreachable (the connection is ${this.valkit.supervisor.state}).`,
      { details: { state: this.valkit.supervisor.state } },
    )
  }

  async touch(ref: RecordRef, options: TouchOptions, knownVersion: string): Promise<TouchReply> {
    if (this.valkit.supervisor.backend !== 'redis') throw this.down()
    const held = knownVersion === '' ? undefined : this.held.get(ref.handle)
    // the caller holds the data; the version is worth naming only when its fixed fields are here too
    const known = held !== undefined && held.text === knownVersion ? held : undefined
    const reply = await this.touches({
      keys: [ref.record, ref.index],
      args: [
        ref.handle,
        options.touch ? TOUCH_ON : TOUCH_OFF,
        options.renewAfterMs,
        options.touchIntervalMs,
        known === undefined ? '' : known.text,
      ],
    })
    if (typeof reply === 'number') return GONE[reply] ?? 'malformed'
    const list = reply as RedisReply[]
    const kind = list[0] === 2 ? 'alias' : 'live'
    const now = num(list[1])
    const expiresAt = num(list[2])
    const renewDue = list[3] === 1
    if (list.length === SHORT_TOUCH && known !== undefined) {
      const record: RawRecord = {
        version: known.version,
        createdAt: known.createdAt,
        absoluteDeadline: known.absoluteDeadline,
        lastSeenAt: num(list[4]),
        rotatedUntil: kind === 'alias' ? expiresAt : 0,
        owned: num(list[5]) === 1,
        data: null,
      }
      return { kind, now, expiresAt, renewDue, record }
    }
    const record = rawRecord(list, 4)
    if (Number.isSafeInteger(record.version)) {
      this.held.set(ref.handle, {
        version: record.version,
        text: String(record.version),
        createdAt: record.createdAt,
        absoluteDeadline: record.absoluteDeadline,
      })
    }
    return { kind, now, expiresAt, renewDue, record }
  }

  async create(ref: RecordRef, spec: CreateSpec): Promise<CreateReply> {
    const args: RedisArg[] = [
      ref.handle,
      spec.idleMs,
      spec.absoluteDeadline,
      spec.absoluteMs,
      spec.createdAt,
      spec.owned ? '1' : '0',
      spec.maxPerUser,
      spec.indexTtlMs,
      TRIM,
      spec.previous ?? '',
      spec.data,
    ]
    const reply = await this.run(CREATE, [ref.record, ref.index], args)
    if (reply === -7) return 'exists'
    if (reply === -3) return 'expired'
    if (reply === -2) return 'revoked'
    const list = reply as number[]
    return {
      now: num(list[1]),
      expiresAt: num(list[2]),
      evicted: num(list[3]),
      absoluteDeadline: num(list[4]),
      createdAt: num(list[5]),
    }
  }

  async update(ref: RecordRef, spec: UpdateSpec): Promise<UpdateReply> {
    const reply = await this.run(UPDATE, [ref.record, ref.index], [ref.handle, spec.version, spec.data])
    if (typeof reply === 'number') return GONE[reply] ?? 'malformed'
    const list = reply as RedisReply[]
    if (list[0] !== -5) return { version: num(list[1]) }
    const data = list[2]
    return { conflict: num(list[1]), data: Buffer.isBuffer(data) ? data : Buffer.alloc(0) }
  }

  async destroy(ref: RecordRef): Promise<boolean> {
    return (await this.run(DESTROY, [ref.record, ref.index], [ref.handle])) === 1
  }

  async retire(ref: RecordRef, overlapMs: number, expectedVersion: number | null): Promise<RetireReply> {
    const reply = await this.run(
      RETIRE,
      [ref.record, ref.index],
      [ref.handle, overlapMs, expectedVersion === null ? '' : expectedVersion],
    )
    if (typeof reply === 'number') return GONE[reply] ?? 'malformed'
    const list = reply as RedisReply[]
    if (list[0] === -5) return { conflict: num(list[1]) }
    return { now: num(list[1]), record: rawRecord(list, 2) }
  }

  async quarantine(ref: RecordRef, ttlMs: number): Promise<boolean> {
    const reply = await this.run(
      QUARANTINE,
      [ref.record, ref.quarantine, ref.index, ref.quarantineIndex],
      [ref.handle, ttlMs, TRIM],
    )
    return reply === 1
  }

  async list(user: UserRef): Promise<UserListing> {
    const reply = (await this.run(LIST, [user.index, user.quarantineIndex], [TRIM])) as RedisReply[]
    const n = Number(reply[1])
    const live: [string, number][] = []
    for (let j = 0; j < n; j++) live.push([text(reply[2 + 2 * j]!), Number(text(reply[3 + 2 * j]!))])
    const quarantined: string[] = []
    for (let j = 2 + 2 * n; j < reply.length; j++) quarantined.push(text(reply[j]!))
    return { now: Number(reply[0]), live, quarantined }
  }

  async fetch(user: UserRef, handles: readonly string[]): Promise<(FetchedRecord | undefined)[]> {
    if (handles.length === 0) return []
    if (this.valkit.supervisor.backend !== 'redis') throw this.down()
    const commands = handles.map((h) => ['HMGET', user.record(h), 'v', 'c', 'a', 's', 'r', 'o', 'd', 'i'])
    const replies = await this.valkit.connection.pipeline(commands, { buffers: true, key: commands[0]![1] })
    return replies.map((reply) => {
      if (reply instanceof Error) throw reply
      const list = reply as RedisReply[]
      if (list.some((field) => field === null || field === undefined)) return undefined
      const record = { ...rawRecord(list, 0), idleMs: num(list[7]) }
      return Number.isSafeInteger(record.version) && Number.isSafeInteger(record.idleMs) ? record : undefined
    })
  }

  async removeUser(user: UserRef, spec: RemoveUserSpec): Promise<number | 'retry'> {
    const keys: string[] = [user.index, user.quarantineIndex]
    for (const h of spec.sessions) keys.push(user.record(h))
    for (const h of spec.quarantined) keys.push(user.quarantine(h))
    const args: RedisArg[] = [
      spec.mode,
      spec.strict ? '1' : '0',
      spec.keep ?? '',
      spec.sessions.length,
      ...spec.sessions,
      ...spec.quarantined,
    ]
    const reply = await this.run(removeUser(keys.length), keys, args)
    if (reply === -8) return 'retry'
    return Number((reply as number[])[1])
  }

  count(): number | undefined {
    return this.records
  }

  close(): void {
    clearInterval(this.timer)
  }

  /** Advances the count of this store's records by a few SCAN pages (skipped while Redis is away). */
  private async countStep(): Promise<void> {
    const { valkit } = this
    if (this.counting || valkit.supervisor.backend !== 'redis') return
    this.counting = true
    const match = this.keys.recordPattern()
    try {
      this.pass ??= { nodes: await valkit.driver.masters(), node: 0, cursor: '0', count: 0 }
      const pass = this.pass
      for (let page = 0; page < PAGES_PER_STEP; page++) {
        const node = pass.nodes[pass.node]
        if (node === undefined) {
          this.records = pass.count
          this.pass = null
          return
        }
        const reply = (await deadline(
          node.command(['SCAN', pass.cursor, 'MATCH', match, 'COUNT', SCAN_COUNT]),
          Math.max(valkit.config.commandTimeoutMs, 1000),
        )) as [RedisReply, RedisReply[]]
        pass.cursor = text(reply[0])
        pass.count += reply[1].length
        if (pass.cursor === '0') pass.node++
      }
    } catch {
      this.pass = null // a count is never made of two topologies
    } finally {
      this.counting = false
    }
  }
}
