import {
  runScript,
  turnBatches,
  type RedisArg,
  type RedisReply,
  type ScriptTarget,
  type Valkit,
  type Waiting,
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
interface Check {
  readonly keys: readonly string[]
  readonly args: readonly RedisArg[]
}

export class RedisStore {
  readonly #target: ScriptTarget
  readonly #check: (check: Check) => Promise<RedisReply>

  constructor(
    private readonly valkit: Valkit,
    timeoutMs: number,
  ) {
    const connection = valkit.connection
    this.#target =
      timeoutMs > 0
        ? { command: (args, options) => connection.command(args, { ...options, timeoutMs }) }
        : connection
    this.#check = turnBatches<Check>(
      { bySlot: valkit.config.topology.kind === 'cluster' },
      (check) => check.keys[0],
      (batch) => this.#send(batch),
    )
  }

  /** One check: `args` start with its number of rules, as `RuleSet.plan` makes them. */
  check(keys: readonly string[], args: readonly RedisArg[]): Promise<RedisReply> {
    return this.#check({ keys, args })
  }

  /** Runs the checks of one turn in one script call; each caller gets `{ now, its rules' four numbers... }`. */
  #send(batch: Waiting<Check>[]): void {
    const keys: RedisArg[] = []
    const args: RedisArg[] = [batch.length]
    const sizes: number[] = new Array<number>(batch.length)
    for (let i = 0; i < batch.length; i++) {
      const check = batch[i]!.item
      for (const key of check.keys) keys.push(key)
      for (const arg of check.args) args.push(arg)
      sizes[i] = Number(check.args[0]) * 4
    }
    runScript(this.#target, withKeys(CHECK_RULES, keys.length), keys, args).then(
      (reply) => {
        const all = reply as number[]
        if (batch.length === 1) return batch[0]!.resolve(all)
        for (let i = 0, at = 1; i < batch.length; at += sizes[i]!, i++) {
          const own: number[] = new Array<number>(1 + sizes[i]!)
          own[0] = all[0]!
          for (let j = 0; j < sizes[i]!; j++) own[1 + j] = all[at + j]!
          batch[i]!.resolve(own)
        }
      },
      (err: unknown) => {
        for (const w of batch) w.reject(err)
      },
    )
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
