import {
  ValkitError,
  type DriverPort,
  type RedisArg,
  type RedisReply,
  type Valkit,
  replyText,
} from '../core/index.js'
import type { CoordEngine } from './coord-engine.js'

/** What a transaction's function reads through: its commands run on the connection that watches the keys. */
export interface TransactionReads {
  /** `GET key`. */
  get(key: string): Promise<string | null>
  /** Any read command, e.g. `['HGETALL', key]`. */
  command(args: readonly RedisArg[]): Promise<RedisReply>
}

/**
 * What `coord.transaction` resolves with. A conflict that outlasted the retries is a result.
 *
 * @example
 * ```ts
 * const r = await coord.transaction(['{cart}:7'], async (tx) => [['HSET', '{cart}:7', 'total', Number(await tx.get('{cart}:7:n')) * 2]])
 * if (!r.committed) console.log(r.reason, r.attempts)
 * ```
 */
export type TransactionResult =
  | { readonly committed: true; readonly replies: readonly RedisReply[]; readonly attempts: number }
  | { readonly committed: false; readonly reason: 'conflict' | 'aborted'; readonly attempts: number }

/** Options of `coord.transaction`. */
export interface TransactionOptions {
  /**
   * How many times to run the function again when a watched key changed before `EXEC`.
   * @defaultValue 5
   */
  readonly retries?: number
}

/**
 * `WATCH` the keys, let `fn` read them and return the writes, then `MULTI` … `EXEC`; when a
 * watched key changed in between, run `fn` again (up to `retries` times). `fn` returns `null`
 * to give up (`reason: 'aborted'`). The keys are yours (no valkit prefix); on a Cluster they
 * must share one hash tag. Transactions run one at a time on a dedicated connection. Prefer a
 * Lua script (one round trip) where you can; this is for callers who need optimistic
 * read-modify-write over plain commands.
 *
 * @internal
 */
export class TransactionRunner {
  #driver: Promise<DriverPort> | null = null
  #queue: Promise<unknown> = Promise.resolve()
  #closed = false

  constructor(
    private readonly engine: CoordEngine,
    private readonly valkit: Valkit,
  ) {}

  run(
    keys: readonly string[],
    fn: (
      reads: TransactionReads,
    ) => Promise<readonly (readonly RedisArg[])[] | null> | readonly (readonly RedisArg[])[] | null,
    options: TransactionOptions = {},
  ): Promise<TransactionResult> {
    if (this.valkit.config.topology.kind === 'memory') {
      return Promise.reject(
        new ValkitError(
          'VALKIT_UNAVAILABLE',
          'coord.transaction needs Redis/Valkey (MULTI/WATCH); no server is configured.',
        ),
      )
    }
    if (
      !Array.isArray(keys) ||
      keys.length === 0 ||
      keys.some((k) => typeof k !== 'string' || k.length === 0)
    ) {
      throw new ValkitError(
        'VALKIT_INVALID_ARGUMENT',
        'coord.transaction needs a non-empty list of keys to watch.',
      )
    }
    const retries = options.retries ?? 5
    if (!Number.isSafeInteger(retries) || retries < 0) {
      throw new ValkitError(
        'VALKIT_INVALID_ARGUMENT',
        `retries must be an integer >= 0, got ${String(retries)}.`,
      )
    }
    const result = this.#queue.then(() => this.#attempts(keys, fn, retries))
    this.#queue = result.catch(() => undefined)
    return result
  }

  async close(): Promise<void> {
    this.#closed = true
    const driver = this.#driver
    this.#driver = null
    if (driver !== null) await (await driver.catch(() => null))?.close()
  }

  async #attempts(
    keys: readonly string[],
    fn: (
      reads: TransactionReads,
    ) => Promise<readonly (readonly RedisArg[])[] | null> | readonly (readonly RedisArg[])[] | null,
    retries: number,
  ): Promise<TransactionResult> {
    // A transaction queued behind others when the instance closed does not open a connection.
    if (this.#closed) throw transactionClosedError()
    this.#driver ??= this.valkit.driver.duplicate()
    const driver = await this.#driver
    // close() ran while the connection was opening: it took that connection and closes it.
    if (this.#closed) throw transactionClosedError()
    const key = keys[0]!
    const send = (args: readonly RedisArg[]): Promise<RedisReply> =>
      this.#withDeadline(driver.command(args, { key }), args)
    const reads: TransactionReads = {
      get: async (k) => {
        const reply = await send(['GET', k])
        return reply === null ? null : replyText(reply)
      },
      command: (args) => send(args),
    }
    for (let attempt = 1; attempt <= retries + 1; attempt++) {
      await send(['WATCH', ...keys])
      let writes: readonly (readonly RedisArg[])[] | null
      try {
        writes = await fn(reads)
      } catch (err) {
        await send(['UNWATCH']).catch(() => undefined)
        throw err
      }
      if (writes === null) {
        await send(['UNWATCH'])
        this.engine.metrics.transaction('gave-up')
        return { committed: false, reason: 'aborted', attempts: attempt }
      }
      await send(['MULTI'])
      for (const write of writes) await send(write)
      const replies = await send(['EXEC'])
      if (Array.isArray(replies)) {
        this.engine.metrics.transaction('committed')
        return { committed: true, replies, attempts: attempt }
      }
      this.engine.metrics.transaction('conflict')
    }
    this.engine.metrics.transaction('gave-up')
    return { committed: false, reason: 'conflict', attempts: retries + 1 }
  }

  /** The dedicated connection has no deadlines of its own: the connection's command timeout applies. */
  #withDeadline(work: Promise<RedisReply>, args: readonly RedisArg[]): Promise<RedisReply> {
    const ms = this.valkit.config.commandTimeoutMs
    if (ms <= 0) return work
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        // The connection's state (WATCH, MULTI) is unknown now: start over on a fresh one.
        const stale = this.#driver
        this.#driver = null
        void stale?.then((d) => d.close()).catch(() => undefined)
        reject(
          new ValkitError(
            'VALKIT_TIMEOUT',
            `${String(args[0])} got no reply within ${ms} ms (commandTimeout).`,
          ),
        )
      }, ms)
      work.then(
        (reply) => {
          clearTimeout(timer)
          resolve(reply)
        },
        (err: unknown) => {
          clearTimeout(timer)
          reject(
            err instanceof ValkitError
              ? err
              : new ValkitError(
                  'VALKIT_COMMAND',
                  `${String(args[0])} failed: ${err instanceof Error ? err.message : String(err)}`,
                  {
                    cause: err,
                  },
                ),
          )
        },
      )
    })
  }
}

/** What a transaction asked of a closed coord instance gets. @internal */
export function transactionClosedError(): ValkitError {
  return new ValkitError(
    'VALKIT_CLOSED',
    'This coord instance is closed; create a new one to run a transaction.',
  )
}
