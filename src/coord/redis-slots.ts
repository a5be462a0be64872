import { ValkitError, type RedisReply, type Script, type Valkit } from '../core/index.js'
import { ACQUIRE_SLOT, CANCEL_WAIT, EXTEND_SLOT, RELEASE_SLOT } from './coord-scripts.js'
import type { ResolvedCoordOptions } from './coord-options.js'
import {
  kindCode,
  parseSlotEvent,
  type AcquireAnswer,
  type AcquireCall,
  type CancelAnswer,
  type ExtendAnswer,
  type Grant,
  type ReleaseAnswer,
  type SlotBackend,
  type SlotEvent,
  type SlotInspection,
  type SlotMode,
  type SlotRef,
} from './slot-backend.js'

/** The keys of one resource, in the scripts' KEYS order, and its channel. */
interface ResourceKeys {
  readonly keys: readonly string[]
  readonly channel: string
}

const NO_GRANTS: readonly Grant[] = Object.freeze([])

const num = (reply: RedisReply | undefined): number => Number(reply)

/** A bulk string or number reply as text. @internal */
export function text(reply: RedisReply | undefined): string {
  if (typeof reply === 'string') return reply
  if (Buffer.isBuffer(reply)) return reply.toString()
  if (typeof reply === 'number' || typeof reply === 'bigint') return String(reply)
  return ''
}

/** `owner, token, expiry` triples from `reply[from..]`. */
function grantsOf(reply: RedisReply[], from: number): readonly Grant[] {
  if (reply.length <= from) return NO_GRANTS
  const grants: Grant[] = []
  for (let i = from; i + 2 < reply.length; i += 3) {
    grants.push({ owner: text(reply[i]), token: num(reply[i + 1]), expiresAtMs: num(reply[i + 2]) })
  }
  return grants
}

function asArray(reply: RedisReply, script: Script): RedisReply[] {
  if (!Array.isArray(reply)) {
    throw new ValkitError(
      'VALKIT_SCRIPT',
      `Script "${script.name}" returned ${typeof reply}, expected an array.`,
    )
  }
  return reply
}

/**
 * Lock state in Redis/Valkey: every state change is one script over the resource's six keys,
 * which share the resource name as hash tag (one slot on a Cluster). Grants to waiters of
 * other instances travel on the resource's sharded channel (SPUBLISH from the script).
 *
 * @internal
 */
export class RedisSlots implements SlotBackend {
  readonly local = false
  readonly #valkit: Valkit
  readonly #options: ResolvedCoordOptions
  readonly #mine: string
  readonly #fenceMs: string
  readonly #listeners = new Map<
    string,
    { readonly set: Set<(e: SlotEvent) => void>; readonly raw: (m: Buffer) => void }
  >()

  constructor(valkit: Valkit, options: ResolvedCoordOptions, ownerPrefix: string) {
    this.#valkit = valkit
    this.#options = options
    this.#mine = ownerPrefix
    this.#fenceMs = String(options.fenceRetentionMs)
  }

  keysOf(ref: SlotRef): ResourceKeys {
    const ks = this.#valkit.keys
    const code = kindCode(ref.kind)
    const r = ref.resource
    return {
      keys: [
        ks.key('coord', r, code, 'x'),
        ks.key('coord', r, code, 's'),
        ks.key('coord', r, code, 'st'),
        ks.key('coord', r, code, 'f'),
        ks.key('coord', r, code, 'q'),
        ks.key('coord', r, code, 'qd'),
      ],
      channel: ks.key('coord', r, code, 'ch'),
    }
  }

