import { ValkitError } from '../core/index.js'
import { CorruptRecord } from './record-codec.js'
import type { TouchOptions } from './session-backend.js'
import { encodeSets, sha1Hex, splitChanges } from './session-changes.js'
import {
  anonymousTag,
  checkUserId,
  handleOf,
  isSessionId,
  newSessionId,
  tagOf,
  userTag,
} from './session-id.js'
import type { RecordRef } from './session-keys.js'
import type {
  Session,
  SessionChanges,
  SessionCreateOptions,
  SessionLookup,
  SessionReadOptions,
  SessionRegenerateOptions,
  SessionRegenerateResult,
  SessionUpdateOptions,
  SessionUpdateResult,
  SessionWriteRefusal,
} from './session-types.js'
import { isTransportError, type StoreContext } from './store-context.js'
import { StoredSession, frozenData, rekeyOf } from './stored-session.js'

const MAX_DEVICE = 256
/** An index outlives the longest session of its user by this much. */
const INDEX_MARGIN_MS = 60_000

function checkDevice(device: unknown): string | null {
  if (device === undefined || device === null) return null
  if (typeof device !== 'string' || device.length > MAX_DEVICE) {
    throw new ValkitError(
      'VALKIT_INVALID_ARGUMENT',
      `Invalid device: expected a string of at most ${MAX_DEVICE} characters.`,
      {
        details: { argument: 'device' },
      },
    )
  }
  return device
}

function checkVersion(version: unknown): number | null {
  if (version === undefined) return null
  if (typeof version !== 'number' || !Number.isSafeInteger(version) || version < 1) {
    throw new ValkitError(
      'VALKIT_INVALID_ARGUMENT',
      'Invalid ifVersion: expected the integer version of a session you read.',
      {
        details: { argument: 'ifVersion' },
      },
    )
  }
  return version
}

const idOf = (session: Session | string): string => (typeof session === 'string' ? session : session?.id)

/**
 * Create, read, update, destroy and regenerate: the per-session operations of a store.
 *
 * @internal
 */
export class SessionOperations {
  private readonly touchOn: TouchOptions
  private readonly touchOff: TouchOptions
  private readonly source: 'redis' | 'memory'

  constructor(private readonly ctx: StoreContext) {
    const { renewAfterMs, touchIntervalMs } = ctx.options
    this.touchOn = { touch: true, renewAfterMs, touchIntervalMs }
    this.touchOff = { touch: false, renewAfterMs, touchIntervalMs }
    this.source = ctx.backend.kind
  }

  async create(options: SessionCreateOptions = {}): Promise<Session> {
    const userId = options.userId === undefined ? null : checkUserId(options.userId)
    const device = checkDevice(options.device)
    const { set } = splitChanges({ set: options.data ?? {} })
    if (set.size > this.ctx.options.maxFields) {
      throw new ValkitError(
        'VALKIT_INVALID_ARGUMENT',
        `A session may have at most ${this.ctx.options.maxFields} fields (maxFields); got ${set.size}.`,
        { details: { argument: 'data' } },
      )
    }
    const tag = userId === null ? anonymousTag() : userTag(userId)
    const created = await this.insert(tag, { userId, device }, set, {
      createdAt: 0,
      absoluteDeadline: 0,
      previous: null,
    })
    // A fresh session replaces nothing and starts its own deadline: neither refusal can happen.
    if (typeof created === 'string')
      throw new ValkitError('VALKIT_SCRIPT', `session: create was refused (${created}).`)
    return created
  }

  /** Writes a new record under a fresh ID of `tag` (a second ID if the first one exists). */
  private async insert(
    tag: string,
    meta: { userId: string | null; device: string | null },
    data: ReadonlyMap<string, unknown>,
    inherit: { createdAt: number; absoluteDeadline: number; previous: string | null },
  ): Promise<StoredSession | 'revoked' | 'expired'> {
    const { codec, options, backend, signer } = this.ctx
    for (let attempt = 0; ; attempt++) {
      const id = newSessionId(tag)
      const ref = this.ctx.keys.ref(id)
      const fields = encodeSets(codec, id, ref.handle, data)
      fields.push(['m', codec.encodeMeta(ref.handle, meta)])
      const reply = await backend.create(ref, {
        idleMs: options.idleTimeoutMs,
        absoluteDeadline: inherit.absoluteDeadline,
        absoluteMs: options.absoluteTimeoutMs,
        createdAt: inherit.createdAt,
        owned: meta.userId !== null,
        maxPerUser: options.maxSessionsPerUser,
        indexTtlMs: options.absoluteTimeoutMs + INDEX_MARGIN_MS,
        previous: inherit.previous,
        fields,
      })
      if (reply === 'exists' && attempt < 2) continue // 144 random bits: not in this universe
      if (reply === 'exists')
        throw new ValkitError('VALKIT_SCRIPT', 'session: could not find a free session ID.')
      if (reply === 'revoked' || reply === 'expired') return reply
      this.ctx.counters.created++
      this.ctx.metrics.created.inc()
      this.ctx.ended('evicted', reply.evicted)
      return new StoredSession(
        id,
        ref.handle,
        {
          ...meta,
          version: 1,
          createdAt: inherit.createdAt === 0 ? reply.now : inherit.createdAt,
          lastSeenAt: reply.now,
          expiresAt: reply.expiresAt,
          absoluteExpiresAt:
            inherit.absoluteDeadline === 0 ? reply.now + options.absoluteTimeoutMs : inherit.absoluteDeadline,
          renewDue: false,
          readOnly: false,
          source: this.source,
          data: frozenData(new Map(data)),
        },
        signer,
      )
    }
  }

