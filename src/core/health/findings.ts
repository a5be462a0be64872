/**
 * Turns what the health check saw into findings with recommendations. Pure: the same
 * inputs give the same findings, so every rule is unit-tested.
 */
import type { Finding, LatencySummary, ServerInfo, SupervisorState, TopologyReport } from '../health-types.js'

export interface FindingThresholds {
  readonly latencyWarnMs: number
  readonly memoryWarnRatio: number
  readonly evictionsWarnPerMinute: number
  readonly replicationLagWarnBytes: number
}

export interface FindingInputs {
  readonly state: SupervisorState
  readonly backend: 'redis' | 'memory'
  readonly topology: TopologyReport
  readonly latency: LatencySummary
  readonly server: ServerInfo | null
  /** Evictions per minute since the previous report, when known. */
  readonly evictionsPerMinute: number | null
  readonly lastError: string | null
  readonly thresholds: FindingThresholds
}

const MiB = 1024 * 1024

export function computeFindings(input: FindingInputs): Finding[] {
  const findings: Finding[] = []
  const { server, thresholds: t } = input

  if (input.topology.kind === 'memory') {
    findings.push({
      id: 'backend.memory',
      severity: 'info',
      message:
        'No Redis/Valkey configured: running on the in-process memory backend; nothing is shared between instances.',
      recommendation: 'Set VALKIT_REDIS_URL (or pass `url`) to share state across instances.',
    })
    return findings
  }
  if (input.state === 'degraded') {
    findings.push({
      id: 'server.unreachable',
      severity: 'critical',
      message: `The server is not reachable${input.lastError ? `: ${input.lastError.replace(/\.+$/, '')}` : ''}. Capabilities run on their fallback.`,
      recommendation:
        'Check that the server runs and that the address, TLS settings and credentials are right.',
    })
  } else if (input.state === 'recovering') {
    findings.push({
      id: 'server.recovering',
      severity: 'info',
      message: 'The connection is back; valkit is restoring scripts and subscriptions.',
    })
  }

  const p99 = input.latency.p99Ms
  if (p99 !== null && p99 > t.latencyWarnMs) {
    findings.push({
      id: 'latency.high',
      severity: 'warning',
      message: `PING p99 is ${p99.toFixed(1)} ms (threshold ${t.latencyWarnMs} ms).`,
      recommendation:
        'Look for slow commands (SLOWLOG GET), a saturated server CPU, or network distance to the server.',
    })
  }
  if (server === null) return findings

  if (server.role === 'replica' && input.topology.kind !== 'cluster') {
    findings.push({
      id: 'role.replica',
      severity: 'critical',
      message: 'Commands go to a replica: writes will fail with READONLY.',
      recommendation: 'Point valkit at the master, or use Sentinel so it follows the master.',
    })
  }
  if (server.maxMemoryBytes === 0) {
    findings.push({
      id: 'memory.no-limit',
      severity: 'warning',
      message: 'maxmemory is not set: the server can grow until the host runs out of memory.',
      recommendation:
        'Set maxmemory (e.g. CONFIG SET maxmemory 2gb) to leave room for the OS and fork-based persistence.',
    })
  } else {
    const ratio = server.usedMemoryBytes / server.maxMemoryBytes
    if (ratio >= t.memoryWarnRatio) {
      findings.push({
        id: 'memory.high',
        severity: ratio >= 0.95 ? 'critical' : 'warning',
        message: `Memory is ${(ratio * 100).toFixed(0)}% of maxmemory (${(server.usedMemoryBytes / MiB).toFixed(1)} of ${(server.maxMemoryBytes / MiB).toFixed(1)} MiB).`,
        recommendation:
          server.maxMemoryPolicy === 'noeviction'
            ? 'With noeviction, writes will fail once full: raise maxmemory or pick an eviction policy.'
            : 'Raise maxmemory, shorten TTLs, or shard with Cluster.',
      })
    }
  }
  if (server.maxMemoryPolicy === 'noeviction') {
    findings.push({
      id: 'policy.noeviction',
      severity: 'info',
      message: 'maxmemory-policy is noeviction: when memory is full, writes fail instead of evicting.',
      recommendation:
        'For a cache-heavy server use allkeys-lfu (keeps hot keys); keep noeviction only if jobs and locks share the server and must never be evicted — or use volatile-lfu so only keys with a TTL are evicted.',
    })
  } else if (server.maxMemoryPolicy === 'allkeys-random' || server.maxMemoryPolicy === 'volatile-random') {
    findings.push({
      id: 'policy.random',
      severity: 'info',
      message: `maxmemory-policy is ${server.maxMemoryPolicy}: hot keys are evicted as readily as cold ones.`,
      recommendation: 'Use allkeys-lfu or volatile-lfu for better hit rates.',
    })
  }
  if (input.evictionsPerMinute !== null && input.evictionsPerMinute > t.evictionsWarnPerMinute) {
    findings.push({
      id: 'evictions.high',
      severity: 'warning',
      message: `${Math.round(input.evictionsPerMinute)} keys evicted per minute (threshold ${t.evictionsWarnPerMinute}).`,
      recommendation: 'The working set does not fit: raise maxmemory or reduce what is cached.',
    })
  }
  if (server.replicationLagBytes !== null && server.replicationLagBytes > t.replicationLagWarnBytes) {
    findings.push({
      id: 'replication.lag',
      severity: 'warning',
      message: `A replica is ${(server.replicationLagBytes / MiB).toFixed(2)} MiB behind its master.`,
      recommendation:
        'Writes acknowledged now may be lost on failover; use durable writes (WAIT) for data that must survive.',
    })
  }
  if (server.fragmentationRatio > 1.5 && server.usedMemoryBytes > 64 * MiB) {
    findings.push({
      id: 'memory.fragmentation',
      severity: 'warning',
      message: `Memory fragmentation ratio is ${server.fragmentationRatio.toFixed(2)}.`,
      recommendation:
        'Enable activedefrag (CONFIG SET activedefrag yes) or restart the server during a quiet period.',
    })
  }
  if (server.hitRate !== null && server.keyspaceHits + server.keyspaceMisses > 1000 && server.hitRate < 0.5) {
    findings.push({
      id: 'cache.hit-rate',
      severity: 'info',
      message: `Keyspace hit rate is ${(server.hitRate * 100).toFixed(0)}%.`,
      recommendation: 'Check TTLs and key design; a cache below 50% hits costs more than it saves.',
    })
  }
  if (input.topology.cluster && input.topology.cluster.slotsCovered < 16384) {
    findings.push({
      id: 'cluster.slots',
      severity: 'critical',
      message: `Only ${input.topology.cluster.slotsCovered} of 16384 slots are served (cluster state ${input.topology.cluster.state}).`,
      recommendation: 'A shard has no master: check failed nodes (CLUSTER NODES) and replicas.',
    })
  }
  return findings
}
