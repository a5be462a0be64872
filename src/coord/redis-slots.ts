import {
  ValkitError,
  createScriptBatcher,
  type RedisReply,
  type Script,
  type ScriptBatcher,
  type Valkit,
  replyText,
} from '../core/index.js'
import { ACQUIRE_SLOT, CANCEL_WAIT, EXTEND_SLOT, RAISE_FENCE, RELEASE_SLOT } from './coord-scripts.js'
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
  /** `1` for kinds whose resources have shared holders (the scripts skip that work otherwise). */
  readonly shared: string
}

const NO_GRANTS: readonly Grant[] = Object.freeze([])

const num = (reply: RedisReply | undefined): number => Number(reply)

/** `owner, token, expiry` triples from `reply[from..]`. */
function grantsOf(reply: RedisReply[], from: number): readonly Grant[] {
  if (reply.length <= from) return NO_GRANTS
  const grants: Grant[] = []
  for (let i = from; i + 2 < reply.length; i += 3) {
    grants.push({ owner: replyText(reply[i]), token: num(reply[i + 1]), expiresAtMs: num(reply[i + 2]) })
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
  readonly #acquires: ScriptBatcher
  readonly #releases: ScriptBatcher
  readonly #raises: ScriptBatcher
  readonly #listeners = new Map<
    string,
    { readonly set: Set<(e: SlotEvent) => void>; readonly raw: (m: Buffer) => void }
  >()

  constructor(valkit: Valkit, options: ResolvedCoordOptions, ownerPrefix: string) {
    this.#valkit = valkit
    this.#options = options
    this.#mine = ownerPrefix
    this.#fenceMs = String(options.fenceRetentionMs)
    // Grants and releases of one turn of the event loop share a script run (per Cluster slot).
    const bySlot = valkit.config.topology.kind === 'cluster'
    this.#acquires = createScriptBatcher(valkit.connection, ACQUIRE_SLOT, { bySlot })
    this.#releases = createScriptBatcher(valkit.connection, RELEASE_SLOT, { bySlot })
    this.#raises = createScriptBatcher(valkit.connection, RAISE_FENCE, { bySlot })
  }

  keysOf(ref: SlotRef): ResourceKeys {
    if (ref.keys !== undefined) return ref.keys
    // One checked key, the others by suffix: they share the prefix and the hash tag.
    const base = this.#valkit.keys.key('coord', ref.resource, kindCode(ref.kind), '')
    ref.keys = {
      keys: [`${base}x`, `${base}s`, `${base}st`, `${base}f`, `${base}q`, `${base}qd`],
      channel: `${base}ch`,
      shared: ref.kind === 'semaphore' || ref.kind === 'rwlock' ? '1' : '0',
    }
    return ref.keys
  }

  acquire(call: AcquireCall): Promise<AcquireAnswer> {
    const { keys, shared } = this.keysOf(call.ref)
    const args = [
      call.owner,
      `${call.mode}${call.fair ? '1' : '0'}${call.queued ? '1' : '0'}${shared}`,
      String(call.limit),
      String(call.ttlMs),
      String(call.waitMs),
      this.#mine,
      this.#fenceMs,
    ]
    if (this.#options.durable === false) {
      return this.#acquires.run(keys, args).then((reply) => acquireAnswer(asArray(reply, ACQUIRE_SLOT)))
    }
    return this.#acquireDurable(call, keys, args)
  }

  async #acquireDurable(
    call: AcquireCall,
    keys: readonly string[],
    args: readonly string[],
  ): Promise<AcquireAnswer> {
    const { reply, acks } = await this.#run(ACQUIRE_SLOT, keys, args)
    const answer = acquireAnswer(reply)
    if (answer.granted && (acks ?? 0) < (this.#options.durable as { replicas: number }).replicas) {
      // Not confirmed: a failover now could forget the grant. Give it back and say so.
      await this.release(call.ref, call.owner, call.mode).catch(() => undefined)
      throw this.#notDurable('grant', acks ?? 0)
    }
    return answer
  }

  release(ref: SlotRef, owner: string, mode: SlotMode): Promise<ReleaseAnswer> {
    const { keys, shared } = this.keysOf(ref)
    return this.#run(RELEASE_SLOT, keys, [owner, mode + shared, this.#mine, this.#fenceMs]).then(
      ({ reply }) => ({ released: num(reply[0]) === 1, nowMs: num(reply[1]), grants: grantsOf(reply, 2) }),
    )
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
    const { keys, channel, shared } = this.keysOf(ref)
    const { reply } = await this.#run(CANCEL_WAIT, keys, [
      owner,
      mode,
      channel,
      this.#mine,
      this.#fenceMs,
      shared,
    ])
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
        ['GET', x],
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
    const exclusive = /^(\d+) (.+)$/.exec(replyText(hx))
    if (exclusive !== null && num(pttl) > 0) {
      holders.push({ owner: exclusive[2]!, token: Number(exclusive[1]), mode: 'x', expiresInMs: num(pttl) })
    }
    const tokens = toRecord(hst)
    const flat = (zs as RedisReply[]) ?? []
    for (let i = 0; i + 1 < flat.length; i += 2) {
      const owner = replyText(flat[i])
      const left = Number(flat[i + 1]) - now
      if (left > 0) holders.push({ owner, token: Number(tokens[owner] ?? 0), mode: 's', expiresInMs: left })
    }
    return { holders, queued: num(llen), lastToken: fence === null ? 0 : Number(fence) }
  }

  async raiseFence(ref: SlotRef, owner: string, token: number): Promise<boolean> {
    const { keys } = this.keysOf(ref)
    const reply = await this.#raises.run([keys[0]!, keys[3]!], [owner, String(token), this.#fenceMs])
    return num(reply) === 1
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
  #run(
    script: Script,
    keys: readonly string[],
    args: readonly string[],
  ): Promise<{ reply: RedisReply[]; acks: number | undefined }> {
    if (this.#options.durable === false) {
      const run =
        script === RELEASE_SLOT
          ? this.#releases.run(keys, args)
          : this.#valkit.connection.script(script, keys, args)
      return run.then((reply) => ({ reply: asArray(reply, script), acks: undefined }))
    }
    return this.#runDurable(script, keys, args, this.#options.durable)
  }

  async #runDurable(
    script: Script,
    keys: readonly string[],
    args: readonly string[],
    durable: { readonly replicas: number; readonly timeoutMs: number },
  ): Promise<{ reply: RedisReply[]; acks: number | undefined }> {
    const connection = this.#valkit.connection
    const evalsha = ['EVALSHA', script.sha, String(keys.length), ...keys, ...args]
    const wait = ['WAIT', String(durable.replicas), String(durable.timeoutMs)]
    const options = { key: keys[0]!, timeoutMs: this.#valkit.config.commandTimeoutMs + durable.timeoutMs }
    let replies = await connection.pipeline([evalsha, wait], options)
    const first = replies[0]
    if (
      first instanceof Error &&
      /NOSCRIPT/.test(`${first.message} ${first.cause instanceof Error ? first.cause.message : ''}`)
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

function acquireAnswer(reply: RedisReply[]): AcquireAnswer {
  const grants = grantsOf(reply, 3)
  if (num(reply[0]) === 1) return { granted: true, token: num(reply[1]), nowMs: num(reply[2]), grants }
  return { granted: false, retryInMs: num(reply[1]), nowMs: num(reply[2]), grants }
}

function toRecord(reply: RedisReply): Record<string, string> {
  const out: Record<string, string> = {}
  if (Array.isArray(reply)) {
    for (let i = 0; i + 1 < reply.length; i += 2) out[replyText(reply[i])] = replyText(reply[i + 1])
  } else if (reply !== null && typeof reply === 'object' && !Buffer.isBuffer(reply)) {
    for (const [k, v] of Object.entries(reply)) out[k] = replyText(v)
  }
  return out
}
