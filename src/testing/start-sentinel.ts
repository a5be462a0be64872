import { existsSync } from 'node:fs'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { ValkitError, invalidOption } from '../core/errors.js'
import { engineBinary, isOnPath, type Engine } from './engine.js'
import { ManagedServer } from './managed-server.js'
import { createServerDir, createSharedDir } from './process-registry.js'
import type { RespReply } from './resp-client.js'
import type { ServerHandle } from './server-handle.js'
import { resolveStartServerOptions } from './server-options.js'
import { launchServer } from './start-server.js'
import { checkInteger, type SentinelOptions } from './topology-options.js'
import { generateTlsCertificates, type TlsMaterial } from './tls-certificates.js'
import { waitFor } from './wait-for.js'

/** A host and port. */
export interface Address {
  readonly host: string
  readonly port: number
}

/** A running Sentinel topology started by {@link startSentinel}. */
export interface SentinelHandle {
  readonly engine: Engine
  readonly masterName: string
  /** The data node that was master at start (after a failover it may be a replica or dead). */
  readonly master: ServerHandle
  /** The data nodes that were replicas at start. */
  readonly replicas: readonly ServerHandle[]
  /** The Sentinel processes. */
  readonly sentinels: readonly ServerHandle[]
  /** Every data node: `[master, ...replicas]`. */
  readonly nodes: readonly ServerHandle[]
  /** The master address a Sentinel reports now (`SENTINEL get-master-addr-by-name`). */
  currentMaster(): Promise<Address>
  /** The data node handle that is master now. */
  currentMasterNode(): Promise<ServerHandle>
  /** Waits until the Sentinels report a master other than `old`, and resolves with it. @defaultValue timeoutMs `15000` */
  waitForMasterChange(old: Address, timeoutMs?: number): Promise<Address>
  /** Stops every process of the topology and removes their directories. */
  stop(): Promise<void>
}

/** A reply of the `SENTINEL replicas|sentinels` kind: an array of flat field/value arrays. */
function records(reply: RespReply): Record<string, string>[] {
  if (!Array.isArray(reply)) return []
  return reply.filter(Array.isArray).map((flat) => {
    const record: Record<string, string> = {}
    for (let i = 0; i + 1 < flat.length; i += 2) record[String(flat[i])] = String(flat[i + 1])
    return record
  })
}

function healthy(record: Record<string, string>): boolean {
  const flags = record.flags ?? ''
  return !flags.includes('s_down') && !flags.includes('o_down') && !flags.includes('disconnected')
}

/**
 * Starts a Sentinel topology: a master, `replicas` replicas of it and `sentinels` Sentinels
 * monitoring it as `masterName`, and resolves when every replica is in sync and every
 * Sentinel knows the master, all replicas and all other Sentinels (~2-3 s).
 *
 * @example
 * ```ts
 * const topo = await startSentinel({ engine: 'redis' })
 * const before = await topo.currentMaster()
 * await topo.master.kill()
 * const after = await topo.waitForMasterChange(before)
 * await topo.stop()
 * ```
 */
export async function startSentinel(options: SentinelOptions = {}): Promise<SentinelHandle> {
  const replicaCount = checkInteger('replicas', options.replicas ?? 2, 0, 16)
  const sentinelCount = checkInteger('sentinels', options.sentinels ?? 3, 1, 16)
  const quorum = checkInteger('quorum', options.quorum ?? Math.floor(sentinelCount / 2) + 1, 1, sentinelCount)
  const downAfterMs = checkInteger('downAfterMs', options.downAfterMs ?? 1000, 1)
  const failoverTimeoutMs = checkInteger('failoverTimeoutMs', options.failoverTimeoutMs ?? 3000, 1)
  const readyTimeoutMs = checkInteger('readyTimeoutMs', options.readyTimeoutMs ?? 20_000, 1)
  const masterName = options.masterName ?? 'mymaster'
  if (!/^[\w.-]+$/.test(masterName))
    throw invalidOption('masterName', `got ${JSON.stringify(masterName)}`, 'letters, digits, _ . -')
  const nodeOptions = resolveStartServerOptions({
    ...(options.engine !== undefined && { engine: options.engine }),
    ...(options.password !== undefined && { password: options.password }),
    ...(options.tls !== undefined && { tls: options.tls }),
    args: [
      ...(options.password !== undefined ? ['--masterauth', options.password] : []),
      ...(options.args ?? []),
    ],
    readyTimeoutMs,
  })
  const engine = nodeOptions.engine
  const started: ServerHandle[] = []
  const shared = nodeOptions.tls ? createSharedDir(`${engine}-sentinel-tls`) : undefined
  const stopAll = async (): Promise<void> => {
    await Promise.all(started.map((s) => s.stop().catch(() => undefined)))
    shared?.remove()
  }
  try {
    const tls = shared && (await generateTlsCertificates(shared.dir))
    const master = await launchServer({ ...nodeOptions, label: `${engine}-sentinel-master` }, undefined, tls)
    started.push(master)
    const replicas = await Promise.all(
      Array.from({ length: replicaCount }, async (_, i) => {
        const replica = await launchServer(
          { ...nodeOptions, label: `${engine}-sentinel-replica${i + 1}` },
          () => ['--replicaof', master.host, String(master.port)],
          tls,
        )
        started.push(replica)
        return replica
      }),
    )
    await Promise.all(
      replicas.map((replica) =>
        waitFor(async () => (await replica.info('replication')).master_link_status === 'up', {
          timeoutMs: readyTimeoutMs,
          what: `replica ${replica.port} to sync with master ${master.port}`,
        }),
      ),
    )
    const monitor = [
      `sentinel monitor ${masterName} ${master.host} ${master.port} ${quorum}`,
      `sentinel down-after-milliseconds ${masterName} ${downAfterMs}`,
      `sentinel failover-timeout ${masterName} ${failoverTimeoutMs}`,
      `sentinel parallel-syncs ${masterName} 1`,
      ...(options.password !== undefined ? [`sentinel auth-pass ${masterName} ${options.password}`] : []),
    ]
    const tlsSetup = tls && nodeOptions.tls && { material: tls, authClients: nodeOptions.tls.authClients }
    const sentinels = await Promise.all(
      Array.from({ length: sentinelCount }, async (_, i) => {
        const sentinel = await launchSentinel(
          engine,
          `${engine}-sentinel${i + 1}`,
          monitor,
          readyTimeoutMs,
          tlsSetup,
        )
        started.push(sentinel)
        return sentinel
      }),
    )
    const handle = new Topology(engine, masterName, master, replicas, sentinels, stopAll)
    await Promise.all(
      sentinels.map((sentinel) =>
        waitFor(
          async () => {
            const addr = (await sentinel.command(
              'SENTINEL',
              'get-master-addr-by-name',
              masterName,
            )) as string[]
            if (Number(addr[1]) !== master.port) return false
            const seenReplicas = records(await sentinel.command('SENTINEL', 'replicas', masterName)).filter(
              healthy,
            )
            const seenSentinels = records(await sentinel.command('SENTINEL', 'sentinels', masterName)).filter(
              healthy,
            )
            return seenReplicas.length === replicaCount && seenSentinels.length === sentinelCount - 1
          },
          {
            timeoutMs: readyTimeoutMs,
            what: `sentinel ${sentinel.port} to see the master, ${replicaCount} replicas and ${sentinelCount - 1} other sentinels`,
          },
        ),
      ),
    )
    return handle
  } catch (err) {
    await stopAll()
    throw err
  }
}