  async load(token: string | undefined | null, options?: SessionReadOptions): Promise<SessionLookup> {
    if (token === undefined || token === null || token === '') return this.miss('none')
    const verified = this.ctx.signer.verify(token)
    if ('problem' in verified) {
      this.ctx.counters.rejectedTokens++
      this.ctx.metrics.rejected(verified.problem)
      return this.miss(verified.problem === 'signature' ? 'forged' : 'malformed')
    }
    return this.read(verified.id, options)
  }

  async read(id: string, options?: SessionReadOptions): Promise<SessionLookup> {
    const { ctx } = this
    if (!isSessionId(id)) return this.miss('malformed')
    const ref = ctx.keys.ref(id)
    ctx.counters.reads++
    if (ctx.local !== null && ctx.valkit.supervisor.backend !== 'redis')
      return this.fromLocal(ref, id, undefined)
    let reply
    try {
      reply = await ctx.backend.touch(ref, options?.touch === false ? this.touchOff : this.touchOn)
    } catch (err) {
      ctx.failed(err)
      if (ctx.local !== null && isTransportError(err)) return this.fromLocal(ref, id, err)
      throw err
    }
    if (typeof reply === 'string') {
      if (reply === 'malformed') {
        await ctx.quarantine(ref, 'malformed')
        return this.miss('corrupt')
      }
      ctx.metrics.read(reply)
      if (reply === 'expired') ctx.ended('expired')
      ctx.local?.dropHandle(ref.handle)
      return this.miss(reply)
    }
    let decoded
    try {
      decoded = ctx.codec.decode(ref.handle, reply.fields)
    } catch (err) {
      await ctx.quarantine(ref, ctx.reasonOf(err))
      return this.miss('corrupt')
    }
    ctx.metrics.read(reply.kind)
    ctx.local?.remember(ref.handle, {
      id,
      tag: ref.tag,
      fields: reply.fields,
      kind: reply.kind,
      serverNow: reply.now,
      localAt: Date.now(),
      expiresAt: reply.expiresAt,
    })
    const session = new StoredSession(
      id,
      ref.handle,
      {
        userId: decoded.meta.userId,
        device: decoded.meta.device,
        version: decoded.version,
        createdAt: decoded.createdAt,
        lastSeenAt: decoded.lastSeenAt,
        expiresAt: reply.expiresAt,
        absoluteExpiresAt: decoded.absoluteDeadline,
        renewDue: reply.renewDue,
        readOnly: reply.kind === 'alias',
        source: this.source,
        data: frozenData(decoded.data),
      },
      ctx.signer,
      rekeyOf(decoded, reply.fields),
    )
    return { found: true, session }
  }

  /** A read while Redis cannot answer: the local copy, or the transport error. */
  private fromLocal(ref: RecordRef, id: string, err: unknown): SessionLookup {
    const { ctx } = this
    const snapshot = ctx.local!.get(ref.handle, id)
    if (snapshot === undefined) {
      if (err instanceof Error) throw err
      throw new ValkitError(
        'VALKIT_UNAVAILABLE',
        'Cannot read the session: Redis/Valkey is unreachable and this instance holds no recent copy of it.',
        { details: { operation: 'read' } },
      )
    }
    let decoded
    try {
      decoded = ctx.codec.decode(ref.handle, snapshot.fields)
    } catch {
      ctx.local!.dropHandle(ref.handle)
      return this.miss('corrupt')
    }
    ctx.counters.localReads++
    ctx.metrics.localReads.inc()
    const session = new StoredSession(
      id,
      ref.handle,
      {
        userId: decoded.meta.userId,
        device: decoded.meta.device,
        version: decoded.version,
        createdAt: decoded.createdAt,
        lastSeenAt: decoded.lastSeenAt,
        expiresAt: snapshot.expiresAt,
        absoluteExpiresAt: decoded.absoluteDeadline,
        renewDue: false,
        readOnly: true,
        source: 'local-copy',
        data: frozenData(decoded.data),
      },
      ctx.signer,
    )
    return { found: true, session }
  }

  private miss(reason: Exclude<SessionLookup, { found: true }>['reason']): SessionLookup {
    this.ctx.counters.misses++
    return { found: false, reason }
  }

