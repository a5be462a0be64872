/** One entry of a scope, as read. */
export interface ContextEntry<T = unknown> {
  /** The entry's key within its scope. */
  readonly key: string
  /** `'value'` (made by `write`) or `'list'` (made by `append`). */
  readonly kind: 'value' | 'list'
  /** A value entry's value; a list entry's items, oldest first (type it as an array: `read<Turn[]>`). */
  readonly value: T
  /**
   * The entry's version: assigned by Redis/Valkey from one counter per scope, so it grows with
   * every change of the entry and never repeats, not even after a delete, a clear or (with a
   * `ttl`) the scope's expiry: a scope written again after it expired starts its counter from the
   * server's clock in microseconds, so versions there are large (still below 2^53).
   */
  readonly version: number
}

/** Options of `read()`. */
export interface ContextReadOptions {
  /**
   * A version token (returned by a `write`, `append`, `delete` or `clear` of this scope, possibly
   * in another instance): the read returns the entry as of that version or later, bypassing an
   * older copy held in process.
   * @defaultValue 0 (in this process: the highest version it wrote itself)
   */
  readonly minVersion?: number
}

/** Options of `write()` and `delete()`. */
export interface ContextWriteOptions {
  /**
   * Compare-and-set: change the entry only if its current version is this one (`0`: only if the
   * entry does not exist). On a mismatch nothing changes and the result says `conflict`.
   * @defaultValue none (last writer wins)
   */
  readonly ifVersion?: number
}

/** Options of `append()`. */
export interface ContextAppendOptions extends ContextWriteOptions {
  /**
   * Most items the list keeps after this append.
   * @defaultValue the store's `lists.maxItems` (100)
   */
  readonly maxItems?: number
  /**
   * Most bytes (encoded) the list keeps after this append; the newest item always stays.
   * @defaultValue the store's `lists.maxBytes` (256 KiB)
   */
  readonly maxBytes?: number
}

/** A compare-and-set that found the entry at another version: nothing was changed. */
export interface ContextConflict {
  readonly ok: false
  readonly reason: 'conflict'
  /** The entry's version now (`0`: it does not exist). Read it, merge, and write with this `ifVersion`. */
  readonly currentVersion: number
}

/** A change that was applied. */
export interface ContextWritten {
  readonly ok: true
  /** The entry's new version: pass it as `minVersion` to a reader elsewhere. */
  readonly version: number
}

/** An append that was applied. */
export interface ContextAppended extends ContextWritten {
  /** Oldest items dropped to keep the list within its bounds. */
  readonly trimmed: number
}

/** A delete that was applied. */
export interface ContextDeleted {
  readonly ok: true
  /** `false` when there was no such entry. */
  readonly deleted: boolean
  /** The version of the deletion (or the scope's version when nothing was deleted). */
  readonly version: number
}

/** The result of `write()` with `ifVersion`. */
export type ContextWriteResult = ContextWritten | ContextConflict

/** The result of `append()` with `ifVersion`. */
export type ContextAppendResult = ContextAppended | ContextConflict

/** The result of `delete()` with `ifVersion`. */
export type ContextDeleteResult = ContextDeleted | ContextConflict

/** Options of a change without compare-and-set (it cannot conflict). */
export type ContextUnconditional<O extends ContextWriteOptions> = Omit<O, 'ifVersion'> & {
  readonly ifVersion?: undefined
}

/** The result of `clear()`. */
export interface ContextClearResult {
  /** Entries deleted. */
  readonly deleted: number
  /** The version of the clear: a `minVersion` token for reads elsewhere. */
  readonly version: number
}

/** What `stats()` returns: counters since creation. */
export interface AgentContextStats {
  /** `read` calls (including misses). */
  readonly reads: number
  /** Reads answered from process memory. */
  readonly l1Hits: number
  /** Reads (and `entries` calls) that went to Redis/Valkey. */
  readonly redisReads: number
  /** Entries not found. */
  readonly misses: number
  readonly writes: number
  readonly appends: number
  /** List items dropped by the bounds of `append`. */
  readonly trimmed: number
  readonly deletes: number
  readonly clears: number
  /** Compare-and-set calls refused (version conflict). */
  readonly conflicts: number
  /** In-process copies dropped because another instance changed them. */
  readonly remoteInvalidations: number
  /** Calls refused with `VALKIT_UNAVAILABLE` (Redis/Valkey unreachable). */
  readonly unavailable: number
  /** Entries held in process now. */
  readonly l1Entries: number
  /** Bytes held in process now. */
  readonly l1Bytes: number
}

/** The calls of an {@link AgentContext} bound to one scope (see `AgentContext.scope`). */
export interface ContextScope {
  /** The scope's name. */
  readonly name: string
  read<T = unknown>(key: string, options?: ContextReadOptions): Promise<ContextEntry<T> | undefined>
  write(
    key: string,
    value: unknown,
    options?: ContextUnconditional<ContextWriteOptions>,
  ): Promise<ContextWritten>
  write(key: string, value: unknown, options: ContextWriteOptions): Promise<ContextWriteResult>
  append(
    key: string,
    item: unknown,
    options?: ContextUnconditional<ContextAppendOptions>,
  ): Promise<ContextAppended>
  append(key: string, item: unknown, options: ContextAppendOptions): Promise<ContextAppendResult>
  entries(): Promise<ContextEntry[]>
  delete(key: string, options?: ContextUnconditional<ContextWriteOptions>): Promise<ContextDeleted>
  delete(key: string, options: ContextWriteOptions): Promise<ContextDeleteResult>
  clear(): Promise<ContextClearResult>
}

