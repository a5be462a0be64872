import { compileGlob } from '../core/index.js'
import { decodeCacheEvent } from './cache-event.js'
import type { CacheRuntime } from './cache-runtime.js'
import type { NamespaceKeys } from './namespace-keys.js'

/**
 * Drops the L1 entries of a namespace whose key (without the namespace) matches a glob, and
 * taints the loads of those keys; returns how many entries were dropped.
 *
 * @internal
 */
export function dropPattern(rt: CacheRuntime, keys: NamespaceKeys, pattern: string): number {
  const prefix = keys.value
  const match = compileGlob(pattern)
  const matches = (full: string): boolean => full.startsWith(prefix) && match(full.slice(prefix.length))
  rt.taintWhere(matches)
  const l1 = rt.l1
  if (l1 === null) return 0
  const doomed: string[] = []
  for (const full of l1.keys()) if (matches(full)) doomed.push(full)
  for (const full of doomed) l1.delete(full)
  return doomed.length
}

/**
 * Applies another instance's invalidation message to this process: drops the L1 entries it
 * names, taints the loads it overtakes, wakes the loads waiting for its key. Ignores this
 * instance's own messages and anything malformed.
 *
 * @internal
 */
export function applyCacheMessage(rt: CacheRuntime, keys: NamespaceKeys, message: Buffer): void {
  const event = decodeCacheEvent(message)
  if (event === undefined || event.origin === rt.origin || rt.closed) return
  if (event.kind === 'released') {
    for (const key of event.keys) rt.wake(keys.value + key)
    return
  }
  rt.seq++
  let dropped = 0
  if (event.kind === 'keys') {
    for (const key of event.keys) {
      const full = keys.value + key
      rt.taintKey(full)
      if (rt.l1?.delete(full)) dropped++
      rt.wake(full)
    }
  } else if (event.kind === 'tags') {
    const tagKeys = keys.tagIndexKeys(event.tags)
    rt.taintTags(tagKeys)
    dropped = rt.dropTagKeys(tagKeys)
  } else if (event.kind === 'pattern') dropped = dropPattern(rt, keys, event.pattern)
  else {
    rt.taintWhere((full) => keys.inScope(full))
    dropped = rt.dropPrefixes(keys.clearPrefixes)
  }
  rt.remoteInvalidations += dropped
}
