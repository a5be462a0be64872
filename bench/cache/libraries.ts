/**
 * The caches compared, behind one small adapter so that every scenario drives them alike:
 * BentoCache 1.6 (on ioredis), cache-manager 7 (Keyv, @keyv/redis on node-redis 5) and valkit's
 * cache when src/cache exists.
 */
import KeyvRedis from '@keyv/redis'
import { BentoCache, bentostore } from 'bentocache'
import { memoryDriver } from 'bentocache/drivers/memory'
import { redisDriver } from 'bentocache/drivers/redis'
import { createCache } from 'cache-manager'
import { Redis } from 'ioredis'
import { Keyv } from 'keyv'
import type { ValkitCacheApi } from './valkit-cache.js'
import { TTL_MS } from './workload.js'

/** valkit takes human durations at the edge; the same ten minutes as {@link TTL_MS}. */
const VALKIT_TTL = '10m'

/** Which tiers a cache object uses: in-process only, both, or Redis only. */
export type Tier = 'l1' | 'l1+l2' | 'l2'

/** One cache object, whatever the library. */
export interface CacheAdapter {
  get(key: string): Promise<unknown>
  set(key: string, value: unknown): Promise<unknown>
  getOrSet(key: string, loader: () => Promise<unknown>): Promise<unknown>
  /** Closes its connections; never waits more than a few seconds (the server may be gone). */
  close(): Promise<void>
}

/** A library under test: opens cache objects on a server. */
export interface CacheLibrary {
  readonly name: string
  /** The call scenarios 3-5 measure, as the library spells it. */
  readonly getOrSetName: string
  open(url: string, tier: Tier): Promise<CacheAdapter>
}

const CLOSE_CAP_MS = 3000

/** Waits for `work` at most `ms`; a close that hangs on a dead server must not hang the run. */
async function capped(work: Promise<unknown>, ms = CLOSE_CAP_MS): Promise<void> {
  let timer: NodeJS.Timeout | undefined
  await Promise.race([
    work.catch(() => {}),
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, ms)
    }),
  ])
  clearTimeout(timer)
}

/** BentoCache: memory driver as L1, redis driver (our ioredis 6) as L2, no bus. */
export const bentoCache: CacheLibrary = {
  name: 'BentoCache',
  getOrSetName: 'getOrSet',
  async open(url, tier) {
    let connection: Redis | undefined
    let store = bentostore()
    if (tier !== 'l2') store = store.useL1Layer(memoryDriver({ maxSize: '64mb' }))
    if (tier !== 'l1') {
      connection = new Redis(url, { lazyConnect: true })
      connection.on('error', () => {})
      await connection.connect()
      store = store.useL2Layer(redisDriver({ connection }))
    }
    const bento = new BentoCache({ default: 'cache', stores: { cache: store } })
    return {
      get: (key) => bento.get({ key }),
      set: (key, value) => bento.set({ key, value, ttl: TTL_MS }),
      getOrSet: (key, loader) => bento.getOrSet({ key, factory: loader, ttl: TTL_MS }),
      async close() {
        await capped(bento.disconnect())
        connection?.disconnect()
      },
    }
  },
}

/** cache-manager 7: an in-memory Keyv as L1 and/or a Keyv on @keyv/redis as L2. */
export const cacheManager: CacheLibrary = {
  name: 'cache-manager',
  getOrSetName: 'wrap',
  async open(url, tier) {
    const stores: Keyv[] = []
    if (tier !== 'l2') stores.push(new Keyv())
    if (tier !== 'l1') {
      const redis = new KeyvRedis(url)
      redis.on('error', () => {})
      const keyv = new Keyv({ store: redis })
      keyv.on('error', () => {})
      stores.push(keyv)
    }
    const cache = createCache({ stores })
    // Connect before measuring (the first command would otherwise pay for it).
    if (tier !== 'l1') await cache.get('valkit-bench:connect')
    return {
      get: (key) => cache.get(key),
      set: (key, value) => cache.set(key, value, TTL_MS),
      getOrSet: (key, loader) => cache.wrap(key, loader, TTL_MS),
      async close() {
        await capped(cache.disconnect())
      },
    }
  },
}

/** valkit's cache: `createCache(createValkit({ url }), { namespace, l1, l2, ttl })`. */
export function valkitCache(api: ValkitCacheApi): CacheLibrary {
  return {
    name: 'valkit',
    getOrSetName: 'getOrSet',
    async open(url, tier) {
      const valkit = await api.createValkit({ url, logger: false })
      try {
        await valkit.supervisor?.waitFor?.('ready', 10_000)
        const cache = await api.createCache(valkit, {
          // One namespace for every instance: scenario 4's instances must contend for the same keys.
          namespace: 'bench',
          ...(tier === 'l2' ? { l1: false } : {}),
          l2: tier !== 'l1',
          ttl: VALKIT_TTL,
        })
        return {
          get: (key) => cache.get(key),
          set: (key, value) => cache.set(key, value, { ttl: VALKIT_TTL }),
          getOrSet: (key, loader) => cache.getOrSet(key, loader, { ttl: VALKIT_TTL }),
          async close() {
            await capped(cache.close())
            await capped(valkit.close())
          },
        }
      } catch (err) {
        await capped(valkit.close())
        throw err
      }
    },
  }
}
