import { ValkitError, type Duration, type RedisReply, type Valkit, replyText } from '../core/index.js'
import { SWAP_VERSIONED } from './coord-scripts.js'
import type { CoordEngine } from './coord-engine.js'
import { durationOption } from './coord-options.js'
import { lockTableOf } from './memory-slots.js'

/** What a check-and-set resolves with. A conflict is a result, not an error. */
export type SwapResult =
  | { readonly swapped: true; readonly version: number }
  | { readonly swapped: false; readonly reason: 'conflict'; readonly version: number }

/** What `update` resolves with. */
export type UpdateResult<T> =
  | { readonly updated: true; readonly value: T; readonly version: number; readonly attempts: number }
  | { readonly updated: false; readonly reason: 'conflict'; readonly attempts: number }

/**
 * Values with a version, written only by a caller that read the current version
 * (check-and-set): two instances updating one value cannot overwrite each other's write.
 * Versions count writes from 1; `0` means "no value".
 *
 * @example
 * ```ts
 * const budgets = coord.versioned('budgets')
 * const result = await budgets.update('team:7', (current: { spent: number } | undefined) => ({
 *   spent: (current?.spent ?? 0) + cost,
 * }))
 * if (!result.updated) throw new Error('too much contention on the budget')
 * ```
 */
export interface VersionedStore {
  readonly name: string
  /** The value and its version, or `undefined`. One round trip. */
  get<T = unknown>(key: string): Promise<{ readonly value: T; readonly version: number } | undefined>
  /** Writes `value` (JSON) if the current version is `version` (`0`: only if absent; omitted: whatever it is). One round trip. */
  set(
    key: string,
    value: unknown,
    options?: { readonly version?: number; readonly ttl?: Duration },
  ): Promise<SwapResult>
  /** Deletes the value if the current version is `version` (omitted: whatever it is). */
  delete(key: string, options?: { readonly version?: number }): Promise<SwapResult>
  /** Reads, applies `fn`, and writes back if nobody wrote meanwhile; retries on conflict up to `retries` times. */
  update<T>(
    key: string,
    fn: (current: T | undefined) => T | Promise<T>,
    options?: { readonly retries?: number; readonly ttl?: Duration },
  ): Promise<UpdateResult<T>>
}

const KEY = /^[^{}]{1,512}$/

interface Stored {
  readonly value: string
  readonly version: number
  readonly expiresAt: number
}

const memoryStores = new WeakMap<object, Map<string, Stored>>()

/** @internal */
export class VersionedStoreImpl implements VersionedStore {
  readonly #memory: Map<string, Stored> | null

  constructor(
    private readonly engine: CoordEngine,
    private readonly valkit: Valkit,
    readonly name: string,
  ) {
    if (typeof name !== 'string' || !KEY.test(name) || name.includes(':')) {
      throw new ValkitError(
        'VALKIT_INVALID_ARGUMENT',
        `Invalid versioned store name ${JSON.stringify(name)}: expected 1-512 characters without ':' or braces.`,
      )
    }
    if (engine.primary.local) {
      const table = lockTableOf(valkit)
      let map = memoryStores.get(table)
      if (map === undefined) {
        map = new Map<string, Stored>()
        memoryStores.set(table, map)
      }
      this.#memory = map
    } else this.#memory = null
  }

  async get<T = unknown>(key: string): Promise<{ readonly value: T; readonly version: number } | undefined> {
    const full = this.#key(key)
    if (this.#memory !== null) {
      const stored = this.#live(full)
      return stored === undefined
        ? undefined
        : { value: JSON.parse(stored.value) as T, version: stored.version }
    }
    const reply = (await this.valkit.connection.command(['HMGET', full, 'v', 'n'])) as RedisReply[]
    if (reply[0] === null || reply[0] === undefined) return undefined
    return { value: JSON.parse(replyText(reply[0])) as T, version: Number(reply[1]) }
  }

