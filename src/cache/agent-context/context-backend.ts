/**
 * The storage port of the agent context: the same six atomic operations on a scope, over
 * Redis/Valkey (Lua scripts) or in process (the memory topology). Values are codec bytes.
 *
 * @internal
 */
export interface RawEntry {
  readonly version: number
  readonly kind: 'value' | 'list'
  /** A value entry's bytes. */
  readonly value?: Buffer
  /** A list entry's items, oldest first. */
  readonly items?: readonly Buffer[]
}

/** @internal */
export interface ReadReply {
  /** The scope's version counter when read: the entry is current as of this version. */
  readonly seq: number
  /** Milliseconds the scope has left to live; `-1` when it does not expire. */
  readonly ttlMs: number
  readonly entry: RawEntry | undefined
}

/** @internal */
export interface ScopeReply {
  readonly seq: number
  readonly ttlMs: number
  readonly entries: ReadonlyMap<string, RawEntry>
}

/** @internal */
export type WriteReply =
  | { readonly ok: true; readonly version: number; readonly previous: number; readonly trimmed: number }
  | { readonly ok: false; readonly current: number; readonly wrongKind?: boolean }

/** @internal */
export type DeleteReply =
  | { readonly ok: true; readonly deleted: boolean; readonly version: number }
  | { readonly ok: false; readonly current: number }

/** What one append asks for. @internal */
export interface AppendLimits {
  readonly maxItems: number
  readonly maxBytes: number
}

/** @internal */
export interface ContextBackend {
  read(scope: string, key: string): Promise<ReadReply>
  readScope(scope: string): Promise<ScopeReply>
  write(
    scope: string,
    key: string,
    bytes: Buffer,
    ifVersion: number | undefined,
    ttlMs: number,
  ): Promise<WriteReply>
  append(
    scope: string,
    key: string,
    bytes: Buffer,
    ifVersion: number | undefined,
    ttlMs: number,
    limits: AppendLimits,
  ): Promise<WriteReply>
  delete(scope: string, key: string, ifVersion: number | undefined, ttlMs: number): Promise<DeleteReply>
  clear(scope: string, ttlMs: number): Promise<{ readonly deleted: number; readonly version: number }>
}
