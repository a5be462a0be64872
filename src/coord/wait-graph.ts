import type { RedisReply, Valkit } from '../core/index.js'
import { replyText } from '../core/index.js'
import { END_WAIT, FIND_STUCK, NOTE_HOLD, WAIT_FOR } from './coord-scripts.js'
import type { SlotMode } from './slot-backend.js'

/** A deadlock: who waits for what, and the waiter chosen to be aborted (the youngest). @internal */
export interface Cycle {
  readonly victimAgent: string
  readonly victimOwner: string
  readonly members: readonly { readonly agent: string; readonly lock: string }[]
}

/** A hold older than the maximum. @internal */
export interface StuckHold {
  readonly lock: string
  readonly owner: string
  readonly agent: string
  readonly sinceMs: number
  readonly mode: SlotMode
}

/**
 * The wait-for graph of agents and the locks they hold and wait for: in Redis/Valkey under one
 * hash tag (one slot), or in this process.
 *
 * @internal
 */
export interface WaitGraph {
  noteHold(
    op: 'add' | 'renew' | 'drop',
    lock: string,
    owner: string,
    agent: string,
    mode: SlotMode,
    ttlMs: number,
  ): Promise<void>
  /** Records a wait (`record`) and searches for a cycle through it. */
  waitFor(agent: string, lock: string, owner: string, waitMs: number, record: boolean): Promise<Cycle | null>
  endWait(agent: string, owner: string): Promise<void>
  findStuck(maxHoldMs: number): Promise<StuckHold[]>
  /** Victims chosen by another instance's search (`agent`, `owner`). */
  watchVictims(listener: (agent: string, owner: string) => void): Promise<void>
  unwatchVictims(listener: (agent: string, owner: string) => void): Promise<void>
}

/** How long the graph's keys live after their last change. */
const RETENTION_MS = 3600_000

function cycleOf(reply: RedisReply[]): Cycle | null {
  if (Number(reply[0]) !== 1) return null
  const members: { agent: string; lock: string }[] = []
  for (let i = 3; i + 1 < reply.length; i += 2)
    members.push({ agent: replyText(reply[i]), lock: replyText(reply[i + 1]) })
  return { victimAgent: replyText(reply[1]), victimOwner: replyText(reply[2]), members }
}

function parseHold(field: string, entry: string): StuckHold | undefined {
  const [lock, owner] = field.split('\t')
  const [agent, since, mode] = entry.split('\t')
  if (lock === undefined || owner === undefined || agent === undefined || (mode !== 'x' && mode !== 's'))
    return undefined
  return { lock, owner, agent, sinceMs: Number(since), mode }
}

/** @internal */
export class RedisWaitGraph implements WaitGraph {
  readonly #keys: { W: string; H: string; HL: string; HS: string; channel: string }
  readonly #listeners = new Set<(agent: string, owner: string) => void>()
  readonly #raw = (message: Buffer): void => {
    const [kind, agent, owner] = message.toString().split(' ')
    if (kind === 'v' && agent !== undefined && owner !== undefined)
      for (const l of this.#listeners) l(agent, owner)
  }

  constructor(private readonly valkit: Valkit) {
    const base = valkit.keys.key('coord', '!deadlock', '')
    this.#keys = { W: `${base}w`, H: `${base}h`, HL: `${base}hl`, HS: `${base}hs`, channel: `${base}ch` }
  }

  async noteHold(
    op: 'add' | 'renew' | 'drop',
    lock: string,
    owner: string,
    agent: string,
    mode: SlotMode,
    ttlMs: number,
  ): Promise<void> {
    const { H, HL, HS } = this.#keys
    await this.valkit.connection.script(
      NOTE_HOLD,
      [H, HL, HS],
      [op, lock, owner, agent, mode, String(ttlMs), String(RETENTION_MS)],
    )
  }

  async waitFor(
    agent: string,
    lock: string,
    owner: string,
    waitMs: number,
    record: boolean,
  ): Promise<Cycle | null> {
    const { W, H, HL, HS, channel } = this.#keys
    const reply = await this.valkit.connection.script(
      WAIT_FOR,
      [W, H, HL, HS],
      [
        agent,
        lock,
        owner,
        String(Math.max(1, Math.round(waitMs))),
        record ? '1' : '0',
        channel,
        String(RETENTION_MS),
      ],
    )
    return cycleOf(reply as RedisReply[])
  }

