/**
 * The session conformance suite on every backend: memory (no server), standalone Redis and
 * Valkey, and a Cluster of each engine. Each store pair is two instances of one store: on Redis
 * two valkit connections, on the memory backend two stores of one process.
 */
import { randomBytes } from 'node:crypto'
import { after, before, describe } from 'node:test'
import { createValkit, type Valkit, type ValkitOptions } from '../../src/core/index.js'
import {
  createSessionStore,
  createStateStore,
  type SessionStoreOptions,
  type StateStoreOptions,
} from '../../src/session/index.js'
import {
  cleanPrefix,
  startCluster,
  startServer,
  testEngines,
  type ClusterHandle,
  type ServerHandle,
} from '../../src/testing/index.js'
import { baseOptions, sessionConformance, type StorePair } from './session-conformance.js'
import { stateConformance, type OpenState } from './session-state-conformance.js'

/** Store pairs opened by one backend's suite, each on a fresh name, closed at the end. */
function opener(valkits: () => readonly [Valkit, Valkit]) {
  const stores: { close(): Promise<void> }[] = []
  let n = 0
  const base = baseOptions()
  const open = async (options: Partial<SessionStoreOptions> = {}): Promise<StorePair> => {
    const [a, b] = valkits()
    const resolved: SessionStoreOptions = { ...base, ...options, name: options.name ?? `s${n++}` }
    const pair = { store: createSessionStore(a, resolved), peer: createSessionStore(b, resolved) }
    stores.push(pair.store, pair.peer)
    return pair
  }
  const openState: OpenState = async <T>(options: StateStoreOptions<T> = {}) => {
    const [a, b] = valkits()
    const resolved = { ...options, name: options.name ?? `st${n++}` }
    const pair = { store: createStateStore<T>(a, resolved), peer: createStateStore<T>(b, resolved) }
    stores.push(pair.store, pair.peer)
    return pair
  }
  const close = async () => {
    for (const store of stores) await store.close()
  }
  return { open, openState, close }
}

void describe('session conformance: memory backend', () => {
  const valkit = createValkit({ env: {}, logger: false })
  const { open, openState, close } = opener(() => [valkit, valkit])
  after(async () => {
    await close()
    await valkit.close()
  })
  sessionConformance(open)
  stateConformance(openState)
})

/** A suite against a server or cluster: two valkit connections sharing one key prefix. */
function serverSuite(
  title: string,
  start: () => Promise<{
    handle: ServerHandle | ClusterHandle
    options: ValkitOptions
    stop: () => Promise<void>
  }>,
): void {
  void describe(title, { timeout: 90_000 }, () => {
    let started: Awaited<ReturnType<typeof start>>
    let pair: [Valkit, Valkit]
    const prefix = `t-sess-${randomBytes(4).toString('hex')}`
    const { open, openState, close } = opener(() => pair)
    before(async () => {
      started = await start()
      const make = () => createValkit({ ...started.options, env: {}, logger: false, keyPrefix: prefix })
      pair = [make(), make()]
      await Promise.all(pair.map((v) => v.supervisor.waitFor('ready', 15_000)))
    })
    after(async () => {
      await close()
      for (const v of pair ?? []) await v.close()
      if (started) await cleanPrefix(started.handle, `${prefix}:`).catch(() => {})
      await started?.stop()
    })
    sessionConformance(open)
    stateConformance(openState)
  })
}

for (const engine of testEngines()) {
  serverSuite(`session conformance: ${engine}`, async () => {
    const server = await startServer({ engine })
    return { handle: server, options: { url: server.url }, stop: () => server.stop() }
  })
  serverSuite(`session conformance: ${engine} Cluster`, async () => {
    const cluster: ClusterHandle = await startCluster({ engine, masters: 3, replicasPerMaster: 0 })
    return {
      handle: cluster,
      options: { cluster: { nodes: cluster.seeds.map((s) => `${s.host}:${s.port}`) } },
      stop: () => cluster.stop(),
    }
  })
}
