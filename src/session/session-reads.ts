import { ValkitError } from '../core/index.js'
import type { RawRecord, TouchOptions } from './session-backend.js'
import { isSessionId } from './session-id.js'
import type { RecordRef } from './session-keys.js'
import type { SessionLookup, SessionReadOptions } from './session-types.js'
import { isTransportError, type StoreContext } from './store-context.js'
import { StoredSession } from './stored-session.js'

/**
 * Reads of a store: `load` (cookie token), `read` (session ID), and the local copy while Redis
 * is unreachable.
 *
 * @internal
 */
export class SessionReads {
  private readonly touchOn: TouchOptions
  private readonly touchOff: TouchOptions
  private readonly source: 'redis' | 'memory'

  constructor(private readonly ctx: StoreContext) {
    const renewAfterMs = String(ctx.options.renewAfterMs)
    const touchIntervalMs = String(ctx.options.touchIntervalMs)
    this.touchOn = { touch: true, renewAfterMs, touchIntervalMs }
    this.touchOff = { touch: false, renewAfterMs, touchIntervalMs }
    this.source = ctx.backend.kind
  }

  load(token: string | undefined | null, options?: SessionReadOptions): Promise<SessionLookup> {
    if (token === undefined || token === null || token === '') return Promise.resolve(this.miss('none'))
    const verified = this.ctx.signer.verify(token)
    if ('problem' in verified) {
      this.ctx.counters.rejectedTokens++
      this.ctx.metrics.rejected(verified.problem)
      return Promise.resolve(this.miss(verified.problem === 'signature' ? 'forged' : 'malformed'))
    }
    return this.readVerified(verified.id, options)
  }

  read(id: string, options?: SessionReadOptions): Promise<SessionLookup> {
    if (!isSessionId(id)) return Promise.resolve(this.miss('malformed'))
    return this.readVerified(id, options)
  }

  /** A read of an ID known to be well formed. */
  async readVerified(id: string, options?: SessionReadOptions, known?: string): Promise<SessionLookup> {
    const { ctx } = this
    const ref = ctx.keys.ref(id)
    ctx.counters.reads++
    if (ctx.local !== null && ctx.valkit.supervisor.backend !== 'redis')
      return this.fromLocal(ref, id, undefined)
    let reply
    // Taken before the call: the server reads its clock after this, so the copy's estimate of the
    // server's time (see LocalCopies.get) errs early, however long the reply took to be handled.
    const sentAt = performance.now()
    try {
      reply = await ctx.backend.touch(
        ref,
        options?.touch === false ? this.touchOff : this.touchOn,
        known ?? ctx.codec.known(ref.handle),
      )
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
      ctx.codec.forget(ref.handle)
      return this.miss(reply)
    }
    if (
      reply.record.data === null &&
      ctx.codec.cached(ref.handle, reply.record.version, reply.record.owned) === undefined
    ) {
      // The cache dropped the data it said it held: read again, asking for it.
      return this.readVerified(id, { touch: false }, '')
    }
    const session = this.toSession(
      id,
      ref,
      reply.record,
      reply.expiresAt,
      reply.renewDue,
      reply.kind === 'alias',
      this.source,
    )
    if (!(session instanceof StoredSession)) {
      await ctx.quarantine(ref, session.corrupt)
      return this.miss('corrupt')
    }
    ctx.metrics.read(reply.kind)
    ctx.local?.remember(ref.handle, {
      id,
      tag: ref.tag,
      record: reply.record,
      kind: reply.kind,
      serverNow: reply.now,
      localAt: sentAt,
      expiresAt: reply.expiresAt,
    })
    return { found: true, session }
  }

  /** A session from a raw record, or why the record cannot be trusted (the caller quarantines it). */
  private toSession(
    id: string,
    ref: RecordRef,
    record: RawRecord,
    expiresAt: number,
    renewDue: boolean,
    readOnly: boolean,
    source: 'redis' | 'memory' | 'local-copy',
  ): StoredSession | { corrupt: string } {
    const { ctx } = this
    let decoded
    try {
      decoded =
        record.data === null
          ? ctx.codec.cached(ref.handle, record.version, record.owned)!
          : ctx.codec.decode(ref.handle, record.data, record.owned, record.version)
    } catch (err) {
      return { corrupt: ctx.reasonOf(err) }
    }
    return new StoredSession(
      id,
      ref.handle,
      {
        userId: decoded.meta.userId,
        device: decoded.meta.device,
        version: record.version,
        createdAt: record.createdAt,
        lastSeenAt: record.lastSeenAt,
        expiresAt,
        absoluteExpiresAt: record.absoluteDeadline,
        renewDue,
        readOnly,
        source,
        data: decoded.data,
      },
      ctx.signer,
    )
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
    const session = this.toSession(id, ref, snapshot.record, snapshot.expiresAt, false, true, 'local-copy')
    if (!(session instanceof StoredSession)) {
      ctx.local!.dropHandle(ref.handle)
      return this.miss('corrupt')
    }
    ctx.counters.localReads++
    ctx.metrics.localReads.inc()
    return { found: true, session }
  }

  miss(reason: Exclude<SessionLookup, { found: true }>['reason']): SessionLookup {
    this.ctx.counters.misses++
    return { found: false, reason }
  }
}
