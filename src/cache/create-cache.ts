import type { Valkit } from '../core/index.js'
import { resolveCacheOptions, type CacheOptions } from './cache-options.js'
import { CacheRuntime } from './cache-runtime.js'
import type { Cache } from './cache-types.js'
import { NamespaceCache } from './namespace-cache.js'

/**
 * Creates a tiered cache on a valkit instance: an in-process L1 (LRU or LFU, bounded by entries
 * and bytes) in front of Redis/Valkey (L2), kept coherent across instances by invalidation
 * messages on one channel per namespace. Options are validated once, here
 * (`VALKIT_INVALID_OPTION` naming the option's path). It subscribes at once; `ready()`
 * resolves when it is subscribed.
 *
 * While Redis/Valkey is unreachable, no call fails because of it: reads are served from L1 or
 * the loader, writes act on L1 and their L2 deletions are replayed after recovery; on recovery
 * L1 is emptied (its entries may have missed invalidations).
 *
 * @example
 * ```ts
 * import { createValkit } from 'valkit'
 * import { createCache } from 'valkit/cache'
 *
 * const valkit = createValkit({ url: process.env.REDIS_URL })
 * const cache = createCache(valkit, { namespace: 'api', ttl: '10m' })
 * await cache.ready()
 *
 * const user = await cache.getOrSet(`user:${id}`, () => db.users.find(id), { tags: [`org:${orgId}`] })
 * await cache.invalidateTags([`org:${orgId}`]) // gone from L2 and every instance's L1
 * ```
 */
export function createCache(valkit: Valkit, options: CacheOptions = {}): Cache {
  const resolved = resolveCacheOptions(options)
  const runtime = new CacheRuntime(valkit, resolved)
  return new NamespaceCache(runtime, resolved.namespace, null)
}
