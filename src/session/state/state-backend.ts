import { ValkitError, loadScript, type RedisReply, type Script, type Valkit } from '../../core/index.js'

/** A stored version as the backends move it: raw encoded bytes. @internal */
export interface RawVersion {
  readonly version: number
  readonly updatedAt: number
  readonly bytes: Buffer
}

/** The storage port of the state store (Redis: one script per write; memory: the same rules). @internal */
export interface StateBackend {
  read(id: string): Promise<(RawVersion & { readonly expiresAt: number | null }) | undefined>
  put(
    id: string,
    expected: number | null,
    bytes: Buffer,
    ttlMs: number,
    history: number,
  ): Promise<{ version: number; updatedAt: number } | { conflict: number }>
  delete(id: string, expected: number | null): Promise<boolean | { conflict: number }>
  history(id: string): Promise<RawVersion[]>
  close(): void
}

const load = (file: string): Script =>
  loadScript(new URL(`./scripts/${file}`, import.meta.url), { numberOfKeys: 2 })
const PUT = load('put-state-2.lua')
const DELETE = load('delete-state-2.lua')
const BUFFERS = Object.freeze({ buffers: true as const })

/** `version:updatedAt:bytes` of a history entry. */
function parseEntry(entry: Buffer): RawVersion | undefined {
  const a = entry.indexOf(0x3a)
  const b = a === -1 ? -1 : entry.indexOf(0x3a, a + 1)
  if (b === -1) return undefined
  const version = Number(entry.toString('latin1', 0, a))
  const updatedAt = Number(entry.toString('latin1', a + 1, b))
  if (!Number.isSafeInteger(version) || !Number.isSafeInteger(updatedAt)) return undefined
  return { version, updatedAt, bytes: entry.subarray(b + 1) }
}

/**
 * Keys of a document, under the tag `{<store>:<id>}` so a document and its history share a slot:
 * `{prefix}:v1:state:{<store>:<id>}:doc` and `...:hist`.
 *
 * @internal
 */
export class RedisStateBackend implements StateBackend {
  constructor(
    private readonly valkit: Valkit,
    private readonly store: string,
  ) {}

  private keys(id: string): [string, string] {
    const tag = `${this.store}:${id}`
    return [this.valkit.keys.key('state', tag, 'doc'), this.valkit.keys.key('state', tag, 'hist')]
  }

  async read(id: string): Promise<(RawVersion & { expiresAt: number | null }) | undefined> {
    const [doc] = this.keys(id)
    const [fields, ttl, time] = await this.valkit.connection.pipeline(
      [['HMGET', doc, 'v', 't', 'd'], ['PTTL', doc], ['TIME']],
      { buffers: true, key: doc },
    )
    for (const reply of [fields, ttl, time]) if (reply instanceof Error) throw reply
    const [v, t, d] = fields as (Buffer | null)[]
    if (v === null || v === undefined || t === null || t === undefined || d === null || d === undefined)
      return undefined
    const [seconds, micros] = (time as Buffer[]).map((b) => Number(b.toString()))
    const now = seconds! * 1000 + Math.floor(micros! / 1000)
    const left = Number(ttl)
    return {
      version: Number(v.toString()),
      updatedAt: Number(t.toString()),
      bytes: d,
      expiresAt: left > 0 ? now + left : null,
    }
  }

  async put(
    id: string,
    expected: number | null,
    bytes: Buffer,
    ttlMs: number,
    history: number,
  ): Promise<{ version: number; updatedAt: number } | { conflict: number }> {
    const reply = (await this.valkit.connection.script(
      PUT,
      this.keys(id),
      [expected === null ? '' : expected, bytes, ttlMs, history],
      BUFFERS,
    )) as number[]
    return reply[0] === -5
      ? { conflict: Number(reply[1]) }
      : { version: Number(reply[1]), updatedAt: Number(reply[2]) }
  }

  async delete(id: string, expected: number | null): Promise<boolean | { conflict: number }> {
    const reply = await this.valkit.connection.script(DELETE, this.keys(id), [
      expected === null ? '' : expected,
    ])
    if (Array.isArray(reply)) return { conflict: Number(reply[1]) }
    return reply === 1
  }

  async history(id: string): Promise<RawVersion[]> {
    const [, hist] = this.keys(id)
    const reply = (await this.valkit.connection.command(['LRANGE', hist, 0, -1], BUFFERS)) as RedisReply[]
    return reply
      .map((entry) => (Buffer.isBuffer(entry) ? parseEntry(entry) : undefined))
      .filter((e) => e !== undefined)
  }

  close(): void {}
}

interface MemoryDoc {
  version: number
  updatedAt: number
  bytes: Buffer
  expiresAt: number
  history: RawVersion[]
}

/** The state store's backend inside one process (memory topology). @internal */
export class MemoryStateBackend implements StateBackend {
  private readonly docs = new Map<string, MemoryDoc>()
  private readonly timer: NodeJS.Timeout

  constructor() {
    this.timer = setInterval(() => {
      const now = Date.now()
      for (const [id, doc] of this.docs) if (doc.expiresAt <= now) this.docs.delete(id)
    }, 5000)
    this.timer.unref()
  }

  private doc(id: string): MemoryDoc | undefined {
    const doc = this.docs.get(id)
    if (doc !== undefined && doc.expiresAt <= Date.now()) {
      this.docs.delete(id)
      return undefined
    }
    return doc
  }

  async read(id: string): Promise<(RawVersion & { expiresAt: number | null }) | undefined> {
    const doc = this.doc(id)
    if (doc === undefined) return undefined
    return {
      version: doc.version,
      updatedAt: doc.updatedAt,
      bytes: doc.bytes,
      expiresAt: doc.expiresAt === Infinity ? null : doc.expiresAt,
    }
  }

  async put(
    id: string,
    expected: number | null,
    bytes: Buffer,
    ttlMs: number,
    history: number,
  ): Promise<{ version: number; updatedAt: number } | { conflict: number }> {
    const doc = this.doc(id)
    const current = doc?.version ?? 0
    if (expected !== null && expected !== current) return { conflict: current }
    const now = Date.now()
    const kept =
      history > 0 && doc !== undefined
        ? [{ version: doc.version, updatedAt: doc.updatedAt, bytes: doc.bytes }, ...doc.history].slice(
            0,
            history,
          )
        : []
    this.docs.set(id, {
      version: current + 1,
      updatedAt: now,
      bytes: Buffer.from(bytes),
      expiresAt: ttlMs > 0 ? now + ttlMs : Infinity,
      history: kept,
    })
    return { version: current + 1, updatedAt: now }
  }

  async delete(id: string, expected: number | null): Promise<boolean | { conflict: number }> {
    const doc = this.doc(id)
    const current = doc?.version ?? 0
    if (expected !== null && expected !== current) return { conflict: current }
    return this.docs.delete(id)
  }

  async history(id: string): Promise<RawVersion[]> {
    return [...(this.doc(id)?.history ?? [])]
  }

  close(): void {
    clearInterval(this.timer)
  }
}

/** `true` for an id usable as part of a hash tag: 1-256 characters, no braces. @internal */
export function checkStateId(id: unknown): string {
  if (typeof id !== 'string' || id.length === 0 || id.length > 256 || id.includes('{') || id.includes('}')) {
    throw new ValkitError(
      'VALKIT_INVALID_ARGUMENT',
      'Invalid state document id: expected 1-256 characters without braces.',
      {
        details: { argument: 'id' },
      },
    )
  }
  return id
}
