import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import {
  RespClient,
  cleanPrefix,
  randomPrefix,
  startCluster,
  testEngines,
  type ClusterHandle,
} from '../../src/testing/index.js'

for (const engine of testEngines()) {
  void describe(`launcher: cluster ${engine}`, () => {
    let cluster: ClusterHandle

    before(async () => {
      cluster = await startCluster({ engine, masters: 3, replicasPerMaster: 1 })
    })
    after(async () => {
      await cluster.stop()
    })

    void it('starts 3 masters and 3 replicas with all slots covered', async () => {
      assert.equal(cluster.nodes.length, 6)
      assert.equal(cluster.seeds.length, 6)
      const masters = await cluster.masters()
      assert.equal(masters.length, 3)
      const covered = masters
        .flatMap((m) => m.slots)
        .reduce((sum, [first, last]) => sum + (last - first + 1), 0)
      assert.equal(covered, 16384)
      for (const node of cluster.nodes) {
        const info = String(await node.command('CLUSTER', 'INFO'))
        assert.match(info, /cluster_state:ok/)
        assert.match(info, /cluster_slots_assigned:16384/)
        assert.match(info, /cluster_known_nodes:6/)
      }
      const replicas = (await cluster.clusterNodes()).filter((n) => n.role === 'replica')
      assert.equal(replicas.length, 3)
      assert.ok(replicas.every((r) => masters.some((m) => m.id === r.masterId)))
    })

    void it('cleanPrefix removes a prefix from every master', async () => {
      const prefix = randomPrefix('cluster')
      const masters = await cluster.masters()
      // Write each key on the master that owns its slot.
      for (let i = 0; i < 60; i++) {
        const key = `${prefix}${i}`
        const slot = Number(await cluster.nodes[0]!.command('CLUSTER', 'KEYSLOT', key))
        const owner = masters.find((m) => m.slots.some(([a, b]) => slot >= a && slot <= b))!
        await cluster.node(owner.port).command('SET', key, 'v')
      }
      assert.equal(await cleanPrefix(cluster, prefix), 60)
      for (const m of masters) assert.equal(await cluster.node(m.port).command('DBSIZE'), 0)
    })

    void it('a killed master is failed over and the cluster becomes healthy again', async () => {
      const [victim] = await cluster.masters()
      const handle = cluster.node(victim!.port)
      await handle.kill()
      await cluster.waitForHealthy(15_000)
      const masters = await cluster.masters()
      assert.equal(masters.length, 3)
      assert.ok(!masters.some((m) => m.port === victim!.port))
    })
  })
}

for (const engine of testEngines()) {
  void describe(`launcher: cluster ${engine} with TLS and a password`, () => {
    void it('serves TLS only, with every slot covered', async () => {
      const cluster = await startCluster({
        engine,
        masters: 3,
        replicasPerMaster: 0,
        tls: true,
        password: 'pw',
      })
      try {
        const node = cluster.nodes[0]!
        assert.match(node.url, /^rediss:/)
        const tls = { ca: node.tls!.ca, cert: node.tls!.cert, key: node.tls!.key }
        const client = await RespClient.connect({ port: node.port, tls, password: 'pw' })
        try {
          assert.match(String(await client.command('CLUSTER', 'INFO')), /cluster_slots_ok:16384/)
        } finally {
          client.close()
        }
        await assert.rejects(RespClient.connect({ port: node.port, tls, password: 'wrong' }), /WRONGPASS/)
        await assert.rejects(async () => {
          const plain = await RespClient.connect({ port: node.port, commandTimeoutMs: 1000 })
          await plain.command('PING')
        })
      } finally {
        await cluster.stop()
      }
    })
  })
}
