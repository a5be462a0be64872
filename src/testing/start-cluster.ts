import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { ValkitError } from '../core/errors.js'
import { engineBinary, type Engine } from './engine.js'
import { freePort } from './free-port.js'
import { createSharedDir } from './process-registry.js'
import type { ServerHandle } from './server-handle.js'
import { resolveStartServerOptions } from './server-options.js'
import type { Address } from './start-sentinel.js'
import { launchServer } from './start-server.js'
import { checkInteger, type ClusterOptions } from './topology-options.js'
import { generateTlsCertificates } from './tls-certificates.js'
import { waitFor } from './wait-for.js'

const run = promisify(execFile)

/** One line of `CLUSTER NODES`. */
export interface ClusterNodeInfo extends Address {
  readonly id: string
  readonly role: 'master' | 'replica'
  /** The node id of its master, for a replica. */
  readonly masterId: string | undefined
  /** Flags such as `myself`, `fail?`, `fail`. */
  readonly flags: readonly string[]
  /** Slot ranges served, `[first, last]` inclusive (masters only). */
  readonly slots: readonly (readonly [number, number])[]
}

/** A running cluster started by {@link startCluster}. */
export interface ClusterHandle {
  readonly engine: Engine
  /** Every node, masters first as created (roles may change after a failover). */
  readonly nodes: readonly ServerHandle[]
  /** Addresses to give a cluster client as its seed list. */
  readonly seeds: readonly Address[]
  /** The current masters that serve slots and are not failed, from `CLUSTER NODES`. */
  masters(): Promise<ClusterNodeInfo[]>
  /** `CLUSTER NODES` parsed, as a live node sees it. */
  clusterNodes(): Promise<ClusterNodeInfo[]>
  /** The handle of the node at `port`. */
  node(port: number): ServerHandle
  /**
   * Waits until every live, unpaused node reports `cluster_state:ok` with all 16384 slots
   * served (`cluster_slots_ok`), each by a master that is alive and not paused in every
   * node's view (so after killing a master it waits for the failover). @defaultValue timeoutMs `15000`
   */
  waitForHealthy(timeoutMs?: number): Promise<void>
  /** Stops every node and removes their directories. */
  stop(): Promise<void>
}

/** Parses the text of `CLUSTER NODES`. */
export function parseClusterNodes(text: string): ClusterNodeInfo[] {
  const nodes: ClusterNodeInfo[] = []
  for (const line of text.split('\n')) {
    const parts = line.trim().split(' ')
    const [id, address, flagText, master] = parts
    if (!id || !address || !flagText || master === undefined) continue
    const hostPort = address.split('@')[0] ?? ''
    const at = hostPort.lastIndexOf(':')
    const flags = flagText.split(',')
    const slots: [number, number][] = []
    for (const slot of parts.slice(8)) {
      if (slot.startsWith('[')) continue // a slot being migrated
      const [first, last] = slot.split('-').map(Number)
      if (first !== undefined && Number.isInteger(first)) slots.push([first, last ?? first])
    }
    nodes.push({
      id,
      host: hostPort.slice(0, at),
      port: Number(hostPort.slice(at + 1)),
      role: flags.includes('master') ? 'master' : 'replica',
      masterId: master === '-' ? undefined : master,
      flags,
      slots,
    })
  }
  return nodes
}

/**
 * Starts a Redis / Valkey Cluster: `masters × (1 + replicasPerMaster)` nodes created with
 * `<engine>-cli --cluster create`, and resolves once every node reports `cluster_state:ok`,
 * all 16384 slots are assigned, every node knows every other and every replica is in sync
 * (~2.5 s for 3 + 3).
 *
 * @example
 * ```ts
 * const cluster = await startCluster({ engine: 'valkey', masters: 3, replicasPerMaster: 1 })
 * const client = createCluster({ rootNodes: cluster.seeds.map((s) => ({ url: `redis://${s.host}:${s.port}` })) })
 * // ...
 * await cluster.stop()
 * ```
 */
