import { hash } from 'node:crypto'
import { ValkitError, createCodec, parseDuration, type Codec, type Valkit } from '../../core/index.js'
import { resolveStateStoreOptions, type StateStoreOptions } from './state-options.js'
import {
  MemoryStateBackend,
  RedisStateBackend,
  checkStateId,
  type RawVersion,
  type StateBackend,
} from './state-backend.js'
import type {
  StateDocument,
  StatePutOptions,
  StatePutResult,
  StateStore,
  StateStoreStats,
  StateUpdateOptions,
} from './state-types.js'

/** Memory backends shared by every state store of one valkit and name. */
const memoryBackends = new WeakMap<Valkit, Map<string, { backend: MemoryStateBackend; users: number }>>()

function sharedMemory(valkit: Valkit, name: string): { backend: StateBackend; release: () => void } {
  let byName = memoryBackends.get(valkit)
  if (byName === undefined)
    memoryBackends.set(valkit, (byName = new Map<string, { backend: MemoryStateBackend; users: number }>()))
  let entry = byName.get(name)
  if (entry === undefined) byName.set(name, (entry = { backend: new MemoryStateBackend(), users: 0 }))
  entry.users++
  const shared = entry
  return {
    backend: shared.backend,
    release: () => {
      if (--shared.users > 0) return
      shared.backend.close()
      byName.delete(name)
    },
  }
}

/** The binding written inside every encoded version: the store and document it belongs to. */
const bindingOf = (store: string, id: string): string =>
  hash('sha256', `${store}\u0000${id}`, 'base64url').slice(0, 16)

/**
 * Creates a store of typed, versioned documents for agent state and context that must survive
 * requests and restarts: `put` with `ifVersion` is optimistic concurrency (a conflict comes back
 * as a result carrying the current document), `update` retries a read-modify-write, versions can
 * expire (`ttl`) and the last N are kept (`history`). With `sensitive: true` every version is
 * encrypted (AES-256-GCM, the keyring's primary key) and bound to its document id, so a value
 * copied to another document reads as missing. Works on Redis/Valkey (one script per write,
 * document and history on one Cluster slot) and on the memory backend.
 *
 * @example
 * ```ts
 * import { createStateStore } from 'valkit/session'
 *
 * interface AgentState { step: number; messages: { role: string; content: string }[] }
 * const agents = createStateStore<AgentState>(valkit, {
 *   name: 'agents',
 *   history: 5,
 *   ttl: '24h',
 *   sensitive: true,
 *   encryption: { keys: [{ id: 1, key: process.env.STATE_KEY_1! }], primary: 1 },
 * })
 * const result = await agents.update(`run:${runId}`, (state) => ({
 *   step: (state?.step ?? 0) + 1,
 *   messages: [...(state?.messages ?? []), { role: 'user', content: text }],
 * }))
 * if (!result.ok) throw new Error(`still conflicting at version ${result.version}`)
 * ```
 */
