/**
 * The port between the acquisition logic (waiting, leases, watchdogs) and where lock state
 * lives: Redis/Valkey (one Lua script per state change) or this process (the memory backend).
 * Both implement the same state machine: see scripts/acquire-slot-6.lua.
 *
 * @internal
 */

/** Which primitive a resource belongs to; part of its keys, so a mutex and a semaphore of one name never meet. */
export type SlotKind = 'mutex' | 'semaphore' | 'rwlock' | 'leader' | 'redlock'

/** `x`: exclusive (mutex, writer, leader); `s`: shared (permit, reader). */
export type SlotMode = 'x' | 's'

/** One lock resource. */
export interface SlotRef {
  readonly kind: SlotKind
  readonly resource: string
  /** `kind` and `resource` in one string, for maps. */
  readonly id: string
  /** The Redis backend's keys of this resource, built on first use. */
  keys?: { readonly keys: readonly string[]; readonly channel: string; readonly shared: string }
}

/** A grant made to a queued waiter, as announced by the call that made it. */
export interface Grant {
  readonly owner: string
  readonly token: number
  /** Server time (ms) at which the grant runs out unless extended. */
  readonly expiresAtMs: number
}

/** One acquire attempt. */
export interface AcquireCall {
  readonly ref: SlotRef
  readonly owner: string
  readonly mode: SlotMode
  readonly limit: number
  readonly ttlMs: number
  readonly waitMs: number
  readonly fair: boolean
  /** The owner is already queued: this is a re-check. */
  readonly queued: boolean
}

/** Server time of the reply (ms) and the grants the call made to this instance's waiters. */
interface Answer {
  readonly nowMs: number
  readonly grants: readonly Grant[]
}

export type AcquireAnswer =
  | (Answer & { readonly granted: true; readonly token: number })
  | (Answer & { readonly granted: false; readonly retryInMs: number })

export interface ReleaseAnswer extends Answer {
  readonly released: boolean
}

export interface CancelAnswer extends Answer {
  /** Set when the waiter had been granted before it withdrew. */
  readonly granted: Grant | null
}

export interface ExtendAnswer {
  readonly extended: boolean
  readonly nowMs: number
  /** `false` when `durable` replicas did not confirm it (the grant was extended on the master only). */
  readonly confirmed: boolean
}

/** A message on a resource's channel: a grant to one waiter, or "released, try again" for unfair waiters. */
export type SlotEvent = { readonly type: 'grant'; readonly grant: Grant } | { readonly type: 'free' }

/** What `inspect` reports about one resource. */
export interface SlotInspection {
  readonly holders: readonly {
    readonly owner: string
    readonly token: number
    readonly mode: SlotMode
    readonly expiresInMs: number
  }[]
  readonly queued: number
  readonly lastToken: number
}

export interface SlotBackend {
  /** `true` for the in-process backend. */
  readonly local: boolean
  acquire(call: AcquireCall): Promise<AcquireAnswer>
  release(ref: SlotRef, owner: string, mode: SlotMode): Promise<ReleaseAnswer>
  extend(ref: SlotRef, owner: string, mode: SlotMode, ttlMs: number): Promise<ExtendAnswer>
  cancel(ref: SlotRef, owner: string, mode: SlotMode): Promise<CancelAnswer>
  /** Listens to a resource's channel; resolves once messages are delivered. */
  watch(ref: SlotRef, listener: (event: SlotEvent) => void): Promise<void>
  unwatch(ref: SlotRef, listener: (event: SlotEvent) => void): Promise<void>
  inspect(ref: SlotRef): Promise<SlotInspection>
  /**
   * Raises the fence of an exclusive resource to `token` if `owner` still holds it here (Redlock:
   * the token agreed over several servers); `false` when it does not.
   */
  raiseFence(ref: SlotRef, owner: string, token: number): Promise<boolean>
  /** Calls `listener` when messages may have been missed (the subscriber connection came back). */
  onResubscribe(listener: () => void): () => void
}

const KIND_CODES: Readonly<Record<SlotKind, string>> = {
  mutex: 'm',
  semaphore: 's',
  rwlock: 'rw',
  leader: 'l',
  redlock: 'rl',
}

/** The key segment of a kind. */
export function kindCode(kind: SlotKind): string {
  return KIND_CODES[kind]
}

/** Parses a `g owner token expiry` / `f` channel message. */
export function parseSlotEvent(text: string): SlotEvent | undefined {
  if (text === 'f') return { type: 'free' }
  const parts = text.split(' ')
  if (parts.length !== 4 || parts[0] !== 'g') return undefined
  const token = Number(parts[2])
  const expiresAtMs = Number(parts[3])
  if (!Number.isSafeInteger(token) || !Number.isFinite(expiresAtMs)) return undefined
  return { type: 'grant', grant: { owner: parts[1]!, token, expiresAtMs } }
}
