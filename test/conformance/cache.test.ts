/**
 * The cache conformance suite on every backend: memory (no server), standalone Redis and Valkey
 * with and without L1, and a Cluster of each engine (L2 only, so every read crosses the network).
 */
import { randomBytes } from 'node:crypto'
import { after, before, describe } from 'node:test'
import { createValkit, type Valkit } from '../../src/core/index.js'
import { createCache, type Cache, type CacheOptions } from '../../src/cache/index.js'
import {
  cleanPrefix,
  startCluster,
  startServer,
  testEngines,
  type ClusterHandle,
  type ServerHandle,
} from '../../src/testing/index.js'
import { cacheConformance } from './cache-conformance.js'

/** Caches opened by one backend's suite, each on a fresh namespace, closed at the end. */
function opener(valkit: () => Valkit, base: CacheOptions) {
  const caches: Cache[] = []
  let n = 0
  const open = async (options: CacheOptions = {}): Promise<Cache> => {
    const cache = createCache(valkit(), { jitter: 0, ...base, ...options, namespace: `c${n++}` })
    caches.push(cache)
    await cache.ready()
    return cache
  }
  const close = async () => {
    for (const cache of caches) await cache.close()
  }
  return { open, close }
}

void describe('cache conformance: memory backend', () => {
  const valkit = createValkit({ env: {}, logger: false })
  const { open, close } = opener(() => valkit, {})
  after(async () => {
    await close()
    await valkit.close()
  })
  cacheConformance(open)
})

for (const engine of testEngines()) {
  for (const tiers of ['L1 + L2', 'L2 only'] as const) {
    void describe(`cache conformance: ${engine}, ${tiers}`, { timeout: 60_000 }, () => {
      let server: ServerHandle
      let valkit: Valkit
      const prefix = `t-conf-${randomBytes(4).toString('hex')}`
      const { open, close } = opener(() => valkit, tiers === 'L2 only' ? { l1: false } : {})
      before(async () => {
        server = await startServer({ engine })
        valkit = createValkit({ url: server.url, env: {}, logger: false, keyPrefix: prefix })
        await valkit.supervisor.waitFor('ready', 10_000)
      })
      after(async () => {
        await close()
        await valkit?.close()
        if (server?.alive) await cleanPrefix(server, `${prefix}:`)
        await server?.stop()
      })
      cacheConformance(open)
    })
  }

  void describe(`cache conformance: ${engine} Cluster, L2 only`, { timeout: 90_000 }, () => {
    let cluster: ClusterHandle
    let valkit: Valkit
    const prefix = `t-conf-cl-${randomBytes(4).toString('hex')}`
    const { open, close } = opener(() => valkit, { l1: false })
    before(async () => {
      cluster = await startCluster({ engine, masters: 3, replicasPerMaster: 0 })
      valkit = createValkit({
        cluster: { nodes: cluster.seeds.map((s) => `${s.host}:${s.port}`) },
        env: {},
        logger: false,
        keyPrefix: prefix,
      })
      await valkit.supervisor.waitFor('ready', 15_000)
    })
    after(async () => {
      await close()
      await valkit?.close()
      if (cluster) await cleanPrefix(cluster, `${prefix}:`).catch(() => {})
      await cluster?.stop()
    })
    cacheConformance(open)
  })
}
