import type { RecordRef, UserRef } from './session-keys.js'

/**
 * The storage port of the session store, implemented by the Redis backend (one Lua script per
 * state change) and the memory backend (the same rules in one process). It moves records as
 * plain numbers and one encrypted data blob; the store above it encodes, decodes and decides.
 *
 * @internal
 */
export interface SessionBackend {
  readonly kind: 'redis' | 'memory'
  /** `knownVersion`: the version whose data the caller holds (its data is then left out), or `''`. */
  touch(ref: RecordRef, options: TouchOptions, knownVersion: string): Promise<TouchReply>
  create(ref: RecordRef, spec: CreateSpec): Promise<CreateReply>
  update(ref: RecordRef, spec: UpdateSpec): Promise<UpdateReply>
  destroy(ref: RecordRef): Promise<boolean>
  retire(ref: RecordRef, overlapMs: number, expectedVersion: number | null): Promise<RetireReply>
  quarantine(ref: RecordRef, ttlMs: number): Promise<boolean>
  list(user: UserRef): Promise<UserListing>
  /** A user's records (`undefined` where gone or malformed), for listings and exports. */
  fetch(user: UserRef, handles: readonly string[]): Promise<(FetchedRecord | undefined)[]>
  removeUser(user: UserRef, spec: RemoveUserSpec): Promise<number | 'retry'>
  /** Records of this store (for the active-sessions gauge); `undefined` while unknown. */
  count(): number | undefined
  close(): void
}

/** A session's state when it cannot be read or written. @internal */
export type GoneStatus = 'none' | 'revoked' | 'expired' | 'rotated' | 'malformed'

export interface TouchOptions {
  readonly touch: boolean
  /** As decimal text (ready for the script's arguments). */
  readonly renewAfterMs: string
  readonly touchIntervalMs: string
}

/** The plain fields of a record and its encrypted data. */
export interface RawRecord {
  readonly version: number
  readonly createdAt: number
  readonly absoluteDeadline: number
  readonly lastSeenAt: number
  /** 0, or the end of the overlap window of a rotated ID. */
  readonly rotatedUntil: number
  readonly owned: boolean
  /** The encrypted data; `null` from a touch when it is the version the caller said it holds. */
  readonly data: Buffer | null
}

/** A record read for a listing: with its idle timeout, from which its expiry follows. */
export interface FetchedRecord extends RawRecord {
  readonly idleMs: number
}

/** When a fetched record's session ends: its overlap window, or idle and absolute timeouts. */
export function expiryOf(record: FetchedRecord): number {
  if (record.rotatedUntil > 0) return record.rotatedUntil
  return Math.min(record.lastSeenAt + record.idleMs, record.absoluteDeadline)
}

export type TouchReply =
  | {
      readonly kind: 'live' | 'alias'
      readonly now: number
      readonly expiresAt: number
      readonly renewDue: boolean
      readonly record: RawRecord
    }
  | GoneStatus

export interface CreateSpec {
  readonly idleMs: number
  /** `0`: now + `absoluteMs`. */
  readonly absoluteDeadline: number
  readonly absoluteMs: number
  /** `0`: now. */
  readonly createdAt: number
  readonly owned: boolean
  readonly maxPerUser: number
  readonly indexTtlMs: number
  /** Handle of the same user's ID this one replaces (must still be listed), or `null`. */
  readonly previous: string | null
  /** The encrypted data. */
  readonly data: Buffer
}

export type CreateReply =
  | {
      readonly now: number
      readonly expiresAt: number
      readonly evicted: number
      readonly absoluteDeadline: number
      readonly createdAt: number
    }
  | 'exists'
  | 'expired'
  | 'revoked'

export interface UpdateSpec {
  /** The version the data was read at: written only if the record is still at it. */
  readonly version: number
  /** The new encrypted data. */
  readonly data: Buffer
}

export type UpdateReply =
  | { readonly version: number }
  /** The record moved on: its current version and data. */
  | { readonly conflict: number; readonly data: Buffer }
  | GoneStatus

export type RetireReply =
  { readonly now: number; readonly record: RawRecord } | { readonly conflict: number } | GoneStatus

export interface UserListing {
  readonly now: number
  /** `[handle, index score]`, lowest first: a score is never before that session's expiry (Redis moves it in steps, see touch-session-2.lua). */
  readonly live: readonly (readonly [string, number])[]
  readonly quarantined: readonly string[]
}

export interface RemoveUserSpec {
  readonly mode: 'revoke' | 'erase'
  readonly strict: boolean
  /** A handle to keep, or `null`. */
  readonly keep: string | null
  readonly sessions: readonly string[]
  readonly quarantined: readonly string[]
}

/** Most expired index entries a script trims per call. @internal */
export const TRIM_LIMIT = 64

/** Negative replies of the scripts. @internal */
export const GONE: Readonly<Record<number, GoneStatus>> = Object.freeze({
  [-1]: 'none',
  [-2]: 'revoked',
  [-3]: 'expired',
  [-4]: 'rotated',
  [-6]: 'malformed',
})
