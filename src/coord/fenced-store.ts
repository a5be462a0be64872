import { ValkitError, type Duration, type RedisReply, type Valkit, replyText } from '../core/index.js'
import { WRITE_FENCED } from './coord-scripts.js'
import type { CoordEngine } from './coord-engine.js'
import { durationOption } from './coord-options.js'
import { lockTableOf } from './memory-slots.js'

/** What a fenced write resolves with. A stale token is a result, not an error. */
export type FencedWriteResult =
  | { readonly written: true; readonly token: number }
  | { readonly written: false; readonly reason: 'stale'; readonly highestToken: number }

/**
 * Values guarded by fencing tokens: a write is stored only if its token is at least the
 * highest token the key has seen. Give it the lease's token; a holder that lost its lock
 * while paused (GC, a frozen VM) is refused once a newer holder has written.
 *
 * @example
 * ```ts
 * const store = coord.fencedStore('inventory')
 * await coord.withLock('sku:42', async (lease) => {
 *   const result = await store.write('sku:42', { count: 7 }, lease.token)
 *   if (!result.written) throw new Error('a newer holder wrote first')
 * })
 * ```
 */
export interface FencedStore {
  readonly name: string
  /** Stores `value` (JSON) under `key` if `token` is not older than the key's highest. One round trip. */
  write(
    key: string,
    value: unknown,
    token: number,
    options?: { readonly ttl?: Duration },
  ): Promise<FencedWriteResult>
  /** The value and the token that wrote it, or `undefined`. */
  read<T = unknown>(key: string): Promise<{ readonly value: T; readonly token: number } | undefined>
}

const KEY = /^[^{}]{1,512}$/

/** @internal */
export class FencedStoreImpl implements FencedStore {
  readonly #memory: Map<string, StoredValue> | null

  constructor(
    private readonly engine: CoordEngine,
    private readonly valkit: Valkit,
    readonly name: string,
  ) {
    if (typeof name !== 'string' || !KEY.test(name) || name.includes(':')) {
      throw new ValkitError(
        'VALKIT_INVALID_ARGUMENT',
        `Invalid fenced store name ${JSON.stringify(name)}: expected 1-512 characters without ':' or braces.`,
      )
    }
    this.#memory = engine.primary.local ? memoryValues(valkit) : null
  }

  async write(
    key: string,
    value: unknown,
    token: number,
    options?: { readonly ttl?: Duration },
  ): Promise<FencedWriteResult> {
    const full = this.#key(key)
    if (!Number.isSafeInteger(token) || token < 0) {
      throw new ValkitError(
        'VALKIT_INVALID_ARGUMENT',
        `A fencing token must be a non-negative safe integer, got ${String(token)}.`,
      )
    }
    const text = JSON.stringify(value)
    if (text === undefined)
      throw new ValkitError('VALKIT_INVALID_ARGUMENT', 'A fenced value must be JSON-serializable.')
    const ttlMs = options?.ttl === undefined ? 0 : durationOption(options.ttl, 'ttl', 0)
    let result: FencedWriteResult
    if (this.#memory !== null) {
      const now = Date.now()
      const current = this.#memory.get(full)
      const live =
        current !== undefined && (current.expiresAt === 0 || current.expiresAt > now) ? current : undefined
      if (live !== undefined && token < live.token)
        result = { written: false, reason: 'stale', highestToken: live.token }
      else {
        this.#memory.set(full, {
          value: text,
          token,
          expiresAt: ttlMs > 0 ? now + ttlMs : (live?.expiresAt ?? 0),
        })
        result = { written: true, token }
      }
    } else {
      const reply = (await this.valkit.connection.script(
        WRITE_FENCED,
        [full],
        [String(token), text, String(ttlMs)],
      )) as RedisReply[]
      result =
        Number(reply[0]) === 1
          ? { written: true, token }
          : { written: false, reason: 'stale', highestToken: Number(reply[1]) }
    }
    if (result.written) this.engine.counters.fencedWritten++
    else this.engine.counters.fencedStale++
    this.engine.metrics.fenced(result.written ? 'written' : 'stale')
    return result
  }

  async read<T = unknown>(key: string): Promise<{ readonly value: T; readonly token: number } | undefined> {
    const full = this.#key(key)
    if (this.#memory !== null) {
      const current = this.#memory.get(full)
      if (current === undefined || (current.expiresAt !== 0 && current.expiresAt <= Date.now()))
        return undefined
      return { value: JSON.parse(current.value) as T, token: current.token }
    }
    const reply = (await this.valkit.connection.command(['HMGET', full, 'v', 't'])) as RedisReply[]
    if (reply[0] === null || reply[0] === undefined) return undefined
    return { value: JSON.parse(replyText(reply[0])) as T, token: Number(reply[1]) }
  }

  #key(key: string): string {
    if (typeof key !== 'string' || !KEY.test(key)) {
      throw new ValkitError(
        'VALKIT_INVALID_ARGUMENT',
        `Invalid fenced key ${JSON.stringify(key)}: expected 1-512 characters without braces.`,
      )
    }
    return this.valkit.keys.key('coord', `${this.name}:${key}`, 'fenced')
  }
}

interface StoredValue {
  readonly value: string
  readonly token: number
  readonly expiresAt: number
}

const memoryStores = new WeakMap<object, Map<string, StoredValue>>()

function memoryValues(valkit: Valkit): Map<string, StoredValue> {
  const table = lockTableOf(valkit)
  let map = memoryStores.get(table)
  if (map === undefined) {
    map = new Map<string, StoredValue>()
    memoryStores.set(table, map)
  }
  return map
}
