/** One version of an agent-state document. Times are Unix ms of the server's clock. */
export interface StateDocument<T> {
  readonly id: string
  /** 1 for the first write, +1 for every write after it. */
  readonly version: number
  readonly value: T
  readonly updatedAt: number
  /** When the document expires (its TTL), `null` when it does not. */
  readonly expiresAt: number | null
}

/** What `put` returns: the new version, or a conflict with the document as it is now. */
export type StatePutResult<T> =
  | { readonly ok: true; readonly version: number; readonly updatedAt: number }
  | {
      readonly ok: false
      readonly reason: 'conflict'
      /** The current version (0: the document does not exist). */
      readonly version: number
      /** The current document, `undefined` when it does not exist. */
      readonly current: StateDocument<T> | undefined
    }

/** Options of `put`. */
export interface StatePutOptions {
  /**
   * Write only if the document is at this version (optimistic concurrency); `0`: only if it does
   * not exist yet. Omitted: write whatever the current version.
   */
  readonly ifVersion?: number
  /** Time to live of this version (milliseconds or `'30m'`); overrides the store's `ttl`. */
  readonly ttl?: number | string
}

/** Options of `update`. */
export interface StateUpdateOptions {
  /**
   * How many times to read again and retry after a conflict.
   * @defaultValue 5
   */
  readonly retries?: number
  /** Time to live of the new version; overrides the store's `ttl`. */
  readonly ttl?: number | string
}

/** Counters of a state store, as plain data. */
export interface StateStoreStats {
  readonly reads: number
  readonly writes: number
  readonly conflicts: number
  /** Documents that could not be decoded (tampered, foreign, failing `validate`), read as missing. */
  readonly corrupt: number
}

/**
 * A store of typed, versioned documents (agent state and context that must outlive a request
 * or a process): optimistic concurrency with a conflict result, optional TTL, the last N
 * versions kept, values encrypted when the store is marked sensitive.
 *
 * @example
 * ```ts
 * const doc = await agents.get('run:7')
 * const put = await agents.put('run:7', { ...doc!.value, step: 2 }, { ifVersion: doc!.version })
 * if (!put.ok) retryWith(put.current)
 * ```
 */
export interface StateStore<T> {
  readonly name: string
  /** The current version, or `undefined`. A document that cannot be decoded reads as missing (and is counted). */
  get(id: string): Promise<StateDocument<T> | undefined>
  /** Writes a new version (see `ifVersion`); a conflict is a result, not an error. */
  put(id: string, value: T, options?: StatePutOptions): Promise<StatePutResult<T>>
  /**
   * Read-modify-write with retries on conflict: `fn` gets the current value (or `undefined`) and
   * returns the next one. Returns the last attempt's result.
   */
  update(
    id: string,
    fn: (current: T | undefined, document: StateDocument<T> | undefined) => T | Promise<T>,
    options?: StateUpdateOptions,
  ): Promise<StatePutResult<T>>
  /** Deletes the document and its history. `false` if it did not exist or (with `ifVersion`) moved on. */
  delete(id: string, options?: { readonly ifVersion?: number }): Promise<boolean>
  /** Earlier versions, newest first (at most the store's `history`). */
  history(id: string): Promise<StateDocument<T>[]>
  stats(): StateStoreStats
  close(): Promise<void>
}
