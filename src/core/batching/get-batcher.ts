import type { CommandOptions, RedisArg, RedisReply } from '../driver/port.js'
import { turnBatches, type TurnBatchOptions } from './turn-batches.js'

/** Anything that sends one command (a `Connection`, a driver). */
export interface CommandTarget {
  command(args: readonly RedisArg[], options?: CommandOptions): Promise<RedisReply>
}

/** Options of {@link createGetBatcher}. */
export interface GetBatcherOptions extends TurnBatchOptions {
  /** Return values as `Buffer`. @defaultValue `false` */
  readonly buffers?: boolean
}

/**
 * Reads strings for many callers: the `GET`s of one turn of the event loop become one `MGET`
 * (per Cluster slot with `bySlot`; at most `maxCalls` keys each), and each caller gets its own
 * value (`null` when missing). A turn with one read sends a plain `GET`. A key holding another
 * type reads as `null` in a batch (an `MGET` does not fail on it) and fails alone.
 *
 * @example
 * ```ts
 * const reads = createGetBatcher(valkit.connection, { bySlot: valkit.config.topology.kind === 'cluster' })
 * const [a, b] = await Promise.all([reads.get('k:a'), reads.get('k:b')]) // one MGET
 * ```
 */
export interface GetBatcher {
  get(key: RedisArg): Promise<RedisReply>
}

/** Creates a {@link GetBatcher} on `target`. */
export function createGetBatcher(target: CommandTarget, options: GetBatcherOptions = {}): GetBatcher {
  const buffers = options.buffers === true
  const get = turnBatches<RedisArg>(
    options,
    (key) => key,
    (batch) => {
      if (batch.length === 1) {
        const one = batch[0]!
        target
          .command(['GET', one.item], buffers ? { key: one.item, buffers } : undefined)
          .then(one.resolve, one.reject)
        return
      }
      const args: RedisArg[] = new Array<RedisArg>(batch.length + 1)
      args[0] = 'MGET'
      for (let i = 0; i < batch.length; i++) args[i + 1] = batch[i]!.item
      target.command(args, { key: batch[0]!.item, buffers }).then(
        (reply) => {
          const values = reply as RedisReply[]
          for (let i = 0; i < batch.length; i++) batch[i]!.resolve(values[i] ?? null)
        },
        (err: unknown) => {
          for (const w of batch) w.reject(err)
        },
      )
    },
  )
  return { get }
}
