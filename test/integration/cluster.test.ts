/**
 * valkit on a Cluster: routing by key, Lua scripts on every master (EVALSHA falls back to EVAL
 * on each node that does not have the script yet), pipelines within one slot, pub/sub and
 * sharded pub/sub, and the health report's cluster section.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import {
  createGetBatcher,
  createScriptBatcher,
  createValkit,
  defineScript,
  slotOf,
  type Valkit,
} from '../../src/index.js'
import {
  cleanPrefix,
  randomPrefix,
  startCluster,
  testEngines,
  waitFor,
  type ClusterHandle,
} from '../../src/testing/index.js'

const echoKey = defineScript({
  name: 'echo-key',
  numberOfKeys: 1,
  source: `--[[ Sets a key and returns what it reads back.
  KEYS[1] the key
  ARGV[1] the value
  Returns the value read back ]]
redis.call('SET', KEYS[1], ARGV[1])
return redis.call('GET', KEYS[1])`,
})

for (const engine of testEngines()) {
  void describe(`Cluster (${engine})`, { timeout: 60_000 }, () => {
    let cluster: ClusterHandle
    let valkit: Valkit
    const prefix = randomPrefix('cluster-it')

    before(async () => {
      cluster = await startCluster({ engine, masters: 3, replicasPerMaster: 0 })
      valkit = createValkit({ cluster: { nodes: cluster.seeds.map((s) => `${s.host}:${s.port}`) }, env: {} })
      await valkit.supervisor.waitFor('ready', 15_000)
    })

    after(async () => {
      if (cluster) await cleanPrefix(cluster, prefix).catch(() => {})
      await valkit?.close()
      await cluster?.stop()
    })

    /** Keys whose hash tags land on every master. */
    async function keysOnEveryMaster(): Promise<string[]> {
      const masters = await cluster.masters()
      const keys: string[] = []
      for (const master of masters) {
        for (let i = 0; ; i++) {
          const key = `${prefix}:{t${i}}:k`
          const slot = slotOf(key)
          if (master.slots.some(([a, b]) => slot >= a && slot <= b)) {
            keys.push(key)
            break
          }
        }
      }
      return keys
    }

    void it('routes each command to the master of its key', async () => {
      const keys = await keysOnEveryMaster()
      assert.equal(keys.length, 3)
      for (const key of keys) assert.equal(await valkit.connection.command(['SET', key, key]), 'OK')
      for (const key of keys) assert.equal(await valkit.connection.command(['GET', key]), key)
    })

    void it('runs a Lua script on every master, loading it where it is missing', async () => {
      const keys = await keysOnEveryMaster()
      for (const key of keys) assert.equal(await valkit.connection.script(echoKey, [key], ['v1']), 'v1')
      // Flush the script cache on every master: the next call reloads it on each.
      for (const master of await cluster.masters()) await cluster.node(master.port).command('SCRIPT', 'FLUSH')
      for (const key of keys) assert.equal(await valkit.connection.script(echoKey, [key], ['v2']), 'v2')
      for (const master of await cluster.masters()) {
        const [loaded] = (await cluster
          .node(master.port)
          .command('SCRIPT', 'EXISTS', echoKey.sha)) as number[]
        assert.equal(loaded, 1, `script loaded on ${master.host}:${master.port}`)
      }
    })

    void it('batches script calls per slot: calls of one turn on every master all complete', async () => {
      const keys = await keysOnEveryMaster()
      const batcher = createScriptBatcher(valkit.connection, echoKey, { bySlot: true })
      // Two calls per key in one turn: three runs (one per slot), each call with its own reply.
      const calls = keys.flatMap((key) => [
        batcher.run([key], [`${key}-1`]),
        batcher.run([key], [`${key}-2`]),
      ])
      assert.deepEqual(
        await Promise.all(calls),
        keys.flatMap((key) => [`${key}-1`, `${key}-2`]),
      )
      for (const key of keys) assert.equal(await valkit.connection.command(['GET', key]), `${key}-2`)
      // Without bySlot the same calls go in one run across slots, which a Cluster refuses.
      const unslotted = createScriptBatcher(valkit.connection, echoKey)
      const results = await Promise.allSettled(keys.map((key) => unslotted.run([key], ['x'])))
      assert.ok(
        results.every((r) => r.status === 'rejected'),
        JSON.stringify(results.map((r) => r.status)),
      )
    })

    void it('batches GETs per slot: reads of one turn on every master each get their value', async () => {
      const keys = await keysOnEveryMaster()
      for (const key of keys) await valkit.connection.command(['SET', key, `v:${key}`])
      const reads = createGetBatcher(valkit.connection, { bySlot: true })
      const values = await Promise.all(keys.flatMap((key) => [reads.get(key), reads.get(`${key}:none`)]))
      assert.deepEqual(
        values,
        keys.flatMap((key) => [`v:${key}`, null]),
      )
    })

    void it('pipelines commands of one hash tag in one write', async () => {
      const tag = `${prefix}:{pipe}`
      const replies = await valkit.connection.pipeline(
        [
          ['SET', `${tag}:a`, '1'],
          ['INCR', `${tag}:a`],
          ['GET', `${tag}:a`],
        ],
        { key: `${tag}:a` },
      )
      assert.deepEqual(replies, ['OK', 2, '2'])
    })

    void it('delivers pub/sub messages published on any node', async () => {
      const received: string[] = []
      const channel = `${prefix}:events`
      await valkit.connection.subscribe(channel, (message) => received.push(message.toString()))
      const [master] = await cluster.masters()
      await waitFor(
        async () => {
          await cluster.node(master!.port).command('PUBLISH', channel, 'hello')
          return received.includes('hello')
        },
        { timeoutMs: 5000, intervalMs: 100, what: 'the message to arrive' },
      )
      await valkit.connection.unsubscribe(channel)
    })

    void it('reports slots, masters and the engine in health()', async () => {
      const report = await valkit.health()
      assert.equal(report.topology.kind, 'cluster')
      assert.equal(report.topology.cluster?.slotsCovered, 16384)
      assert.equal(report.topology.cluster?.masters, 3)
      assert.equal(report.topology.cluster?.state, 'ok')
      assert.equal(report.server?.engine, engine)
      assert.ok(!report.findings.some((f) => f.id === 'cluster.slots'))
    })
  })
}
