import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { RespClient, startSentinel, testEngines, type SentinelHandle } from '../../src/testing/index.js'

for (const engine of testEngines()) {
  void describe(`launcher: sentinel ${engine}`, () => {
    let topo: SentinelHandle

    before(async () => {
      topo = await startSentinel({ engine, replicas: 2, sentinels: 3 })
    })
    after(async () => {
      await topo.stop()
    })

    void it('starts a master, two replicas and three sentinels that know each other', async () => {
      assert.equal(topo.replicas.length, 2)
      assert.equal(topo.sentinels.length, 3)
      assert.deepEqual(await topo.currentMaster(), { host: '127.0.0.1', port: topo.master.port })
      const replication = await topo.master.info('replication')
      assert.equal(replication.role, 'master')
      assert.equal(replication.connected_slaves, '2')
      for (const sentinel of topo.sentinels) {
        assert.equal(sentinel.role, 'sentinel')
        const info = await sentinel.info('sentinel')
        assert.match(
          info.master0 ?? '',
          new RegExp(
            `name=${topo.masterName},status=ok,address=127.0.0.1:${topo.master.port},slaves=2,sentinels=3`,
          ),
        )
      }
    })

    void it('a killed master is replaced by a replica', async () => {
      await topo.master.command('SET', 'sentinel:k', 'v')
      await topo.master.command('WAIT', 2, 2000)
      const before = await topo.currentMaster()
      await topo.master.kill()
      const after = await topo.waitForMasterChange(before, 20_000)
      assert.notEqual(after.port, before.port)
      const promoted = await topo.currentMasterNode()
      assert.ok(topo.replicas.includes(promoted))
      const client = await RespClient.connect({ port: after.port })
      try {
        assert.equal(await client.command('GET', 'sentinel:k'), 'v')
        assert.equal(await client.command('SET', 'sentinel:k2', 'v2'), 'OK', 'the new master accepts writes')
      } finally {
        client.close()
      }
    })
  })
}

for (const engine of testEngines()) {
  void describe(`launcher: sentinel ${engine} with TLS`, () => {
    void it('data nodes and sentinels serve TLS and see each other', async () => {
      const topo = await startSentinel({ engine, replicas: 1, sentinels: 3, tls: true })
      try {
        for (const handle of [...topo.nodes, ...topo.sentinels]) assert.match(handle.url, /^rediss:/)
        assert.deepEqual(await topo.currentMaster(), { host: '127.0.0.1', port: topo.master.port })
        const sentinel = topo.sentinels[0]!
        const client = await RespClient.connect({
          port: sentinel.port,
          tls: { ca: sentinel.tls!.ca, cert: sentinel.tls!.cert, key: sentinel.tls!.key },
        })
        try {
          const replicas = (await client.command('SENTINEL', 'replicas', topo.masterName)) as unknown[]
          assert.equal(replicas.length, 1)
        } finally {
          client.close()
        }
      } finally {
        await topo.stop()
      }
    })
  })
}
