/**
 * The coordination conformance suite on every backend: memory (no server), standalone Redis
 * and Valkey, and a Cluster of each engine.
 */
import { randomBytes } from 'node:crypto'
import { after, before, describe } from 'node:test'
import { createValkit, type Valkit } from '../../src/core/index.js'
import { createCoord, type Coord, type CoordOptions } from '../../src/coord/index.js'
import {
  cleanPrefix,
  startCluster,
  startServer,
  testEngines,
  type ClusterHandle,
  type ServerHandle,
} from '../../src/testing/index.js'
import { coordConformance } from './coord-conformance.js'

/** Coord instances opened by one backend's suite, closed at the end. */
function opener(valkit: () => Valkit) {
  const coords: Coord[] = []
  const open = (options: CoordOptions = {}): Coord => {
    const coord = createCoord(valkit(), options)
    coords.push(coord)
    return coord
  }
  const close = async () => {
    for (const coord of coords) await coord.close()
  }
  return { open, close }
}

void describe('coord conformance: memory backend', () => {
  const valkit = createValkit({ env: {}, logger: false })
  const { open, close } = opener(() => valkit)
  after(async () => {
    await close()
    await valkit.close()
  })
  coordConformance(open)
})

for (const engine of testEngines()) {
  void describe(`coord conformance: ${engine}`, { timeout: 180_000 }, () => {
    let server: ServerHandle
    let valkit: Valkit
    const prefix = `t-coord-${randomBytes(4).toString('hex')}`
    const { open, close } = opener(() => valkit)
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
    coordConformance(open)
  })

  void describe(`coord conformance: ${engine} Cluster`, { timeout: 180_000 }, () => {
    let cluster: ClusterHandle
    let valkit: Valkit
    const prefix = `t-coord-cl-${randomBytes(4).toString('hex')}`
    const { open, close } = opener(() => valkit)
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
    coordConformance(open)
  })
}
