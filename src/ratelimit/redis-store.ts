import {
  createMultiCallBatcher,
  runScript,
  type RedisArg,
  type RedisReply,
  type ScriptCall,
  type ScriptTarget,
  type Valkit,
} from '../core/index.js'
import { BLOCK_SUBJECT, CHECK_RULES, EXTEND_LEASE, RELEASE_LEASE, withKeys } from './ratelimit-scripts.js'

/**
 * The Redis/Valkey side of a limiter: every call is one script (or one UNLINK) whose keys share
 * one hash tag. Checks made in the same turn of the event loop travel in one run of the check
 * script (per Cluster slot; the script takes any number of checks): under load that is most of
 * a limiter's cost on the server and the client.
 *
 * @internal
 */
/** The check script's reply `{ now, then four numbers per rule of each check }`, one `{ now, ... }` per check. */
function splitChecks(reply: RedisReply, calls: readonly ScriptCall[]): RedisReply[] {
  const all = reply as number[]
  if (calls.length === 1) return [all]
  const out: number[][] = new Array<number[]>(calls.length)
  for (let i = 0, at = 1; i < calls.length; i++) {
    const size = Number(calls[i]!.args[0]) * 4
    const own: number[] = new Array<number>(1 + size)
    own[0] = all[0]!
    for (let j = 0; j < size; j++) own[1 + j] = all[at + j]!
    out[i] = own
    at += size
  }
  return out
}

export class RedisStore {
  readonly #target: ScriptTarget
  readonly #check: (check: ScriptCall) => Promise<RedisReply>

  constructor(
    private readonly valkit: Valkit,
    timeoutMs: number,
  ) {
    const connection = valkit.connection
    this.#target =
      timeoutMs > 0
        ? { command: (args, options) => connection.command(args, { ...options, timeoutMs }) }
        : connection
    this.#check = createMultiCallBatcher(this.#target, CHECK_RULES, {
      bySlot: valkit.config.topology.kind === 'cluster',
      split: splitChecks,
    })
  }

  /** One check: `args` start with its number of rules, as `RuleSet.plan` makes them. */
  check(keys: readonly string[], args: readonly RedisArg[]): Promise<RedisReply> {
    return this.#check({ keys, args })
  }

  async release(keys: readonly string[], id: string): Promise<number> {
    return Number(await runScript(this.#target, withKeys(RELEASE_LEASE, keys.length), keys, [id]))
  }

  async extend(keys: readonly string[], id: string, ttlMs: number): Promise<number> {
    return Number(await runScript(this.#target, withKeys(EXTEND_LEASE, keys.length), keys, [id, ttlMs]))
  }

  async block(keys: readonly string[], ms: number): Promise<number> {
    return Number(await runScript(this.#target, withKeys(BLOCK_SUBJECT, keys.length), keys, [ms]))
  }

  async delete(keys: readonly string[]): Promise<void> {
    if (keys.length === 0) return
    await this.valkit.connection.command(['UNLINK', ...keys], { key: keys[0] })
  }
}
