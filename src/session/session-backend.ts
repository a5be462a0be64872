import type { RecordRef, UserRef } from './session-keys.js'

/**
 * The storage port of the session store, implemented by the Redis backend (one Lua script per
 * state change) and the memory backend (the same rules in one process). It moves raw fields
 * (plain numbers and encrypted bytes); the store above it encodes, decodes and decides.
 *
 * @internal
 */
export interface SessionBackend {
  readonly kind: 'redis' | 'memory'
  touch(ref: RecordRef, options: TouchOptions): Promise<TouchReply>
  create(ref: RecordRef, spec: CreateSpec): Promise<CreateReply>
  update(ref: RecordRef, spec: UpdateSpec): Promise<UpdateReply>
  destroy(ref: RecordRef): Promise<boolean>
  retire(ref: RecordRef, overlapMs: number, expectedVersion: number | null): Promise<RetireReply>
  quarantine(ref: RecordRef, ttlMs: number): Promise<boolean>
  list(user: UserRef): Promise<UserListing>
  /** Raw fields of a user's records (`undefined` where gone), for listings and exports. */
  fetch(
    user: UserRef,
    handles: readonly string[],
    quarantined: boolean,
  ): Promise<(Map<string, Buffer> | undefined)[]>
  removeUser(user: UserRef, spec: RemoveUserSpec): Promise<number | 'retry'>
  /** Records of this store (for the active-sessions gauge); `undefined` while unknown. */
  count(): number | undefined
  close(): void
}

/** A session's state when it cannot be read or written. @internal */
export type GoneStatus = 'none' | 'revoked' | 'expired' | 'rotated' | 'malformed'

export interface TouchOptions {
  readonly touch: boolean
  readonly renewAfterMs: number
  readonly touchIntervalMs: number
}

export type TouchReply =
  | {
      readonly kind: 'live' | 'alias'
      readonly now: number
      readonly expiresAt: number
      readonly renewDue: boolean
      readonly fields: Map<string, Buffer>
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
  readonly fields: readonly (readonly [string, Buffer])[]
}

export type CreateReply =
  | { readonly now: number; readonly expiresAt: number; readonly evicted: number }
  | 'exists'
  | 'expired'
  | 'revoked'

export interface UpdateSpec {
  readonly expectedVersion: number | null
  readonly maxFields: number
  readonly set: readonly (readonly [string, Buffer])[]
  readonly del: readonly string[]
  /** `[field, SHA1 hex of the bytes read, new bytes]`: written only if the field still holds those bytes. */
  readonly cas: readonly (readonly [string, string, Buffer])[]
}

export type UpdateReply =
  { readonly version: number } | { readonly conflict: number } | GoneStatus | 'too-many-fields'

export type RetireReply =
  { readonly now: number; readonly fields: Map<string, Buffer> } | { readonly conflict: number } | GoneStatus

export interface UserListing {
  readonly now: number
  /** `[handle, expires at]`, soonest first. */
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