export async function startCluster(options: ClusterOptions = {}): Promise<ClusterHandle> {
  const masterCount = checkInteger('masters', options.masters ?? 3, 3, 64)
  const replicasPerMaster = checkInteger('replicasPerMaster', options.replicasPerMaster ?? 1, 0, 8)
  const nodeTimeoutMs = checkInteger('nodeTimeoutMs', options.nodeTimeoutMs ?? 1500, 100)
  const readyTimeoutMs = checkInteger('readyTimeoutMs', options.readyTimeoutMs ?? 30_000, 1)
  const password = options.password
  const nodeOptions = resolveStartServerOptions({
    ...(options.engine !== undefined && { engine: options.engine }),
    ...(password !== undefined && { password }),
    ...(options.tls !== undefined && { tls: options.tls }),
    args: [
      ...(options.tls ? ['--tls-cluster', 'yes'] : []),
      '--cluster-enabled',
      'yes',
      '--cluster-config-file',
      'nodes.conf',
      '--cluster-node-timeout',
      String(nodeTimeoutMs),
      '--cluster-require-full-coverage',
      options.requireFullCoverage === true ? 'yes' : 'no',
      ...(password !== undefined ? ['--masterauth', password] : []),
      ...(options.args ?? []),
    ],
    readyTimeoutMs,
  })
  const engine = nodeOptions.engine
  const cli = engineBinary(engine, 'cli')
  const total = masterCount * (1 + replicasPerMaster)
  const started: ServerHandle[] = []
  const shared = nodeOptions.tls ? createSharedDir(`${engine}-cluster-tls`) : undefined
  const stopAll = async (): Promise<void> => {
    await Promise.all(started.map((s) => s.stop().catch(() => undefined)))
    shared?.remove()
  }
  try {
    const tls = shared && (await generateTlsCertificates(shared.dir))
    const nodes = await Promise.all(
      Array.from({ length: total }, async (_, i) => {
        // The bus port is chosen freely (not port + 10000, which may be out of range) and
        // kept across restarts so that the other nodes still reach it.
        const busPorts = new Map<number, number>()
        const node = await launchServer(
          { ...nodeOptions, label: `${engine}-cluster${i + 1}` },
          async (port) => {
            const bus = busPorts.get(port) ?? (await freePort())
            busPorts.set(port, bus)
            return ['--cluster-port', String(bus)]
          },
          tls,
        )
        started.push(node)
        return node
      }),
    )
    const args = [
      '--cluster',
      'create',
      ...nodes.map((n) => `${n.host}:${n.port}`),
      '--cluster-replicas',
      String(replicasPerMaster),
      '--cluster-yes',
      ...(password !== undefined ? ['-a', password, '--no-auth-warning'] : []),
      ...(tls ? ['--tls', '--cacert', tls.caFile, '--cert', tls.certFile, '--key', tls.keyFile] : []),
    ]
    try {
      await run(cli, args, { timeout: readyTimeoutMs })
    } catch (err) {
      const { stdout = '', stderr = '' } = err as { stdout?: string; stderr?: string }
      throw new ValkitError(
        'VALKIT_LAUNCHER',
        `${cli} --cluster create failed:\n${`${stdout}\n${stderr}`.trim().split('\n').slice(-15).join('\n')}`,
        {
          cause: err,
        },
      )
    }
    const cluster = new Cluster(engine, nodes, stopAll)
    await cluster.waitForHealthy(readyTimeoutMs, { nodes: total, replicas: total - masterCount })
    return cluster
  } catch (err) {
    await stopAll()
    throw err
  }
}

class Cluster implements ClusterHandle {
  readonly seeds: readonly Address[]

  constructor(
    readonly engine: Engine,
    readonly nodes: readonly ServerHandle[],
    private readonly stopAll: () => Promise<void>,
  ) {
    this.seeds = nodes.map((n) => ({ host: n.host, port: n.port }))
  }

  node(port: number): ServerHandle {
    const node = this.nodes.find((n) => n.port === port)
    if (!node) throw new ValkitError('VALKIT_LAUNCHER', `no node of this cluster listens on port ${port}`)
    return node
  }

  #live(): ServerHandle[] {
    return this.nodes.filter((n) => n.alive && !n.paused)
  }

  async clusterNodes(): Promise<ClusterNodeInfo[]> {
    let lastError: unknown
    for (const node of this.#live()) {
      try {
        return parseClusterNodes(String(await node.command('CLUSTER', 'NODES')))
      } catch (err) {
        lastError = err
      }
    }
    throw new ValkitError('VALKIT_LAUNCHER', 'no live cluster node answered CLUSTER NODES', {
      cause: lastError,
    })
  }

  async masters(): Promise<ClusterNodeInfo[]> {
    const nodes = await this.clusterNodes()
    return nodes.filter(
      (n) => n.role === 'master' && n.slots.length > 0 && !n.flags.some((f) => f.startsWith('fail')),
    )
  }

  /**
   * With `expected` (start-up), also waits until every node knows every node with its final
   * role and every replica is in sync.
   */
  async waitForHealthy(timeoutMs = 15_000, expected?: { nodes: number; replicas: number }): Promise<void> {
    const knownNodes = expected?.nodes
    await waitFor(
      async () => {
        const live = this.#live()
        if (live.length === 0) return false
        const livePorts = new Set(live.map((n) => n.port))
        for (const node of live) {
          const info = parseInfo(String(await node.command('CLUSTER', 'INFO')))
          if (info.cluster_state !== 'ok' || info.cluster_slots_ok !== '16384') return false
          // Every slot must be served by a master that is really up, as every node sees it.
          const view = parseClusterNodes(String(await node.command('CLUSTER', 'NODES')))
          if (view.some((n) => n.role === 'master' && n.slots.length > 0 && !livePorts.has(n.port))) {
            return false
          }
          if (expected && view.filter((n) => n.role === 'replica').length !== expected.replicas) return false
          if (knownNodes !== undefined && Number(info.cluster_known_nodes) !== knownNodes) return false
          if (knownNodes !== undefined) {
            const replication = await node.info('replication')
            if (replication.role === 'slave' && replication.master_link_status !== 'up') return false
          }
        }
        return true
      },
      {
        timeoutMs,
        intervalMs: 50,
        what: 'every live cluster node to report cluster_state:ok with 16384 slots',
      },
    )
  }

  stop(): Promise<void> {
    return this.stopAll()
  }
}

function parseInfo(text: string): Record<string, string> {
  const fields: Record<string, string> = {}
  for (const line of text.split('\r\n')) {
    const at = line.indexOf(':')
    if (at > 0) fields[line.slice(0, at)] = line.slice(at + 1)
  }
  return fields
}