  async update(
    session: Session | string,
    changes: SessionChanges,
    options: SessionUpdateOptions = {},
  ): Promise<SessionUpdateResult> {
    const { ctx } = this
    const id = idOf(session)
    const expectedVersion = checkVersion(options.ifVersion)
    const { set, unset } = splitChanges(changes)
    if (!isSessionId(id)) return { ok: false, reason: 'none' }
    const ref = ctx.keys.ref(id)
    const sets = encodeSets(ctx.codec, id, ref.handle, set)
    const del = [...unset].map((name) => ctx.codec.fieldOf(id, name))
    const written = new Set([...sets.map(([field]) => field), ...del])
    const cas: [string, string, Buffer][] = []
    const rekey = session instanceof StoredSession ? session.rekey : undefined
    for (const [field, bytes] of rekey?.stale ?? []) {
      if (!written.has(field)) cas.push([field, sha1Hex(bytes), ctx.codec.reencrypt(bytes)])
    }
    let reply
    try {
      reply = await ctx.backend.update(ref, {
        expectedVersion,
        maxFields: ctx.options.maxFields,
        set: sets,
        del,
        cas,
      })
    } catch (err) {
      ctx.failed(err)
      throw err
    }
    if (typeof reply === 'object' && 'version' in reply) return { ok: true, version: reply.version }
    return this.refused(ref, reply)
  }

  /** A refused write as a result (quarantining a malformed record on the way). */
  private async refused(
    ref: RecordRef,
    reply:
      { conflict: number } | 'none' | 'expired' | 'revoked' | 'rotated' | 'malformed' | 'too-many-fields',
  ): Promise<{ ok: false; reason: SessionWriteRefusal; version?: number }> {
    if (typeof reply === 'object') {
      this.ctx.counters.conflicts++
      this.ctx.metrics.conflicts.inc()
      return { ok: false, reason: 'conflict', version: reply.conflict }
    }
    if (reply === 'malformed') {
      await this.ctx.quarantine(ref, 'malformed')
      return { ok: false, reason: 'corrupt' }
    }
    if (reply === 'expired') this.ctx.ended('expired')
    return { ok: false, reason: reply }
  }

  async destroy(session: Session | string): Promise<boolean> {
    const { ctx } = this
    const id = idOf(session)
    if (!isSessionId(id)) return false
    const ref = ctx.keys.ref(id)
    let destroyed: boolean
    try {
      destroyed = await ctx.backend.destroy(ref)
    } catch (err) {
      throw ctx.failClosed('destroy the session', err)
    }
    ctx.publish(`s ${ref.handle}`)
    if (destroyed) ctx.ended('destroy')
    return destroyed
  }

  async regenerate(
    session: Session | string,
    options: SessionRegenerateOptions = {},
  ): Promise<SessionRegenerateResult> {
    const { ctx } = this
    const id = idOf(session)
    const expectedVersion = checkVersion(options.ifVersion)
    const { set, unset } = splitChanges(options.changes)
    const wantedUser =
      options.userId === undefined ? undefined : options.userId === null ? null : checkUserId(options.userId)
    const wantedDevice = options.device === undefined ? undefined : checkDevice(options.device)
    if (!isSessionId(id)) return { ok: false, reason: 'none' }
    const ref = ctx.keys.ref(id)
    let retired
    try {
      retired = await ctx.backend.retire(ref, ctx.options.overlapMs, expectedVersion)
    } catch (err) {
      throw ctx.failClosed('regenerate the session', err)
    }
    ctx.publish(`s ${ref.handle}`)
    if (typeof retired === 'string' || 'conflict' in retired) return this.refused(ref, retired)
    let old
    try {
      old = ctx.codec.decode(ref.handle, retired.fields)
    } catch (err) {
      await ctx.quarantine(ref, err instanceof CorruptRecord ? err.reason : 'format')
      return { ok: false, reason: 'corrupt' }
    }
    const userId = wantedUser === undefined ? old.meta.userId : wantedUser
    const sameUser = userId === old.meta.userId
    const tag = userId !== null ? userTag(userId) : sameUser ? tagOf(id) : anonymousTag()
    const data = new Map(options.keepData === false ? [] : old.data)
    for (const name of unset) data.delete(name)
    for (const [name, value] of set) data.set(name, value)
    let created
    try {
      created = await this.insert(
        tag,
        { userId, device: wantedDevice === undefined ? old.meta.device : wantedDevice },
        data,
        sameUser
          ? {
              createdAt: old.createdAt,
              absoluteDeadline: old.absoluteDeadline,
              previous: old.owned ? ref.handle : null,
            }
          : { createdAt: 0, absoluteDeadline: 0, previous: null },
      )
    } catch (err) {
      throw ctx.failClosed('regenerate the session', err)
    }
    if (created === 'revoked' || created === 'expired') {
      if (created === 'expired') ctx.ended('expired')
      return { ok: false, reason: created }
    }
    ctx.counters.rotated++
    ctx.metrics.rotated.inc()
    return { ok: true, session: created }
  }

  /** The handle of a session given as a Session, an ID or a handle. */
  static handleOf(value: Session | string): string {
    if (typeof value !== 'string') return value.handle
    return isSessionId(value) ? handleOf(value) : value
  }
}