export function createStateStore<T = unknown>(
  valkit: Valkit,
  options: StateStoreOptions<T> = {},
): StateStore<T> {
  const resolved = resolveStateStoreOptions(options)
  const { name, history, validate, maxBytes } = resolved
  const memory = valkit.config.topology.kind === 'memory' ? sharedMemory(valkit, name) : null
  const backend: StateBackend = memory?.backend ?? new RedisStateBackend(valkit, name)
  const codec: Codec = createCodec({
    serializer: resolved.serializer,
    ...(resolved.keyring === undefined ? {} : { encryption: resolved.keyring }),
  })
  const counters = { reads: 0, writes: 0, conflicts: 0, corrupt: 0 }
  let closed = false
  const ttlOf = (ttl: number | string | undefined): number => {
    if (ttl === undefined) return resolved.ttlMs
    const ms = parseDuration(ttl, 'ttl')
    if (ms <= 0)
      throw new ValkitError('VALKIT_INVALID_ARGUMENT', 'A state TTL must be > 0.', {
        details: { argument: 'ttl' },
      })
    return ms
  }

  function encode(id: string, value: T): Buffer {
    if (value === undefined) {
      throw new ValkitError(
        'VALKIT_INVALID_ARGUMENT',
        'A state document cannot be undefined; use delete().',
        {
          details: { argument: 'value' },
        },
      )
    }
    const bytes = codec.encode([bindingOf(name, id), value])
    if (bytes.length > maxBytes) {
      throw new ValkitError(
        'VALKIT_VALUE_TOO_LARGE',
        `The state document encodes to ${bytes.length} bytes, more than maxBytes (${maxBytes}).`,
        {
          details: { bytes: bytes.length, limit: maxBytes },
        },
      )
    }
    return bytes
  }

  /** The value of a stored version, or `undefined` when it cannot be trusted. */
  function decode(id: string, raw: RawVersion): T | undefined {
    try {
      const decoded = codec.decode<unknown>(raw.bytes)
      if (!Array.isArray(decoded) || decoded.length !== 2 || decoded[0] !== bindingOf(name, id))
        throw new Error('foreign')
      return validate === undefined ? (decoded[1] as T) : validate(decoded[1])
    } catch {
      counters.corrupt++
      valkit.logger.warn('state: a stored version could not be decoded and reads as missing', {
        store: name,
        version: raw.version,
      })
      return undefined
    }
  }

  async function get(id: string): Promise<StateDocument<T> | undefined> {
    checkStateId(id)
    counters.reads++
    const raw = await backend.read(id)
    if (raw === undefined) return undefined
    const value = decode(id, raw)
    if (value === undefined) return undefined
    return { id, version: raw.version, value, updatedAt: raw.updatedAt, expiresAt: raw.expiresAt }
  }

  async function put(id: string, value: T, putOptions: StatePutOptions = {}): Promise<StatePutResult<T>> {
    checkStateId(id)
    const expected = putOptions.ifVersion ?? null
    if (expected !== null && (!Number.isSafeInteger(expected) || expected < 0)) {
      throw new ValkitError(
        'VALKIT_INVALID_ARGUMENT',
        'ifVersion must be an integer >= 0 (0: the document must not exist).',
        {
          details: { argument: 'ifVersion' },
        },
      )
    }
    const reply = await backend.put(id, expected, encode(id, value), ttlOf(putOptions.ttl), history)
    if ('conflict' in reply) {
      counters.conflicts++
      return {
        ok: false,
        reason: 'conflict',
        version: reply.conflict,
        current: reply.conflict === 0 ? undefined : await get(id),
      }
    }
    counters.writes++
    return { ok: true, version: reply.version, updatedAt: reply.updatedAt }
  }

  return {
    name,
    get,
    put,
    async update(id, fn, updateOptions: StateUpdateOptions = {}) {
      const retries = updateOptions.retries ?? 5
      if (!Number.isSafeInteger(retries) || retries < 0) {
        throw new ValkitError('VALKIT_INVALID_ARGUMENT', 'retries must be an integer >= 0.', {
          details: { argument: 'retries' },
        })
      }
      let current = await get(id)
      for (let attempt = 0; ; attempt++) {
        const next = await fn(current?.value, current)
        const result = await put(id, next, {
          ifVersion: current?.version ?? 0,
          ...(updateOptions.ttl !== undefined ? { ttl: updateOptions.ttl } : {}),
        })
        if (result.ok || attempt >= retries) return result
        current = result.current
      }
    },
    async delete(id, deleteOptions = {}) {
      checkStateId(id)
      const reply = await backend.delete(id, deleteOptions.ifVersion ?? null)
      if (typeof reply === 'object') {
        counters.conflicts++
        return false
      }
      return reply
    },
    async history(id) {
      checkStateId(id)
      const out: StateDocument<T>[] = []
      for (const raw of await backend.history(id)) {
        const value = decode(id, raw)
        if (value !== undefined)
          out.push({ id, version: raw.version, value, updatedAt: raw.updatedAt, expiresAt: null })
      }
      return out
    },
    stats: (): StateStoreStats => ({ ...counters }),
    close: async () => {
      if (closed) return
      closed = true
      if (memory !== null) memory.release()
      else backend.close()
    },
  }
}