async function launchSentinel(
  engine: Engine,
  label: string,
  monitor: readonly string[],
  readyTimeoutMs: number,
  tls: { material: TlsMaterial; authClients: string } | undefined,
): Promise<ManagedServer> {
  const dir = createServerDir(label)
  const confFile = join(dir, 'sentinel.conf')
  const viaServer = !isOnPath(`${engine}-sentinel`)
  const binary = viaServer ? engineBinary(engine, 'server') : engineBinary(engine, 'sentinel')
  let writtenFor = 0
  const sentinel = new ManagedServer({
    engine,
    role: 'sentinel',
    binary,
    dir,
    logFile: 'sentinel.log',
    prepare: async (port) => {
      // Sentinel rewrites its config (known replicas, epochs): keep it across restarts.
      if (writtenFor !== port || !existsSync(confFile)) {
        const tlsLines = tls
          ? [
              'port 0',
              `tls-port ${port}`,
              `tls-cert-file ${tls.material.serverCertFile}`,
              `tls-key-file ${tls.material.serverKeyFile}`,
              `tls-ca-cert-file ${tls.material.caFile}`,
              `tls-auth-clients ${tls.authClients}`,
              'tls-replication yes',
            ]
          : [`port ${port}`]
        const lines = [
          ...tlsLines,
          'bind 127.0.0.1',
          'daemonize no',
          `dir ${dir}`,
          `logfile ${join(dir, 'sentinel.log')}`,
          ...monitor,
        ]
        await writeFile(confFile, `${lines.join('\n')}\n`)
        writtenFor = port
      }
      return viaServer ? [confFile, '--sentinel'] : [confFile]
    },
    tls: tls?.material,
    admin: undefined,
    credentials: new Map([['default', undefined]]),
    readyTimeoutMs,
  })
  try {
    await sentinel.start()
    return sentinel
  } catch (err) {
    await sentinel.stop().catch(() => undefined)
    throw err
  }
}

class Topology implements SentinelHandle {
  readonly nodes: readonly ServerHandle[]

  constructor(
    readonly engine: Engine,
    readonly masterName: string,
    readonly master: ServerHandle,
    readonly replicas: readonly ServerHandle[],
    readonly sentinels: readonly ServerHandle[],
    private readonly stopAll: () => Promise<void>,
  ) {
    this.nodes = [master, ...replicas]
  }

  async currentMaster(): Promise<Address> {
    let lastError: unknown
    for (const sentinel of this.sentinels) {
      if (!sentinel.alive || sentinel.paused) continue
      try {
        const reply = await sentinel.command('SENTINEL', 'get-master-addr-by-name', this.masterName)
        if (Array.isArray(reply) && reply.length === 2)
          return { host: String(reply[0]), port: Number(reply[1]) }
        lastError = new Error(`unexpected reply ${JSON.stringify(reply)}`)
      } catch (err) {
        lastError = err
      }
    }
    throw new ValkitError('VALKIT_LAUNCHER', `no sentinel reported the master of ${this.masterName}`, {
      cause: lastError,
    })
  }

  async currentMasterNode(): Promise<ServerHandle> {
    const { port } = await this.currentMaster()
    const node = this.nodes.find((n) => n.port === port)
    if (!node)
      throw new ValkitError('VALKIT_LAUNCHER', `the master on port ${port} is not a node of this topology`)
    return node
  }

  waitForMasterChange(old: Address, timeoutMs = 15_000): Promise<Address> {
    return waitFor(
      async () => {
        const now = await this.currentMaster()
        return now.port !== old.port || now.host !== old.host ? now : undefined
      },
      { timeoutMs, intervalMs: 100, what: `sentinels to elect a master other than ${old.host}:${old.port}` },
    )
  }

  stop(): Promise<void> {
    return this.stopAll()
  }
}