  set(
    key: string,
    value: unknown,
    options?: { readonly version?: number; readonly ttl?: Duration },
  ): Promise<SwapResult> {
    const encoded = JSON.stringify(value)
    if (encoded === undefined) {
      throw new ValkitError('VALKIT_INVALID_ARGUMENT', 'A versioned value must be JSON-serializable.')
    }
    const ttlMs = options?.ttl === undefined ? 0 : durationOption(options.ttl, 'ttl', 0)
    return this.#swap('set', this.#key(key), expected(options?.version), encoded, ttlMs)
  }

  delete(key: string, options?: { readonly version?: number }): Promise<SwapResult> {
    return this.#swap('delete', this.#key(key), expected(options?.version), '', 0)
  }

  async update<T>(
    key: string,
    fn: (current: T | undefined) => T | Promise<T>,
    options?: { readonly retries?: number; readonly ttl?: Duration },
  ): Promise<UpdateResult<T>> {
    const retries = options?.retries ?? 10
    if (!Number.isSafeInteger(retries) || retries < 0) {
      throw new ValkitError(
        'VALKIT_INVALID_ARGUMENT',
        `retries must be an integer >= 0, got ${String(retries)}.`,
      )
    }
    for (let attempt = 1; attempt <= retries + 1; attempt++) {
      const current = await this.get<T>(key)
      const next = await fn(current?.value)
      const result = await this.set(key, next, {
        version: current?.version ?? 0,
        ...(options?.ttl === undefined ? {} : { ttl: options.ttl }),
      })
      if (result.swapped) return { updated: true, value: next, version: result.version, attempts: attempt }
      // Someone wrote in between: back off a little, so the retries do not march in step.
      if (attempt <= retries)
        await new Promise((resolve) => setTimeout(resolve, Math.random() * Math.min(50, 2 ** attempt)))
    }
    return { updated: false, reason: 'conflict', attempts: retries + 1 }
  }

  async #swap(
    op: 'set' | 'delete',
    full: string,
    version: number,
    value: string,
    ttlMs: number,
  ): Promise<SwapResult> {
    let result: SwapResult
    if (this.#memory !== null) {
      const current = this.#live(full)?.version ?? 0
      if (version >= 0 && current !== version)
        result = { swapped: false, reason: 'conflict', version: current }
      else if (op === 'delete') {
        this.#memory.delete(full)
        result = { swapped: true, version: 0 }
      } else {
        this.#memory.set(full, { value, version: current + 1, expiresAt: ttlMs > 0 ? Date.now() + ttlMs : 0 })
        result = { swapped: true, version: current + 1 }
      }
    } else {
      const reply = (await this.valkit.connection.script(
        SWAP_VERSIONED,
        [full],
        [op, String(version), value, String(ttlMs)],
      )) as RedisReply[]
      result =
        Number(reply[0]) === 1
          ? { swapped: true, version: Number(reply[1]) }
          : { swapped: false, reason: 'conflict', version: Number(reply[1]) }
    }
    this.engine.metrics.cas(result.swapped ? 'swapped' : 'conflict')
    return result
  }

  #live(full: string): Stored | undefined {
    const stored = this.#memory?.get(full)
    if (stored === undefined) return undefined
    if (stored.expiresAt !== 0 && stored.expiresAt <= Date.now()) {
      this.#memory!.delete(full)
      return undefined
    }
    return stored
  }

  #key(key: string): string {
    if (typeof key !== 'string' || !KEY.test(key)) {
      throw new ValkitError(
        'VALKIT_INVALID_ARGUMENT',
        `Invalid versioned key ${JSON.stringify(key)}: expected 1-512 characters without braces.`,
      )
    }
    return this.valkit.keys.key('coord', `${this.name}:${key}`, 'versioned')
  }
}

function expected(version: number | undefined): number {
  if (version === undefined) return -1
  if (!Number.isSafeInteger(version) || version < 0) {
    throw new ValkitError(
      'VALKIT_INVALID_ARGUMENT',
      `A version must be an integer >= 0, got ${String(version)}.`,
    )
  }
  return version
}