  async endWait(agent: string, owner: string): Promise<void> {
    await this.valkit.connection.script(END_WAIT, [this.#keys.W], [agent, owner])
  }

  async findStuck(maxHoldMs: number): Promise<StuckHold[]> {
    const reply = (await this.valkit.connection.script(
      FIND_STUCK,
      [this.#keys.HS, this.#keys.H],
      [String(maxHoldMs)],
    )) as RedisReply[]
    const out: StuckHold[] = []
    for (let i = 0; i + 1 < reply.length; i += 2) {
      const hold = parseHold(replyText(reply[i]), replyText(reply[i + 1]))
      if (hold !== undefined) out.push(hold)
    }
    return out
  }

  async watchVictims(listener: (agent: string, owner: string) => void): Promise<void> {
    this.#listeners.add(listener)
    if (this.#listeners.size === 1) await this.valkit.driver.ssubscribe(this.#keys.channel, this.#raw)
  }

  async unwatchVictims(listener: (agent: string, owner: string) => void): Promise<void> {
    this.#listeners.delete(listener)
    if (this.#listeners.size === 0)
      await this.valkit.driver.sunsubscribe(this.#keys.channel, this.#raw).catch(() => undefined)
  }
}

interface MemoryHold {
  readonly agent: string
  readonly since: number
  readonly mode: SlotMode
  expires: number
}

/** The graph of one process, shared by the coord instances of one valkit instance. @internal */
export class MemoryWaitGraph implements WaitGraph {
  /** `lock \t owner` -> hold. */
  readonly holds = new Map<string, MemoryHold>()
  /** agent -> wait. */
  readonly waits = new Map<string, { lock: string; owner: string; since: number; deadline: number }>()
  readonly listeners = new Set<(agent: string, owner: string) => void>()

  noteHold(
    op: 'add' | 'renew' | 'drop',
    lock: string,
    owner: string,
    agent: string,
    mode: SlotMode,
    ttlMs: number,
  ): Promise<void> {
    const field = `${lock}\t${owner}`
    const now = Date.now()
    if (op === 'add') this.holds.set(field, { agent, since: now, mode, expires: now + ttlMs })
    else if (op === 'renew') {
      const hold = this.holds.get(field)
      if (hold !== undefined) hold.expires = now + ttlMs
    } else this.holds.delete(field)
    return Promise.resolve()
  }

  waitFor(
    agent: string,
    lock: string,
    owner: string,
    waitMs: number,
    record: boolean,
  ): Promise<Cycle | null> {
    const now = Date.now()
    if (record) this.waits.set(agent, { lock, owner, since: now, deadline: now + waitMs })
    const waitOf = (a: string) => {
      const w = this.waits.get(a)
      return w !== undefined && w.deadline > now ? w : undefined
    }
    const holdersOf = (l: string): string[] => {
      const out: string[] = []
      for (const [field, hold] of this.holds)
        if (field.startsWith(`${l}\t`) && hold.expires > now) out.push(hold.agent)
      return out
    }
    const parent = new Map<string, string>()
    const visited = new Set([agent])
    const stack = [agent]
    for (let steps = 0; stack.length > 0 && steps < 256; steps++) {
      const a = stack.pop()!
      const w = waitOf(a)
      if (w === undefined) continue
      for (const holder of holdersOf(w.lock)) {
        if (holder === agent) {
          const cycle: string[] = []
          for (let m: string | undefined = a; m !== undefined; m = parent.get(m)) cycle.unshift(m)
          let victim = { agent: '', owner: '', since: -1 }
          for (const member of cycle) {
            const mw = waitOf(member)
            if (
              mw !== undefined &&
              (mw.since > victim.since || (mw.since === victim.since && member === agent))
            ) {
              victim = { agent: member, owner: mw.owner, since: mw.since }
            }
          }
          if (victim.agent !== agent) {
            const { agent: va, owner: vo } = victim
            queueMicrotask(() => {
              for (const l of this.listeners) l(va, vo)
            })
          }
          return Promise.resolve({
            victimAgent: victim.agent,
            victimOwner: victim.owner,
            members: cycle.map((m) => ({ agent: m, lock: waitOf(m)?.lock ?? '' })),
          })
        }
        if (!visited.has(holder)) {
          visited.add(holder)
          parent.set(holder, a)
          stack.push(holder)
        }
      }
    }
    return Promise.resolve(null)
  }

  endWait(agent: string, owner: string): Promise<void> {
    if (this.waits.get(agent)?.owner === owner) this.waits.delete(agent)
    return Promise.resolve()
  }

  findStuck(maxHoldMs: number): Promise<StuckHold[]> {
    const now = Date.now()
    const out: StuckHold[] = []
    for (const [field, hold] of this.holds) {
      if (hold.expires <= now) this.holds.delete(field)
      else if (hold.since <= now - maxHoldMs && out.length < 100) {
        const [lock, owner] = field.split('\t') as [string, string]
        out.push({ lock, owner, agent: hold.agent, sinceMs: hold.since, mode: hold.mode })
      }
    }
    return Promise.resolve(out.sort((a, b) => a.sinceMs - b.sinceMs))
  }

  watchVictims(listener: (agent: string, owner: string) => void): Promise<void> {
    this.listeners.add(listener)
    return Promise.resolve()
  }

  unwatchVictims(listener: (agent: string, owner: string) => void): Promise<void> {
    this.listeners.delete(listener)
    return Promise.resolve()
  }
}

const memoryGraphs = new WeakMap<object, MemoryWaitGraph>()

/** The memory graph of a valkit instance (created on first use). @internal */
export function memoryGraphOf(owner: object): MemoryWaitGraph {
  let graph = memoryGraphs.get(owner)
  if (graph === undefined) memoryGraphs.set(owner, (graph = new MemoryWaitGraph()))
  return graph
}
