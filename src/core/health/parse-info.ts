/**
 * Parses the text of `INFO` into a flat map, and turns it into the typed `ServerInfo`
 * (Redis and Valkey field names both understood).
 */
import type { ServerInfo } from '../health-types.js'

export type InfoFields = ReadonlyMap<string, string>

export function parseInfo(text: string): Map<string, string> {
  const fields = new Map<string, string>()
  for (const raw of text.split('\n')) {
    const line = raw.trimEnd()
    if (line === '' || line.startsWith('#')) continue
    const colon = line.indexOf(':')
    if (colon <= 0) continue
    fields.set(line.slice(0, colon), line.slice(colon + 1))
  }
  return fields
}

const num = (fields: InfoFields, name: string): number => {
  const value = Number(fields.get(name))
  return Number.isFinite(value) ? value : 0
}

/** `db0:keys=3,expires=1,avg_ttl=0` lines summed. */
function totalKeys(fields: InfoFields): number {
  let total = 0
  for (const [name, value] of fields) {
    if (!/^db\d+$/.test(name)) continue
    const match = /keys=(\d+)/.exec(value)
    if (match) total += Number(match[1])
  }
  return total
}

function replicationLag(fields: InfoFields): number | null {
  const role = fields.get('role')
  // A replica's INFO only knows its own offsets; the lag in bytes is visible on the master.
  if (role === 'slave') return null
  const masterOffset = num(fields, 'master_repl_offset')
  let worst: number | null = null
  for (const [name, value] of fields) {
    if (!/^slave\d+$/.test(name)) continue
    const match = /offset=(\d+)/.exec(value)
    if (!match) continue
    const lag = Math.max(0, masterOffset - Number(match[1]))
    worst = worst === null ? lag : Math.max(worst, lag)
  }
  return worst
}

export function toServerInfo(fields: InfoFields): ServerInfo {
  const valkey = fields.get('server_name') === 'valkey' || fields.has('valkey_version')
  const hits = num(fields, 'keyspace_hits')
  const misses = num(fields, 'keyspace_misses')
  const role = fields.get('role')
  const mode = fields.get('redis_mode') ?? fields.get('server_mode')
  return {
    engine: valkey ? 'valkey' : fields.has('redis_version') ? 'redis' : 'unknown',
    version: (valkey ? fields.get('valkey_version') : undefined) ?? fields.get('redis_version') ?? 'unknown',
    mode: mode === 'cluster' ? 'cluster' : mode === 'sentinel' ? 'sentinel' : 'standalone',
    role: role === 'master' ? 'master' : role === 'slave' || role === 'replica' ? 'replica' : 'unknown',
    uptimeSeconds: num(fields, 'uptime_in_seconds'),
    connectedReplicas: num(fields, 'connected_slaves'),
    replicationLagBytes: replicationLag(fields),
    usedMemoryBytes: num(fields, 'used_memory'),
    maxMemoryBytes: num(fields, 'maxmemory'),
    maxMemoryPolicy: fields.get('maxmemory_policy') ?? 'unknown',
    fragmentationRatio: num(fields, 'mem_fragmentation_ratio'),
    evictedKeys: num(fields, 'evicted_keys'),
    expiredKeys: num(fields, 'expired_keys'),
    keyspaceHits: hits,
    keyspaceMisses: misses,
    hitRate: hits + misses === 0 ? null : hits / (hits + misses),
    connectedClients: num(fields, 'connected_clients'),
    blockedClients: num(fields, 'blocked_clients'),
    opsPerSecond: num(fields, 'instantaneous_ops_per_sec'),
    totalKeys: totalKeys(fields),
  }
}

/** Adds up the per-node reports of a Cluster's masters into one. */
export function mergeServerInfo(nodes: readonly ServerInfo[]): ServerInfo | null {
  const first = nodes[0]
  if (first === undefined) return null
  if (nodes.length === 1) return first
  const sum = (pick: (n: ServerInfo) => number): number => nodes.reduce((total, n) => total + pick(n), 0)
  const hits = sum((n) => n.keyspaceHits)
  const misses = sum((n) => n.keyspaceMisses)
  const lags = nodes.map((n) => n.replicationLagBytes).filter((l): l is number => l !== null)
  return {
    ...first,
    uptimeSeconds: Math.min(...nodes.map((n) => n.uptimeSeconds)),
    connectedReplicas: sum((n) => n.connectedReplicas),
    replicationLagBytes: lags.length === 0 ? null : Math.max(...lags),
    usedMemoryBytes: sum((n) => n.usedMemoryBytes),
    maxMemoryBytes: nodes.some((n) => n.maxMemoryBytes === 0) ? 0 : sum((n) => n.maxMemoryBytes),
    fragmentationRatio: Math.max(...nodes.map((n) => n.fragmentationRatio)),
    evictedKeys: sum((n) => n.evictedKeys),
    expiredKeys: sum((n) => n.expiredKeys),
    keyspaceHits: hits,
    keyspaceMisses: misses,
    hitRate: hits + misses === 0 ? null : hits / (hits + misses),
    connectedClients: sum((n) => n.connectedClients),
    blockedClients: sum((n) => n.blockedClients),
    opsPerSecond: sum((n) => n.opsPerSecond),
    totalKeys: sum((n) => n.totalKeys),
  }
}