  async acquire(call: AcquireCall): Promise<AcquireAnswer> {
    const { keys, channel } = this.keysOf(call.ref)
    const args = [
      call.owner,
      call.mode,
      String(call.limit),
      String(call.ttlMs),
      String(call.waitMs),
      call.fair ? '1' : '0',
      call.queued ? '1' : '0',
      channel,
      this.#mine,
      this.#fenceMs,
    ]
    const { reply, acks } = await this.#run(ACQUIRE_SLOT, keys, args)
    const grants = grantsOf(reply, 3)
    if (num(reply[0]) === 1) {
      const token = num(reply[1])
      if (acks !== undefined && acks < (this.#options.durable as { replicas: number }).replicas) {
        // Not confirmed: a failover now could forget the grant. Give it back and say so.
        await this.release(call.ref, call.owner, call.mode).catch(() => undefined)
        throw this.#notDurable('grant', acks)
      }
      return { granted: true, token, nowMs: num(reply[2]), grants }
    }
    return { granted: false, retryInMs: num(reply[1]), nowMs: num(reply[2]), grants }
  }

  async release(ref: SlotRef, owner: string, mode: SlotMode): Promise<ReleaseAnswer> {
    const { keys, channel } = this.keysOf(ref)
    const { reply } = await this.#run(RELEASE_SLOT, keys, [owner, mode, channel, this.#mine, this.#fenceMs])
    return { released: num(reply[0]) === 1, nowMs: num(reply[1]), grants: grantsOf(reply, 2) }
  }

  async extend(ref: SlotRef, owner: string, mode: SlotMode, ttlMs: number): Promise<ExtendAnswer> {
    const { keys } = this.keysOf(ref)
    const { reply, acks } = await this.#run(EXTEND_SLOT, keys.slice(0, 3), [owner, mode, String(ttlMs)])
    const durable = this.#options.durable
    return {
      extended: num(reply[0]) === 1,
      nowMs: num(reply[1]),
      confirmed: durable === false || (acks ?? 0) >= durable.replicas,
    }
  }

  async cancel(ref: SlotRef, owner: string, mode: SlotMode): Promise<CancelAnswer> {
    const { keys, channel } = this.keysOf(ref)
    const { reply } = await this.#run(CANCEL_WAIT, keys, [owner, mode, channel, this.#mine, this.#fenceMs])
    if (num(reply[0]) === 1) {
      return {
        granted: { owner, token: num(reply[1]), expiresAtMs: num(reply[3]) },
        nowMs: num(reply[2]),
        grants: [],
      }
    }
    return { granted: null, nowMs: num(reply[1]), grants: grantsOf(reply, 2) }
  }

  async watch(ref: SlotRef, listener: (event: SlotEvent) => void): Promise<void> {
    const { channel } = this.keysOf(ref)
    let entry = this.#listeners.get(channel)
    if (entry === undefined) {
      const set = new Set<(e: SlotEvent) => void>()
      const raw = (message: Buffer): void => {
        const event = parseSlotEvent(message.toString())
        if (event !== undefined) for (const l of set) l(event)
      }
      entry = { set, raw }
      this.#listeners.set(channel, entry)
      entry.set.add(listener)
      await this.#valkit.driver.ssubscribe(channel, raw)
      return
    }
    entry.set.add(listener)
  }

  async unwatch(ref: SlotRef, listener: (event: SlotEvent) => void): Promise<void> {
    const { channel } = this.keysOf(ref)
    const entry = this.#listeners.get(channel)
    if (entry === undefined) return
    entry.set.delete(listener)
    if (entry.set.size > 0) return
    this.#listeners.delete(channel)
    await this.#valkit.driver.sunsubscribe(channel, entry.raw).catch(() => undefined)
  }

  async inspect(ref: SlotRef): Promise<SlotInspection> {
    const [x, s, st, f, q] = this.keysOf(ref).keys as [string, string, string, string, string]
    const replies = await this.#valkit.connection.pipeline(
      [
        ['HGETALL', x],
        ['PTTL', x],
        ['ZRANGE', s, '0', '-1', 'WITHSCORES'],
        ['HGETALL', st],
        ['LLEN', q],
        ['GET', f],
        ['TIME'],
      ],
      { key: x },
    )
    for (const r of replies) if (r instanceof Error) throw r
    const [hx = null, pttl, zs, hst = null, llen, fence, time] = replies as RedisReply[]
    const now =
      Number((time as RedisReply[])[0]) * 1000 + Math.floor(Number((time as RedisReply[])[1]) / 1000)
    const holders: { owner: string; token: number; mode: SlotMode; expiresInMs: number }[] = []
    const xh = toRecord(hx)
    if (xh.o !== undefined && num(pttl) > 0)
      holders.push({ owner: xh.o, token: Number(xh.t), mode: 'x', expiresInMs: num(pttl) })
    const tokens = toRecord(hst)
    const flat = (zs as RedisReply[]) ?? []
    for (let i = 0; i + 1 < flat.length; i += 2) {
      const owner = text(flat[i])
      const left = Number(flat[i + 1]) - now
      if (left > 0) holders.push({ owner, token: Number(tokens[owner] ?? 0), mode: 's', expiresInMs: left })
    }
    return { holders, queued: num(llen), lastToken: fence === null ? 0 : Number(fence) }
  }

  onResubscribe(listener: () => void): () => void {
    let seen = false
    return this.#valkit.driver.onEvent((event) => {
      if (event.type !== 'ready') return
      if (seen) listener()
      seen = true
    })
  }

  /** Runs a script; with `durable`, in one pipeline with `WAIT` (loading the script first if the server lacks it). */
  async #run(
    script: Script,
    keys: readonly string[],
    args: readonly string[],
  ): Promise<{ reply: RedisReply[]; acks: number | undefined }> {
    const connection = this.#valkit.connection
    const durable = this.#options.durable
    if (durable === false) {
      return { reply: asArray(await connection.script(script, keys, args), script), acks: undefined }
    }
    const evalsha = ['EVALSHA', script.sha, String(keys.length), ...keys, ...args]
    const wait = ['WAIT', String(durable.replicas), String(durable.timeoutMs)]
    const options = { key: keys[0]!, timeoutMs: this.#valkit.config.commandTimeoutMs + durable.timeoutMs }
    let replies = await connection.pipeline([evalsha, wait], options)
    if (
      replies[0] instanceof Error &&
      /NOSCRIPT/.test(
        `${replies[0].message} ${replies[0].cause instanceof Error ? replies[0].cause.message : ''}`,
      )
    ) {
      await connection.command(['SCRIPT', 'LOAD', script.source], { key: keys[0]! })
      replies = await connection.pipeline([evalsha, wait], options)
    }
    const [reply, acks] = replies
    if (reply instanceof Error) throw reply
    return { reply: asArray(reply ?? null, script), acks: acks instanceof Error ? 0 : num(acks) }
  }

  #notDurable(what: string, acks: number): ValkitError {
    const durable = this.#options.durable as { replicas: number; timeoutMs: number }
    return new ValkitError(
      'VALKIT_NOT_DURABLE',
      `The ${what} was confirmed by ${acks} of ${durable.replicas} replicas within ${durable.timeoutMs} ms, so a failover could forget it; it was given back. Retry, or lower coord.durable.replicas.`,
      { details: { acks, replicas: durable.replicas } },
    )
  }
}

function toRecord(reply: RedisReply): Record<string, string> {
  const out: Record<string, string> = {}
  if (Array.isArray(reply)) {
    for (let i = 0; i + 1 < reply.length; i += 2) out[text(reply[i])] = text(reply[i + 1])
  } else if (reply !== null && typeof reply === 'object' && !Buffer.isBuffer(reply)) {
    for (const [k, v] of Object.entries(reply)) out[k] = text(v)
  }
  return out
}
