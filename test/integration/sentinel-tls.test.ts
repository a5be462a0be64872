/**
 * Sentinel with TLS everywhere (data nodes and sentinels, client certificates required):
 * valkit finds the master through the sentinels over TLS and talks to it over TLS.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { createValkit, isValkitError, type Valkit } from '../../src/index.js'
import { randomPrefix, startSentinel, testEngines, type SentinelHandle } from '../../src/testing/index.js'

for (const engine of testEngines()) {
  void describe(`Sentinel over mutual TLS (${engine})`, { timeout: 60_000 }, () => {
    let topology: SentinelHandle
    let valkit: Valkit | undefined

    before(async () => {
      topology = await startSentinel({ engine, replicas: 1, sentinels: 3, tls: { authClients: 'yes' } })
    })

    after(async () => {
      await valkit?.close()
      await topology?.stop()
    })

    void it('finds the master through TLS sentinels and writes to it over TLS', async () => {
      const tls = topology.master.tls!
      valkit = createValkit({
        sentinel: {
          sentinels: topology.sentinels.map((s) => `${s.host}:${s.port}`),
          masterName: topology.masterName,
          tls: { ca: tls.ca, cert: tls.cert, key: tls.key },
        },
        tls: { ca: tls.ca, cert: tls.cert, key: tls.key },
        env: {},
      })
      await valkit.supervisor.waitFor('ready', 15_000)
      const key = `${randomPrefix('stls')}:k`
      assert.equal(await valkit.connection.command(['SET', key, 'over tls']), 'OK')
      assert.equal(await topology.master.command('GET', key), 'over tls')
      const report = await valkit.health()
      const master = await topology.currentMaster()
      assert.equal(report.topology.sentinel?.master, `${master.host}:${master.port}`)
    })

    void it('without a client certificate, the sentinels refuse and the error says why', async () => {
      const tls = topology.master.tls!
      const bare = createValkit({
        sentinel: {
          sentinels: topology.sentinels.map((s) => `${s.host}:${s.port}`),
          masterName: topology.masterName,
          tls: { ca: tls.ca },
        },
        tls: { ca: tls.ca },
        connectTimeout: '1s',
        env: {},
      })
      try {
        await assert.rejects(bare.driver.connect(), (err: unknown) => {
          assert.ok(isValkitError(err, 'VALKIT_TLS'), String(err))
          assert.match(err.message, /sentinel/)
          assert.match(err.message, /client certificate/)
          return true
        })
        assert.equal(bare.supervisor.state, 'degraded')
      } finally {
        await bare.close()
      }
    })
  })
}
