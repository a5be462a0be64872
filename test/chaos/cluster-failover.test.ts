/**
 * Cluster failover: kill -9 one master; valkit keeps serving the other shards, follows the
 * promoted replica for the dead shard's slots, and no acknowledged write is lost.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { createValkit, slotOf, type Valkit } from '../../src/index.js'
import {
  randomPrefix,
  startCluster,
  testEngines,
  waitFor,
  type ClusterHandle,
} from '../../src/testing/index.js'
import { findLost, startWriter, waitForWrites } from '../support/write-log.js'

for (const engine of testEngines()) {
  describe(`Cluster failover (${engine})`, { timeout: 120_000 }, () => {
    let cluster: ClusterHandle
    let valkit: Valkit

    before(async () => {
      cluster = await startCluster({ engine, masters: 3, replicasPerMaster: 1, nodeTimeoutMs: 1500 })
      valkit = createValkit({ cluster: { nodes: cluster.seeds.map((s) => `${s.host}:${s.port}`) }, env: {} })
      await valkit.supervisor.waitFor('ready', 15_000)
    })

    after(async () => {
      await valkit?.close()
      await cluster?.stop()
    })

    test('health reports every slot covered by 3 masters', async () => {
      const report = await valkit.health()
      assert.equal(report.topology.kind, 'cluster')
      assert.equal(report.topology.cluster?.slotsCovered, 16384)
      assert.equal(report.topology.cluster?.masters, 3)
      assert.equal(report.server?.engine, engine)
    })

    test('kill -9 of a master: every slot is writable again and no acknowledged write is lost', async (t) => {
      const prefix = randomPrefix('cluster')
      const writer = startWriter(valkit, prefix, { concurrency: 8 })
      let victimSlots: readonly (readonly [number, number])[] = []
      try {
        await waitForWrites(writer, 1000, 15_000)
        const masters = await cluster.masters()
        const victim = masters[0]!
        victimSlots = victim.slots
        await cluster.node(victim.port).kill('SIGKILL')
        const killedAt = writer.mark()
        // Wait until a replica owns the dead master's slots and writes to them succeed again.
        await cluster.waitForHealthy(30_000)
        const inVictim = (i: number): boolean => {
          const slot = slotOf(`${prefix}:${i}`)
          return victimSlots.some(([first, last]) => slot >= first && slot <= last)
        }
        await waitFor(() => writer.acked.slice(killedAt).filter(inVictim).length > 50, {
          timeoutMs: 20_000,
          what: "writes to the dead master's slots to succeed again",
        })
        await waitForWrites(writer, 1000, 10_000)
      } finally {
        await writer.stop()
      }
      const lost = await findLost(valkit, prefix, writer.acked)
      t.diagnostic(`acknowledged ${writer.acked.length}, failed ${writer.failed}, lost ${lost.length}`)
      assert.ok(victimSlots.length > 0)
      assert.equal(lost.length, 0, `${lost.length} of ${writer.acked.length} acknowledged writes lost`)
    })
  })
}
