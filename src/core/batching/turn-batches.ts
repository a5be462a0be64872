import type { RedisArg, RedisReply } from '../driver/port.js'
import { ValkitError } from '../errors.js'
import { slotOf } from '../keys/slot.js'

/** One caller waiting in a batch. */
export interface Waiting<I> {
  readonly item: I
  readonly resolve: (reply: RedisReply) => void
  readonly reject: (err: unknown) => void
}

/** How calls are grouped into batches. */
export interface TurnBatchOptions {
  /** Calls whose keys are in different Cluster slots go in different batches. @defaultValue `false` */
  readonly bySlot?: boolean
  /** Most calls in one batch; more calls in the same turn start another. @defaultValue `128` */
  readonly maxCalls?: number
}

/**
 * Groups the calls made in one turn of the event loop (per Cluster slot when `bySlot`) and hands
 * each group to `send` once the turn ends (`setImmediate`): `send` settles every waiter. Returns
 * the function callers use; `keyOf` gives the key that routes an item.
 */
export function turnBatches<I>(
  options: TurnBatchOptions,
  keyOf: (item: I) => RedisArg | undefined,
  send: (batch: Waiting<I>[]) => void,
): (item: I) => Promise<RedisReply> {
  const bySlot = options.bySlot === true
  const maxCalls = options.maxCalls ?? 128
  if (!Number.isSafeInteger(maxCalls) || maxCalls < 1) {
    throw new ValkitError(
      'VALKIT_INVALID_ARGUMENT',
      `maxCalls must be a positive integer, got ${String(maxCalls)}.`,
    )
  }
  const open = new Map<number, Waiting<I>[]>()
  return (item) => {
    let group = 0
    if (bySlot) {
      const key = keyOf(item)
      if (key !== undefined) group = slotOf(typeof key === 'number' ? String(key) : key)
    }
    return new Promise<RedisReply>((resolve, reject) => {
      let batch = open.get(group)
      if (batch === undefined || batch.length >= maxCalls) {
        const fresh: Waiting<I>[] = []
        batch = fresh
        open.set(group, fresh)
        setImmediate(() => {
          if (open.get(group) === fresh) open.delete(group)
          send(fresh)
        })
      }
      batch.push({ item, resolve, reject })
    })
  }
}