/**
 * Versioned context and memory of agents and conversations, shared by every instance. A
 * **scope** (an agent, a conversation, a user) holds **entries**: values (`write`) and bounded
 * lists (`append`: conversation turns, observations). Made by `createAgentContext`.
 *
 * Versions are assigned atomically by Redis/Valkey (one counter per scope). After a change
 * resolves, reads in this process return that version or a later one (read-your-writes); other
 * instances drop their copy on the change's invalidation message, and a read with the version as
 * `minVersion` bypasses an older copy at once. While Redis/Valkey is unreachable, reads are served
 * from a copy held in process when it satisfies them, and every change fails with
 * `VALKIT_UNAVAILABLE` (a version cannot be assigned).
 */
export interface AgentContext {
  /** The store's namespace. */
  readonly namespace: string
  /**
   * An entry, or `undefined` when it does not exist.
   * @throws ValkitError `VALKIT_UNAVAILABLE` when Redis/Valkey is unreachable and no copy held in
   *   process satisfies the read; `VALKIT_CORRUPT_VALUE` when the stored bytes cannot be decoded.
   *
   * @example
   * ```ts
   * const plan = await ctx.read<Plan>(`conv:${id}`, 'plan', { minVersion: token })
   * if (plan) console.log(plan.version, plan.value.steps)
   * ```
   */
  read<T = unknown>(
    scope: string,
    key: string,
    options?: ContextReadOptions,
  ): Promise<ContextEntry<T> | undefined>
  /**
   * Stores a value under a key (replacing a list held there); resolves with its new version.
   * With `ifVersion`, a compare-and-set: a conflict is a result, not an error.
   * @throws ValkitError `VALKIT_UNAVAILABLE` (Redis/Valkey unreachable: nothing was written),
   *   `VALKIT_TIMEOUT` (the write may or may not have happened: read it back),
   *   `VALKIT_VALUE_TOO_LARGE`, `VALKIT_INVALID_ARGUMENT`.
   *
   * @example
   * ```ts
   * const current = await ctx.read<Plan>(scope, 'plan')
   * const result = await ctx.write(scope, 'plan', revise(current?.value), { ifVersion: current?.version ?? 0 })
   * if (!result.ok) retryWith(result.currentVersion) // another agent changed the plan first
   * ```
   */
  write(
    scope: string,
    key: string,
    value: unknown,
    options?: ContextWriteOptions,
  ): Promise<ContextWriteResult>
  /**
   * Appends an item to a list entry (creating it), keeping the newest `maxItems` items within
   * `maxBytes`. Throws `VALKIT_INVALID_ARGUMENT` when the key holds a value (made by `write`).
   *
   * @example
   * ```ts
   * await ctx.append(`conv:${id}`, 'turns', { role: 'user', content: text }, { maxItems: 40 })
   * const turns = await ctx.read<Turn[]>(`conv:${id}`, 'turns')
   * ```
   */
  append(
    scope: string,
    key: string,
    item: unknown,
    options?: ContextAppendOptions,
  ): Promise<ContextAppendResult>
  /**
   * Every entry of a scope, read from Redis/Valkey at one point in time, sorted by key.
   * @throws ValkitError `VALKIT_UNAVAILABLE` while Redis/Valkey is unreachable.
   *
   * @example
   * ```ts
   * const memory = Object.fromEntries((await ctx.entries(scope)).map((e) => [e.key, e.value]))
   * ```
   */
  entries(scope: string): Promise<ContextEntry[]>
  /**
   * Deletes an entry; the deletion gets a version too.
   *
   * @example
   * ```ts
   * await ctx.delete(scope, 'scratchpad')
   * ```
   */
  delete(
    scope: string,
    key: string,
    options?: ContextUnconditional<ContextWriteOptions>,
  ): Promise<ContextDeleted>
  delete(scope: string, key: string, options: ContextWriteOptions): Promise<ContextDeleteResult>
  /**
   * Deletes every entry of a scope (the scope's version counter stays, so versions never repeat).
   *
   * @example
   * ```ts
   * await ctx.clear(`conv:${id}`) // the conversation ended
   * ```
   */
  clear(scope: string): Promise<ContextClearResult>
  /**
   * The same calls bound to one scope.
   *
   * @example
   * ```ts
   * const conv = ctx.scope(`conv:${id}`)
   * await conv.append('turns', turn)
   * ```
   */
  scope(name: string): ContextScope
  /**
   * Resolves once the invalidation channel is subscribed (at once on the memory topology). Until
   * then reads go to Redis/Valkey and no copy is kept in process (a change announced meanwhile
   * would be missed).
   */
  ready(): Promise<void>
  /** Counters since creation. */
  stats(): AgentContextStats
  /** Unsubscribes, drops the in-process copies and detaches from the supervisor. Idempotent. */
  close(): Promise<void>
}
