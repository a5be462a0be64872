/**
 * Builds the driver for a resolved configuration: node-redis for standalone, Sentinel and
 * Cluster (with valkit's reconnect, deadlines and Sentinel following), a user's ioredis
 * client through its adapter, or the null driver of the memory topology.
 */
import type { RedisClientOptions } from '@redis/client'
import type { ResolvedTls, ResolvedValkitConfig } from '../config/resolved-config.js'
import { backoffDelay } from '../connection/backoff.js'
import { IoredisAdapter, type IoredisLike } from './ioredis-adapter.js'
import { NodeRedisAdapter } from './node-redis-adapter.js'
import { NodeRedisClusterAdapter } from './node-redis-cluster-adapter.js'
import { NullDriver } from './null-driver.js'
import type { DriverPort, NodeAddress } from './port.js'
import { SentinelWatcher } from './sentinel-watcher.js'

export interface CreatedDriver {
  readonly driver: DriverPort
  readonly sentinel: SentinelWatcher | null
}

function tlsSocket(tls: ResolvedTls | null | undefined, host: string): Record<string, unknown> {
  if (!tls) return {}
  return {
    tls: true,
    ...(tls.ca ? { ca: tls.ca } : {}),
    ...(tls.cert ? { cert: tls.cert } : {}),
    ...(tls.key ? { key: tls.key } : {}),
    servername: tls.servername ?? (/^[\d.]+$|:/.test(host) ? undefined : host),
    rejectUnauthorized: tls.rejectUnauthorized,
  }
}

// RESP2 replies: the port promises RESP2-shaped values (node-redis 6 defaults to RESP3).
function nodeOptions(
  config: ResolvedValkitConfig,
  target: NodeAddress,
  socketPath?: string,
): RedisClientOptions {
  const options: Record<string, unknown> = {
    socket: socketPath
      ? { path: socketPath, reconnectStrategy: false, connectTimeout: config.connectTimeoutMs, tls: false }
      : {
          host: target.host,
          port: target.port,
          connectTimeout: config.connectTimeoutMs,
          reconnectStrategy: false,
          noDelay: true,
          ...tlsSocket(config.tls, target.host),
        },
    ...(config.username !== undefined ? { username: config.username } : {}),
    ...(config.password !== undefined ? { password: config.password } : {}),
    ...(config.database !== 0 ? { database: config.database } : {}),
    name: config.clientName,
    RESP: 2,
    commandOptions: { timeout: 0 },
    disableOfflineQueue: true,
    disableClientInfo: true,
  }
  return options
}

export function createDriver(config: ResolvedValkitConfig): CreatedDriver {
  if (config.driver.kind === 'ioredis') {
    return { driver: new IoredisAdapter(config.driver.client as IoredisLike), sentinel: null }
  }
  const topology = config.topology
  switch (topology.kind) {
    case 'memory':
      return { driver: new NullDriver(), sentinel: null }
    case 'standalone': {
      const target = { host: topology.host, port: topology.port }
      return {
        driver: new NodeRedisAdapter({
          resolveTarget: async () => target,
          clientOptions: (t) => nodeOptions(config, t, topology.socketPath),
          reconnect: config.reconnect,
          connectTimeoutMs: config.connectTimeoutMs,
          requireMaster: false,
          tls: config.tls !== null,
        }),
        sentinel: null,
      }
    }
    case 'sentinel': {
      let adapter: NodeRedisAdapter | null = null
      const sentinelTls = topology.tls ?? null
      const watcher = new SentinelWatcher({
        sentinels: topology.sentinels,
        masterName: topology.masterName,
        clientOptions: (t) =>
          ({
            socket: {
              host: t.host,
              port: t.port,
              connectTimeout: config.connectTimeoutMs,
              reconnectStrategy: false,
              ...tlsSocket(sentinelTls, t.host),
            } as RedisClientOptions['socket'],
            ...(topology.username !== undefined ? { username: topology.username } : {}),
            ...(topology.password !== undefined ? { password: topology.password } : {}),
            RESP: 2,
            disableClientInfo: true,
          }) as unknown as RedisClientOptions,
        connectTimeoutMs: config.connectTimeoutMs,
        reconnect: config.reconnect,
        tls: sentinelTls !== null,
        checkIntervalMs: 1000,
        onSwitch: () => adapter?.reconnect(),
      })
      adapter = new NodeRedisAdapter({
        resolveTarget: () => watcher.currentMaster(),
        clientOptions: (t) => nodeOptions(config, t),
        reconnect: config.reconnect,
        connectTimeoutMs: config.connectTimeoutMs,
        requireMaster: true,
        tls: config.tls !== null,
      })
      watcher.start()
      return { driver: adapter, sentinel: watcher }
    }
    case 'cluster': {
      const first = topology.nodes[0]!
      const natMap = topology.natMap
      return {
        driver: new NodeRedisClusterAdapter({
          rootNodes: topology.nodes.map((n) => ({ socket: { host: n.host, port: n.port } })),
          defaults: {
            socket: {
              connectTimeout: config.connectTimeoutMs,
              reconnectStrategy: (retries: number) => backoffDelay(config.reconnect, retries + 1),
              ...tlsSocket(config.tls, first.host),
            } as never,
            ...(config.username !== undefined ? { username: config.username } : {}),
            ...(config.password !== undefined ? { password: config.password } : {}),
            name: config.clientName,
            disableOfflineQueue: true,
            disableClientInfo: true,
          },
          ...(Object.keys(natMap).length > 0 ? { nodeAddressMap: natMap } : {}),
          useReplicas: topology.readFromReplicas,
          // Re-read the slot map 500 ms after a node starts reconnecting (and every 500 ms while it
          // does), instead of node-redis's 5 s: a failed master's slots move to its replica in ~2-3 s.
          topologyRefreshOnReconnectionAttemptStrategy: 500,
          RESP: 2,
          commandOptions: { timeout: 0 },
        }),
        sentinel: null,
      }
    }
  }
}
