/**
 * The cache on a Redis/Valkey Cluster: one namespace is one hash tag, so getMany (one MGET) and
 * the tag scripts run on one slot; clear() scans every master.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import { createValkit, slotOf, type Valkit } from '../../src/core/index.js'
import { createCache, type Cache } from '../../src/cache/index.js'
import {
  cleanPrefix,
  startCluster,
  testEngines,
  waitFor,
  type ClusterHandle,
} from '../../src/testing/index.js'

for (const engine of testEngines()) {
  void describe(`cache on a ${engine} Cluster`, { timeout: 90_000 }, () => {
    let cluster: ClusterHandle
    let valkit: Valkit
    let other: Valkit
    const prefix = `t-cache-cl-${randomBytes(4).toString('hex')}`

    before(async () => {
      cluster = await startCluster({ engine, masters: 3, replicasPerMaster: 0 })
      const options = {
        cluster: { nodes: cluster.seeds.map((s) => `${s.host}:${s.port}`) },
        env: {},
        logger: false as const,
        keyPrefix: prefix,
      }
      valkit = createValkit(options)
      other = createValkit(options)
      await valkit.supervisor.waitFor('ready', 15_000)
      await other.supervisor.waitFor('ready', 15_000)
    })
    after(async () => {
      await valkit?.close()
      await other?.close()
      if (cluster) await cleanPrefix(cluster, `${prefix}:`).catch(() => {})
      await cluster?.stop()
    })

    /** Namespaces whose hash tags land on different masters. */
    async function namespacesOnEveryMaster(): Promise<string[]> {
      const masters = await cluster.masters()
      const names: string[] = []
      for (const master of masters) {
        for (let i = 0; ; i++) {
          const name = `ns${i}`
          const slot = slotOf(valkit.keys.key('cache', name))
          if (master.slots.some(([a, b]) => slot >= a && slot <= b) && !names.includes(name)) {
            names.push(name)
            break
          }
        }
      }
      return names
    }

    it('getMany, tags and cross-instance invalidation work on a Cluster', async () => {
      const a = createCache(valkit, { namespace: 'users' })
      const b = createCache(other, { namespace: 'users' })
      await Promise.all([a.ready(), b.ready()])
      try {
        for (let i = 0; i < 20; i++) await a.set(`u${i}`, { i }, { tags: [`g${i % 2}`, 'all'] })
        const c = createCache(other, { namespace: 'users', l1: false })
        const keys = Array.from({ length: 20 }, (_, i) => `u${i}`)
        assert.deepEqual(
          await c.getMany(keys),
          keys.map((_, i) => ({ i })),
        )
        assert.deepEqual(await b.get('u0'), { i: 0 })
        await a.invalidateTags(['g0'])
        const present = await Promise.all(keys.map((k) => c.has(k)))
        assert.deepEqual(
          present,
          keys.map((_, i) => i % 2 === 1),
        )
        await waitFor(async () => (await b.get('u0')) === undefined, { timeoutMs: 3000, what: 'b drops u0' })
        await c.close()
      } finally {
        await a.close()
        await b.close()
      }
    })

    it('getOrSet across two instances: one loader run per key (the lease), and a load overtaken by a tag invalidation is not stored', async () => {
      // Namespaces of their own (the clear() test counts what its namespaces hold).
      const names = ['lease-a', 'lease-b', 'lease-c', 'lease-d']
      for (const namespace of names) {
        const a = createCache(valkit, { namespace })
        const b = createCache(other, { namespace })
        await Promise.all([a.ready(), b.ready()])
        try {
          let runs = 0
          const loader = async () => {
            runs++
            await new Promise((resolve) => setTimeout(resolve, 20))
            return 'loaded'
          }
          const answers = await Promise.all(
            [a, b].flatMap((cache) => Array.from({ length: 10 }, () => cache.getOrSet('fresh', loader))),
          )
          assert.equal(runs, 1, `namespace ${namespace}: one loader run for 20 callers on 2 instances`)
          assert.ok(answers.every((answer) => answer === 'loaded'))

          let release!: (row: string) => void
          let started!: () => void
          const reached = new Promise<void>((resolve) => (started = resolve))
          const pending = a.getOrSet(
            'row',
            () => {
              started()
              return new Promise<string>((resolve) => (release = resolve))
            },
            { tags: ['table'] },
          )
          await reached
          await b.invalidateTags(['table'])
          release('old row')
          assert.equal(await pending, 'old row')
          assert.equal(await b.has('row'), false, 'not stored in L2')
        } finally {
          await a.close()
          await b.close()
        }
      }
    })

    it('clear() scans every master and removes only its namespace', async () => {
      const names = await namespacesOnEveryMaster()
      const caches = names.map((namespace) => createCache(valkit, { namespace }))
      try {
        for (const cache of caches) for (let i = 0; i < 10; i++) await cache.set(`k${i}`, i)
        const [first, ...rest] = caches as [Cache, ...Cache[]]
        const progress: number[] = []
        const { deleted } = await first.clear({ onProgress: (p) => progress.push(p.scanned) })
        assert.equal(deleted, 10)
        assert.ok(progress.length >= names.length, 'a progress report per master at least')
        assert.equal(await first.has('k1'), false)
        for (const cache of rest) assert.deepEqual(await cache.getMany(['k0', 'k9']), [0, 9])
      } finally {
        for (const cache of caches) await cache.close()
      }
    })
  })
}
