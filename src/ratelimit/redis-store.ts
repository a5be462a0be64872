import {
  createScriptBatcher,
  runScript,
  type RedisArg,
  type RedisReply,
  type ScriptBatcher,
  type ScriptTarget,
  type Valkit,
} from '../core/index.js'
import { BLOCK_SUBJECT, CHECK_RULES, EXTEND_LEASE, RELEASE_LEASE, withKeys } from './ratelimit-scripts.js'

/**
 * The Redis/Valkey side of a limiter: every call is one script (or one UNLINK) whose keys share
 * one hash tag. Checks made in the same turn of the event loop travel in one script run (per
 * Cluster slot): under load that is most of a limiter's cost on the server and the client.
 *
 * @internal
 */
export class RedisStore {
  readonly #target: ScriptTarget
  readonly #checks: ScriptBatcher

  constructor(
    private readonly valkit: Valkit,
    timeoutMs: number,
  ) {
    const connection = valkit.connection
    this.#target =
      timeoutMs > 0
        ? { command: (args, options) => connection.command(args, { ...options, timeoutMs }) }
        : connection
    this.#checks = createScriptBatcher(this.#target, CHECK_RULES, {
      bySlot: valkit.config.topology.kind === 'cluster',
    })
  }

  check(keys: readonly string[], args: readonly RedisArg[]): Promise<RedisReply> {
    return this.#checks.run(keys, args)
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
