import { ValkitError, type RedisReply, type Valkit } from '../../core/index.js'
import type {
  AppendLimits,
  ContextBackend,
  DeleteReply,
  RawEntry,
  ReadReply,
  ScopeReply,
  WriteReply,
} from './context-backend.js'
import {
  APPEND_ITEM,
  CLEAR_SCOPE,
  DELETE_ENTRY,
  READ_ENTRY,
  READ_SCOPE,
  WRITE_ENTRY,
} from './context-scripts.js'

const READ = Object.freeze({ buffers: true, idempotent: true })
const WRITE = Object.freeze({ buffers: true })

function int(reply: RedisReply | undefined): number {
  if (typeof reply === 'number') return reply
  if (typeof reply === 'bigint') return Number(reply)
  if (Buffer.isBuffer(reply)) return Number(reply.toString('latin1'))
  if (typeof reply === 'string') return Number(reply)
  return Number.NaN
}

function list(reply: RedisReply): RedisReply[] {
  if (!Array.isArray(reply)) throw unexpected()
  return reply
}

function bytes(reply: RedisReply | undefined): Buffer {
  if (Buffer.isBuffer(reply)) return reply
  if (typeof reply === 'string') return Buffer.from(reply, 'latin1')
  throw unexpected()
}

function unexpected(): ValkitError {
  return new ValkitError(
    'VALKIT_CORRUPT_VALUE',
    'An agent-context script returned an unexpected reply (keys changed by something else?).',
  )
}

function ttlOf(pttl: number): number {
  return pttl >= 0 ? pttl : -1
}

/**
 * Parses the two flat hashes of a scope into entries (see the scripts' headers for the layout).
 * @internal
 */
export function parseScope(meta: RedisReply[], data: RedisReply[]): Map<string, RawEntry> {
  const versions = new Map<string, number>()
  const lists = new Map<string, { head: number; tail: number }>()
  for (let i = 0; i + 1 < meta.length; i += 2) {
    const field = bytes(meta[i]).toString('utf8')
    const value = int(meta[i + 1])
    const kind = field.slice(0, 2)
    const key = field.slice(2)
    if (kind === 'v:') versions.set(key, value)
    else if (kind === 'h:') lists.set(key, { head: value, tail: lists.get(key)?.tail ?? value })
    else if (kind === 't:') lists.set(key, { head: lists.get(key)?.head ?? value, tail: value })
  }
  const values = new Map<string, Buffer>()
  const items = new Map<string, Map<number, Buffer>>()
  for (let i = 0; i + 1 < data.length; i += 2) {
    const field = bytes(data[i]).toString('utf8')
    if (field.startsWith('v:')) values.set(field.slice(2), bytes(data[i + 1]))
    else if (field.startsWith('i:')) {
      const colon = field.lastIndexOf(':')
      const key = field.slice(2, colon)
      let byIndex = items.get(key)
      if (byIndex === undefined) items.set(key, (byIndex = new Map<number, Buffer>()))
      byIndex.set(Number(field.slice(colon + 1)), bytes(data[i + 1]))
    }
  }
  const out = new Map<string, RawEntry>()
  for (const [key, version] of versions) {
    const range = lists.get(key)
    if (range === undefined) {
      const value = values.get(key)
      if (value !== undefined) out.set(key, { version, kind: 'value', value })
      continue
    }
    const byIndex = items.get(key)
    const entryItems: Buffer[] = []
    for (let n = range.head; n < range.tail; n++) {
      const item = byIndex?.get(n)
      if (item !== undefined) entryItems.push(item)
    }
    out.set(key, { version, kind: 'list', items: entryItems })
  }
  return out
}

/**
 * The Redis/Valkey backend: one Lua script per operation, on the three keys of a scope
 * (`{prefix}:v1:cache:{<namespace>@<scope>}:seq|m|d`).
 *
 * @internal
 */
export class RedisContextBackend implements ContextBackend {
  constructor(
    private readonly valkit: Valkit,
    private readonly namespace: string,
  ) {}

  keysOf(scope: string): [string, string, string] {
    const tag = `${this.namespace}@${scope}`
    const keys = this.valkit.keys
    return [keys.key('cache', tag, 'seq'), keys.key('cache', tag, 'm'), keys.key('cache', tag, 'd')]
  }

  async read(scope: string, key: string): Promise<ReadReply> {
    const reply = list(await this.valkit.connection.script(READ_ENTRY, this.keysOf(scope), [key], READ))
    const seq = int(reply[0])
    const ttlMs = ttlOf(int(reply[1]))
    const version = int(reply[2])
    const kind = int(reply[3])
    if (version === 0 || kind === 0) return { seq, ttlMs, entry: undefined }
    if (kind === 1) return { seq, ttlMs, entry: { version, kind: 'value', value: bytes(reply[4]) } }
    const items: Buffer[] = []
    for (let i = 4; i < reply.length; i++) if (reply[i] !== null) items.push(bytes(reply[i]))
    return { seq, ttlMs, entry: { version, kind: 'list', items } }
  }

  async readScope(scope: string): Promise<ScopeReply> {
    const reply = list(await this.valkit.connection.script(READ_SCOPE, this.keysOf(scope), [], READ))
    return {
      seq: int(reply[0]),
      ttlMs: ttlOf(int(reply[1])),
      entries: parseScope(list(reply[2] ?? []), list(reply[3] ?? [])),
    }
  }

  async write(
    scope: string,
    key: string,
    value: Buffer,
    ifVersion: number | undefined,
    ttlMs: number,
  ): Promise<WriteReply> {
    const reply = list(
      await this.valkit.connection.script(
        WRITE_ENTRY,
        this.keysOf(scope),
        [key, value, ifVersion === undefined ? '' : ifVersion, ttlMs],
        WRITE,
      ),
    )
    const first = int(reply[0])
    if (first === -1) return { ok: false, current: int(reply[1]) }
    return { ok: true, version: first, previous: int(reply[1]), trimmed: 0 }
  }

  async append(
    scope: string,
    key: string,
    item: Buffer,
    ifVersion: number | undefined,
    ttlMs: number,
    limits: AppendLimits,
  ): Promise<WriteReply> {
    const reply = list(
      await this.valkit.connection.script(
        APPEND_ITEM,
        this.keysOf(scope),
        [key, item, ifVersion === undefined ? '' : ifVersion, ttlMs, limits.maxItems, limits.maxBytes],
        WRITE,
      ),
    )
    const first = int(reply[0])
    if (first === -1) return { ok: false, current: int(reply[1]) }
    if (first === -2) return { ok: false, current: int(reply[1]), wrongKind: true }
    return { ok: true, version: first, previous: int(reply[1]), trimmed: int(reply[2]) }
  }

  async delete(
    scope: string,
    key: string,
    ifVersion: number | undefined,
    ttlMs: number,
  ): Promise<DeleteReply> {
    const reply = list(
      await this.valkit.connection.script(
        DELETE_ENTRY,
        this.keysOf(scope),
        [key, ifVersion === undefined ? '' : ifVersion, ttlMs],
        WRITE,
      ),
    )
    const first = int(reply[0])
    if (first === -1) return { ok: false, current: int(reply[1]) }
    return { ok: true, deleted: first === 1, version: int(reply[1]) }
  }

  async clear(scope: string, ttlMs: number): Promise<{ deleted: number; version: number }> {
    const reply = list(await this.valkit.connection.script(CLEAR_SCOPE, this.keysOf(scope), [ttlMs], WRITE))
    return { deleted: int(reply[0]), version: int(reply[1]) }
  }
}
