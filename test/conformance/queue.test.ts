/**
 * The job queue conformance suite on every backend: memory (no server), standalone Redis and
 * Valkey, and a Cluster of each engine (3 masters). Tests that need another process use a
 * second valkit instance on the same server (`peer`).
 */
import { randomBytes } from 'node:crypto'
import { after, before, describe } from 'node:test'
import { createValkit, type Valkit } from '../../src/core/index.js'
import {
  cleanPrefix,
  startCluster,
  startServer,
  testEngines,
  type ClusterHandle,
  type ServerHandle,
} from '../../src/testing/index.js'
import { queueConformance } from './queue-conformance.js'

void describe('queue conformance: memory backend', () => {
  const valkit = createValkit({ env: {}, logger: false })
  after(() => valkit.close())
  queueConformance(() => ({ kind: 'memory', valkit, peer: valkit }))
})

for (const engine of testEngines()) {
  void describe(`queue conformance: ${engine}`, { timeout: 120_000 }, () => {
    let server: ServerHandle
    let valkit: Valkit
    let peer: Valkit
    const prefix = `t-queue-${randomBytes(4).toString('hex')}`
    before(async () => {
      server = await startServer({ engine })
      const open = () => createValkit({ url: server.url, env: {}, logger: false, keyPrefix: prefix })
      ;[valkit, peer] = [open(), open()]
      await Promise.all([valkit, peer].map((v) => v.supervisor.waitFor('ready', 10_000)))
    })
    after(async () => {
      await valkit?.close()
      await peer?.close()
      if (server?.alive) await cleanPrefix(server, `${prefix}:`)
      await server?.stop()
    })
    queueConformance(() => ({ kind: 'redis', valkit, peer }))
  })

  void describe(`queue conformance: ${engine} Cluster`, { timeout: 120_000 }, () => {
    let cluster: ClusterHandle
    let valkit: Valkit
    let peer: Valkit
    const prefix = `t-queue-cl-${randomBytes(4).toString('hex')}`
    before(async () => {
      cluster = await startCluster({ engine, masters: 3, replicasPerMaster: 0 })
      const open = () =>
        createValkit({
          cluster: { nodes: cluster.seeds.map((s) => `${s.host}:${s.port}`) },
          env: {},
          logger: false,
          keyPrefix: prefix,
        })
      ;[valkit, peer] = [open(), open()]
      await Promise.all([valkit, peer].map((v) => v.supervisor.waitFor('ready', 15_000)))
    })
    after(async () => {
      await valkit?.close()
      await peer?.close()
      if (cluster) await cleanPrefix(cluster, `${prefix}:`).catch(() => {})
      await cluster?.stop()
    })
    queueConformance(() => ({ kind: 'redis', valkit, peer }))
  })
}
