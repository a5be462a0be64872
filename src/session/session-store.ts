import { ValkitError } from '../core/index.js'
import type { RecordMeta } from './record-codec.js'
import { applyChanges, splitChanges } from './session-changes.js'
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
  SessionRegenerateOptions,
  SessionRegenerateResult,
  SessionUpdateOptions,
  SessionUpdateResult,
  SessionWriteRefusal,
} from './session-types.js'
import type { StoreContext } from './store-context.js'
import type { SessionReads } from './session-reads.js'
import { StoredSession } from './stored-session.js'

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
/** Attempts of an update that keeps meeting newer versions (each one is a full round trip). */
const MAX_UPDATE_ATTEMPTS = 64

type Refusal = { ok: false; reason: SessionWriteRefusal; version?: number }

/**
 * Create, update, destroy and regenerate: the per-session writes of a store.
 *
 * @internal
 */
export class SessionOperations {
  private readonly source: 'redis' | 'memory'

  constructor(
    private readonly ctx: StoreContext,
    readonly reads: SessionReads,
  ) {
    this.source = ctx.backend.kind
  }

  private checkFields(data: Readonly<Record<string, unknown>>): boolean {
    return Object.keys(data).length <= this.ctx.options.maxFields
  }

  async create(options: SessionCreateOptions = {}): Promise<Session> {
    const userId = options.userId === undefined ? null : checkUserId(options.userId)
    const device = checkDevice(options.device)
    const { set } = splitChanges({ set: options.data ?? {} })
    const data = applyChanges({}, set, new Set())
    if (!this.checkFields(data)) {
      throw new ValkitError(
        'VALKIT_INVALID_ARGUMENT',
        `A session may have at most ${this.ctx.options.maxFields} fields (maxFields); got ${set.size}.`,
        { details: { argument: 'data' } },
      )
    }
    const tag = userId === null ? anonymousTag() : userTag(userId)
    const created = await this.insert(tag, { userId, device }, data, {
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
    meta: RecordMeta,
    data: Readonly<Record<string, unknown>>,
    inherit: { createdAt: number; absoluteDeadline: number; previous: string | null },
  ): Promise<StoredSession | 'revoked' | 'expired'> {
    const { codec, options, backend, signer } = this.ctx
    for (let attempt = 0; ; attempt++) {
      const id = newSessionId(tag)
      const ref = this.ctx.keys.ref(id)
      const bytes = codec.encode(ref.handle, meta, data)
      const reply = await backend.create(ref, {
        idleMs: options.idleTimeoutMs,
        absoluteDeadline: inherit.absoluteDeadline,
        absoluteMs: options.absoluteTimeoutMs,
        createdAt: inherit.createdAt,
        owned: meta.userId !== null,
        maxPerUser: options.maxSessionsPerUser,
        indexTtlMs: options.absoluteTimeoutMs + INDEX_MARGIN_MS,
        previous: inherit.previous,
        data: bytes,
      })
      if (reply === 'exists' && attempt < 2) continue // 144 random bits: not in this universe
      if (reply === 'exists')
        throw new ValkitError('VALKIT_SCRIPT', 'session: could not find a free session ID.')
      if (reply === 'revoked' || reply === 'expired') return reply
      this.ctx.counters.created++
      this.ctx.metrics.created.inc()
      this.ctx.ended('evicted', reply.evicted)
      // Decoding what was written gives the caller its own frozen copy (and warms the cache).
      const frozen = codec.decode(ref.handle, bytes, meta.userId !== null, 1).data
      return new StoredSession(
        id,
        ref.handle,
        {
          ...meta,
          version: 1,
          createdAt: reply.createdAt,
          lastSeenAt: reply.now,
          expiresAt: reply.expiresAt,
          absoluteExpiresAt: reply.absoluteDeadline,
          renewDue: false,
          readOnly: false,
          source: this.source,
          data: frozen,
        },
        signer,
      )
    }
  }

  /**
   * Check-and-set writes of the whole data, merged field by field: the changes are applied to
   * the version read; when the record has moved on, to the version the script sends back, and
   * written again (unless `ifVersion` asked for that exact version).
   */
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
    if (ctx.backend.kind === 'redis' && ctx.valkit.supervisor.backend !== 'redis') {
      const err = new ValkitError(
        'VALKIT_UNAVAILABLE',
        'Cannot update the session: Redis/Valkey is unreachable.',
        {
          details: { operation: 'update', state: ctx.valkit.supervisor.state },
        },
      )
      ctx.failed(err)
      throw err
    }
    const ref = ctx.keys.ref(id)
    let base: { version: number; meta: RecordMeta; data: Readonly<Record<string, unknown>> }
    if (session instanceof StoredSession && session.source !== 'local-copy' && !session.readOnly) {
      base = { version: session.version, meta: session, data: session.data }
    } else {
      const lookup = await this.reads.read(id, { touch: false })
      if (!lookup.found)
        return {
          ok: false,
          reason: lookup.reason === 'malformed' || lookup.reason === 'forged' ? 'none' : lookup.reason,
        }
      if (lookup.session.readOnly) return { ok: false, reason: 'rotated' }
      base = { version: lookup.session.version, meta: lookup.session, data: lookup.session.data }
    }
    if (expectedVersion !== null && expectedVersion !== base.version) {
      const fresh = await this.reads.read(id, { touch: false })
      if (!fresh.found)
        return {
          ok: false,
          reason: fresh.reason === 'malformed' || fresh.reason === 'forged' ? 'none' : fresh.reason,
        }
      if (fresh.session.version !== expectedVersion) return this.conflict(fresh.session.version)
      base = { version: fresh.session.version, meta: fresh.session, data: fresh.session.data }
    }
    for (let attempt = 1; ; attempt++) {
      const next = applyChanges(base.data, set, unset)
      if (!this.checkFields(next)) return { ok: false, reason: 'too-many-fields' }
      const meta = { userId: base.meta.userId, device: base.meta.device }
      let reply
      try {
        reply = await ctx.backend.update(ref, {
          version: base.version,
          data: ctx.codec.encode(ref.handle, meta, next),
        })
      } catch (err) {
        ctx.failed(err)
        throw err
      }
      if (typeof reply === 'string') return this.refused(ref, reply)
      if ('version' in reply) return { ok: true, version: reply.version }
      if (expectedVersion !== null || attempt >= MAX_UPDATE_ATTEMPTS) return this.conflict(reply.conflict)
      try {
        const current = ctx.codec.decode(ref.handle, reply.data, base.meta.userId !== null, reply.conflict)
        base = { version: reply.conflict, meta: current.meta, data: current.data }
      } catch (err) {
        await ctx.quarantine(ref, ctx.reasonOf(err))
        return { ok: false, reason: 'corrupt' }
      }
    }
  }

  private conflict(version: number): Refusal {
    this.ctx.counters.conflicts++
    this.ctx.metrics.conflicts.inc()
    return { ok: false, reason: 'conflict', version }
  }

  /** A refused write as a result (quarantining a malformed record on the way). */
  private async refused(
    ref: RecordRef,
    reply: 'none' | 'expired' | 'revoked' | 'rotated' | 'malformed',
  ): Promise<Refusal> {
    if (reply === 'malformed') {
      await this.ctx.quarantine(ref, 'malformed')
      return { ok: false, reason: 'corrupt' }
    }
    if (reply === 'expired') this.ctx.ended('expired')
    this.ctx.codec.forget(ref.handle)
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
    ctx.codec.forget(ref.handle)
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
    if (typeof retired === 'string') return this.refused(ref, retired)
    if ('conflict' in retired) return this.conflict(retired.conflict)
    let old
    try {
      old = ctx.codec.decode(ref.handle, retired.record.data!, retired.record.owned)
    } catch (err) {
      await ctx.quarantine(ref, ctx.reasonOf(err))
      return { ok: false, reason: 'corrupt' }
    }
    const userId = wantedUser === undefined ? old.meta.userId : wantedUser
    const sameUser = userId === old.meta.userId
    const tag = userId !== null ? userTag(userId) : sameUser ? tagOf(id) : anonymousTag()
    const data = applyChanges(options.keepData === false ? {} : old.data, set, unset)
    let created
    try {
      created = await this.insert(
        tag,
        { userId, device: wantedDevice === undefined ? old.meta.device : wantedDevice },
        data,
        sameUser
          ? {
              createdAt: retired.record.createdAt,
              absoluteDeadline: retired.record.absoluteDeadline,
              previous: retired.record.owned ? ref.handle : null,
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
