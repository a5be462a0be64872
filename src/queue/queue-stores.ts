import { createHash } from 'node:crypto'
import { CLUSTER_SLOTS, slotOf, type Valkit } from '../core/index.js'
import { MemoryQueueStore } from './memory-queue-store.js'
import type { QueueStore } from './queue-store.js'
import { RedisQueueStore } from './redis-queue-store.js'

/** Memory stores are per valkit instance and tag, so queues and workers of one process share them. */
const memoryStores = new WeakMap<Valkit, Map<string, MemoryQueueStore>>()

/** The prefix of numbered job ids in partition `i` (none for an unpartitioned queue). @internal */
export function idPrefix(partitions: number, i: number): string {
  return partitions === 1 ? '' : `p${i}-`
}

/** The partition a numbered id of a partitioned queue belongs to, or -1. @internal */
export function partitionOfNumbered(id: string, partitions: number): number {
  const m = /^p(\d+)-\d+$/.exec(id)
  return m === null || Number(m[1]) >= partitions ? -1 : Number(m[1])
}

const tags = new Map<string, string>()

/**
 * The hash tag of partition `i` of queue `name` (`name` itself for an unpartitioned queue):
 * `<name>:p<i>`, or `<name>:p<i>.<k>` with the smallest `k` that puts its slot in the i-th of N
 * equal shares of the 16,384 slots. A Cluster's masters own even ranges of slots by default, so
 * the partitions land on different masters instead of wherever their names hash.
 *
 * @internal
 */
export function partitionTag(name: string, partitions: number, i: number): string {
  if (partitions === 1) return name
  const cacheKey = `${name}\u0000${partitions}\u0000${i}`
  const known = tags.get(cacheKey)
  if (known !== undefined) return known
  const lo = Math.floor((i * CLUSTER_SLOTS) / partitions)
  const hi = Math.floor(((i + 1) * CLUSTER_SLOTS) / partitions)
  let tag = `${name}:p${i}`
  for (let k = 1; k < 1_000_000; k++) {
    const slot = slotOf(`{${tag}}`)
    if (slot >= lo && slot < hi) break
    tag = `${name}:p${i}.${k}`
  }
  tags.set(cacheKey, tag)
  return tag
}

/** The partition a job id goes to: stable, spread by hash. @internal */
export function partitionOf(id: string, partitions: number): number {
  if (partitions === 1) return 0
  return createHash('sha1').update(id).digest().readUInt32BE(0) % partitions
}

/** The stores of every partition of a queue on this valkit instance. @internal */
export function queueStores(
  valkit: Valkit,
  name: string,
  partitions: number,
  eventsMaxLength: number,
  durable = false,
): QueueStore[] {
  const memory = valkit.config.topology.kind === 'memory'
  const out: QueueStore[] = []
  for (let i = 0; i < partitions; i++) {
    const tag = partitionTag(name, partitions, i)
    if (!memory) {
      out.push(new RedisQueueStore(valkit, tag, eventsMaxLength, durable, idPrefix(partitions, i)))
      continue
    }
    let byTag = memoryStores.get(valkit)
    if (byTag === undefined) memoryStores.set(valkit, (byTag = new Map<string, MemoryQueueStore>()))
    let store = byTag.get(tag)
    if (store === undefined)
      byTag.set(tag, (store = new MemoryQueueStore(eventsMaxLength, idPrefix(partitions, i))))
    out.push(store)
  }
  return out
}
