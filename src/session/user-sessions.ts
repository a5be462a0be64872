import { ValkitError } from '../core/index.js'
import { expiryOf, type UserListing } from './session-backend.js'
import { isHandle } from './session-id.js'
import type { UserRef } from './session-keys.js'
import type { Session, SessionInfo, SessionUserExport } from './session-types.js'
import { SessionOperations } from './session-store.js'
import type { StoreContext } from './store-context.js'

/** Strict attempts of revoke-all / erase before the index is emptied regardless. */
const STRICT_ATTEMPTS = 3

/**
 * The per-user operations of a store: list, revoke one, revoke all, erase, export.
 *
 * @internal
 */
export class UserSessions {
  constructor(private readonly ctx: StoreContext) {}

  private async listing(ref: UserRef, operation: string): Promise<UserListing> {
    try {
      return await this.ctx.backend.list(ref)
    } catch (err) {
      throw this.ctx.failClosed(operation, err)
    }
  }

  /** The user's live records, decrypted; an untrustworthy one is quarantined and left out. */
  private async records(userId: string | number, operation: string) {
    const { ctx } = this
    const user = ctx.user(userId)
    const listing = await this.listing(user.ref, operation)
    let records
    try {
      records = await ctx.backend.fetch(
        user.ref,
        listing.live.map(([handle]) => handle),
      )
    } catch (err) {
      ctx.failed(err)
      throw err
    }
    const out: (SessionInfo & { data: Readonly<Record<string, unknown>> })[] = []
    for (let i = 0; i < records.length; i++) {
      const record = records[i]
      const [handle] = listing.live[i]!
      if (record === undefined) continue // ended since the listing
      // an index entry may outlive its session by up to an eighth of the idle timeout (its score
      // moves in steps), and the record's key by a minute more: past its expiry it is not listed
      if (expiryOf(record) <= listing.now) continue
      let decoded
      try {
        decoded = ctx.codec.decode(handle, record.data!, record.owned, record.version)
      } catch (err) {
        await ctx.quarantine(ctx.keys.refOf(user.ref.tag, handle), ctx.reasonOf(err))
        continue
      }
      if (decoded.meta.userId !== user.userId) continue // another user's tag collision: not theirs to see
      out.push({
        handle,
        device: decoded.meta.device,
        createdAt: record.createdAt,
        lastSeenAt: record.lastSeenAt,
        expiresAt: expiryOf(record),
        absoluteExpiresAt: record.absoluteDeadline,
        rotated: record.rotatedUntil > 0,
        data: decoded.data,
      })
    }
    out.sort((x, y) => x.expiresAt - y.expiresAt || (x.handle < y.handle ? -1 : 1))
    return { user, listing, sessions: out }
  }

  async list(userId: string | number): Promise<SessionInfo[]> {
    const { sessions } = await this.records(userId, "list the user's sessions")
    return sessions.map(({ data: _data, ...info }) => info)
  }

  async revoke(userId: string | number, handle: string): Promise<boolean> {
    const { ctx } = this
    const user = ctx.user(userId)
    if (!isHandle(handle)) {
      throw new ValkitError(
        'VALKIT_INVALID_ARGUMENT',
        'Invalid handle: pass the `handle` of a session from list().',
        {
          details: { argument: 'handle' },
        },
      )
    }
    let revoked: boolean
    try {
      revoked = await ctx.backend.destroy(ctx.keys.refOf(user.ref.tag, handle))
    } catch (err) {
      throw ctx.failClosed('revoke the session', err)
    }
    ctx.publish(`s ${handle}`)
    if (revoked) ctx.ended('revoke')
    return revoked
  }

  async revokeAll(
    userId: string | number,
    options: { readonly except?: Session | string } = {},
  ): Promise<number> {
    const keep = options.except === undefined ? null : SessionOperations.handleOf(options.except)
    const { removed } = await this.remove(userId, 'revoke', keep)
    return removed
  }

  async eraseUser(
    userId: string | number,
  ): Promise<{ readonly sessions: number; readonly quarantined: number }> {
    const { listing } = await this.remove(userId, 'erase', null)
    return { sessions: listing.live.length, quarantined: listing.quarantined.length }
  }

  /**
   * Lists the user's records and removes them in one script; if a session appeared since the
   * listing, lists again (a few times), then empties the index regardless so the revocation holds.
   */
  private async remove(
    userId: string | number,
    mode: 'revoke' | 'erase',
    keep: string | null,
  ): Promise<{ removed: number; listing: UserListing }> {
    const { ctx } = this
    const user = ctx.user(userId)
    const operation = mode === 'erase' ? "erase the user's sessions" : "revoke the user's sessions"
    for (let attempt = 0; ; attempt++) {
      const listing = await this.listing(user.ref, operation)
      let removed: number | 'retry'
      try {
        removed = await ctx.backend.removeUser(user.ref, {
          mode,
          strict: attempt < STRICT_ATTEMPTS,
          keep,
          sessions: listing.live.map(([handle]) => handle),
          quarantined: mode === 'erase' ? listing.quarantined : [],
        })
      } catch (err) {
        throw ctx.failClosed(operation, err)
      }
      if (removed === 'retry') continue
      ctx.publish(`u ${user.ref.tag}`)
      const ended = listing.live.filter(([handle]) => handle !== keep).length
      ctx.ended(mode === 'erase' ? 'erase' : 'revoke_all', ended)
      return { removed, listing }
    }
  }

  async exportUser(userId: string | number): Promise<SessionUserExport> {
    const { user, listing, sessions } = await this.records(userId, "export the user's sessions")
    return { userId: user.userId, exportedAt: listing.now, sessions, quarantined: listing.quarantined.length }
  }
}
