/**
 * Scenarios 1 and 2, measured by the closed loop (`compareSubjects`): reads of a hot key from
 * the in-process tier, and reads served by Redis with no in-process tier, next to raw drivers.
 */
import { createClient } from '@redis/client'
import { Redis } from 'ioredis'
import { compareSubjects, loopSubject } from '../lib/compare.js'
import type { Subject } from '../lib/compare.js'
import type { ServerCpuProbe } from '../lib/server.js'
import type { BenchContext, BenchRow } from '../lib/types.js'
import { LeanAsyncLru } from './lean-lru.js'
import type { CacheAdapter, CacheLibrary, Tier } from './libraries.js'
import { CACHE_INFLIGHT, HOT_KEY, L2_KEYSPACE, RAW_VALUE, SCENARIOS, VALUE, l2Key } from './workload.js'

/** Anchors of the two groups. */
export const L1_ANCHOR = 'BentoCache, memory only (anchor)'
export const L2_ANCHOR = 'node-redis GET, timeout 0 (anchor)'

/** Something opened for a scenario, closed afterwards. */
type Closer = () => Promise<void>

/** Opens `tier` of `library` and checks that `key` reads back after `seed` (a cache that returns nothing is not measured). */
async function openSeeded(
  library: CacheLibrary,
  url: string,
  tier: Tier,
  keys: readonly string[],
  closers: Closer[],
): Promise<CacheAdapter> {
  const cache = await library.open(url, tier)
  closers.push(() => cache.close())
  for (let i = 0; i < keys.length; i += 100) {
    await Promise.all(keys.slice(i, i + 100).map((k) => cache.set(k, VALUE)))
  }
  const back = await cache.get(keys[0]!)
  if (back === undefined || back === null)
    throw new Error(`${library.name} (${tier}) did not read back what it stored`)
  return cache
}

/** The library's subject, or a subject that fails with the reason it could not be opened. */
async function tryOpen(name: string, open: () => Promise<Subject>, ctx: BenchContext): Promise<Subject> {
  try {
    return await open()
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err)
    ctx.log(`  ${name}: could not be opened: ${reason}`)
    return {
      name,
      measure: () => Promise.reject(new Error(`could not be opened: ${reason}`)),
    }
  }
}

/** Scenario 1: the same hot key read again and again from the in-process tier. */
export async function runL1Hit(
  ctx: BenchContext,
  libraries: { bento: CacheLibrary; cacheManager: CacheLibrary; valkit: CacheLibrary | undefined },
  probe: ServerCpuProbe | undefined,
): Promise<BenchRow[]> {
  const { url } = ctx.server
  const closers: Closer[] = []
  const scenario = SCENARIOS.l1Hit
  const read = (name: string, cache: CacheAdapter): Subject =>
    loopSubject(name, { [scenario]: () => cache.get(HOT_KEY) })
  try {
    const lru = new LeanAsyncLru(10_000)
    lru.set(HOT_KEY, VALUE)
    const subjects: Subject[] = [
      await tryOpen(
        L1_ANCHOR,
        async () => read(L1_ANCHOR, await openSeeded(libraries.bento, url, 'l1', [HOT_KEY], closers)),
        ctx,
      ),
      await tryOpen(
        'BentoCache, memory + Redis (key in L1)',
        async () =>
          read(
            'BentoCache, memory + Redis (key in L1)',
            await openSeeded(libraries.bento, url, 'l1+l2', [HOT_KEY], closers),
          ),
        ctx,
      ),
      await tryOpen(
        'cache-manager, in-memory Keyv',
        async () =>
          read(
            'cache-manager, in-memory Keyv',
            await openSeeded(libraries.cacheManager, url, 'l1', [HOT_KEY], closers),
          ),
        ctx,
      ),
      loopSubject('lean async LRU (ceiling)', { [scenario]: () => lru.get(HOT_KEY) }),
    ]
    const valkit = libraries.valkit
    if (valkit) {
      const name = 'valkit, L1 + L2 (key in L1)'
      subjects.push(
        await tryOpen(
          name,
          async () => read(name, await openSeeded(valkit, url, 'l1+l2', [HOT_KEY], closers)),
          ctx,
        ),
      )
    }
    return await compareSubjects({
      scenarios: [scenario],
      subjects,
      anchor: L1_ANCHOR,
      options: { ...ctx.options, inflight: CACHE_INFLIGHT },
      serverCpu: probe,
      log: (m) => ctx.log(m),
    })
  } finally {
    for (const close of closers) await close().catch(() => {})
  }
}

/** Scenario 2: every read goes to Redis (no in-process tier), next to raw node-redis and ioredis GETs. */
export async function runL2Hit(
  ctx: BenchContext,
  libraries: { bento: CacheLibrary; cacheManager: CacheLibrary; valkit: CacheLibrary | undefined },
  probe: ServerCpuProbe | undefined,
): Promise<BenchRow[]> {
  const { url } = ctx.server
  const closers: Closer[] = []
  const scenario = SCENARIOS.l2Hit
  const keys = Array.from({ length: L2_KEYSPACE }, (_, i) => l2Key(i))
  const read = (name: string, cache: CacheAdapter): Subject =>
    loopSubject(name, { [scenario]: (i) => cache.get(l2Key(i)) })
  try {
    const nodeRedis = createClient({ url, commandOptions: { timeout: 0 } })
    nodeRedis.on('error', () => {})
    await nodeRedis.connect()
    closers.push(async () => nodeRedis.destroy())
    for (let i = 0; i < keys.length; i += 100) {
      await Promise.all(keys.slice(i, i + 100).map((k) => nodeRedis.sendCommand(['SET', k, RAW_VALUE])))
    }
    const ioredis = new Redis(url, { lazyConnect: true })
    ioredis.on('error', () => {})
    await ioredis.connect()
    closers.push(async () => ioredis.disconnect())

    const subjects: Subject[] = [
      loopSubject(L2_ANCHOR, { [scenario]: (i) => nodeRedis.sendCommand(['GET', l2Key(i)]) }),
      // What a hand-written cache-aside does on a hit: the GET, then the JSON parse every cache pays.
      loopSubject('node-redis GET + JSON.parse', {
        [scenario]: (i) =>
          nodeRedis.sendCommand<string>(['GET', l2Key(i)]).then((reply) => JSON.parse(reply) as unknown),
      }),
      loopSubject('ioredis GET', { [scenario]: (i) => ioredis.get(l2Key(i)) }),
      await tryOpen(
        'BentoCache, L2 only (redis driver)',
        async () =>
          read(
            'BentoCache, L2 only (redis driver)',
            await openSeeded(libraries.bento, url, 'l2', keys, closers),
          ),
        ctx,
      ),
      await tryOpen(
        'cache-manager, @keyv/redis',
        async () =>
          read(
            'cache-manager, @keyv/redis',
            await openSeeded(libraries.cacheManager, url, 'l2', keys, closers),
          ),
        ctx,
      ),
    ]
    const valkit = libraries.valkit
    if (valkit) {
      const name = 'valkit, L2 only'
      subjects.push(
        await tryOpen(name, async () => read(name, await openSeeded(valkit, url, 'l2', keys, closers)), ctx),
      )
    }
    return await compareSubjects({
      scenarios: [scenario],
      subjects,
      anchor: L2_ANCHOR,
      options: { ...ctx.options, inflight: CACHE_INFLIGHT },
      serverCpu: probe,
      log: (m) => ctx.log(m),
    })
  } finally {
    for (const close of closers) await close().catch(() => {})
  }
}
