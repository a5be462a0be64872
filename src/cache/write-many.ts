import { SET_MANY, withKeys } from './cache-scripts.js'
import type { NamespaceL2 } from './namespace-l2.js'

/** One validated value of `setMany`: its TTL is already jittered. @internal */
export interface PreparedWrite {
  readonly key: string
  readonly value: unknown
  readonly ttlMs: number
  readonly tags: string[] | null
}

/**
 * Writes several values of one namespace: to L1, then to L2 in one script (each value with its
 * own TTL and tags; every tag set passed once), then one invalidation message for all keys.
 * Encoding runs first, so a value that cannot be stored throws before anything is written.
 * While L2 is unusable the L2 deletions are remembered for the replay.
 *
 * @internal
 */
export async function writeMany(l2: NamespaceL2, prepared: readonly PreparedWrite[]): Promise<void> {
  const rt = l2.rt
  const keepMs = rt.plan.keepMs
  const framed = prepared.map((p) => l2.encode(p.key, p.value, p.ttlMs, p.tags, keepMs, false)!)
  const usable = rt.l2Usable()
  rt.seq++
  for (let i = 0; i < prepared.length; i++) {
    const p = prepared[i]!
    const full = l2.keys.value + p.key
    rt.taintKey(full)
    rt.sets++
    if (!l2.mayFill()) {
      rt.l1?.delete(full)
      continue
    }
    rt.l1Put(full, l2.entry(p.value, false, p.tags, p.ttlMs, keepMs), p.ttlMs + keepMs, framed[i]!.size)
  }
  if (!rt.l2) return
  if (!usable) {
    for (const p of prepared) rt.remember(l2, 'keys', p.key)
    return
  }
  const keys: string[] = prepared.map((p) => l2.keys.value + p.key)
  const tagIndex = new Map<string, number>()
  const args: (string | number | Buffer)[] = [prepared.length]
  for (let i = 0; i < prepared.length; i++) {
    const p = prepared[i]!
    const indexes: number[] = []
    for (const tag of p.tags ?? []) {
      let index = tagIndex.get(tag)
      if (index === undefined) {
        keys.push(l2.keys.tag + tag)
        tagIndex.set(tag, (index = keys.length))
      }
      indexes.push(index)
    }
    args.push(framed[i]!.bytes!, p.ttlMs + keepMs, indexes.length, ...indexes)
  }
  try {
    await rt.valkit.connection.script(withKeys(SET_MANY, keys.length), keys, args)
    await l2.publish({ kind: 'keys', keys: prepared.map((p) => p.key) })
  } catch (err) {
    rt.l2Failed(err)
    for (const p of prepared) rt.remember(l2, 'keys', p.key)
  }
}
