import type { Finding, HealthReport, LatencySummary } from '../core/health-types.js'
import type { Style } from './cli-io.js'

function bytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let value = n
  let i = 0
  while (value >= 1024 && i < units.length - 1) {
    value /= 1024
    i++
  }
  return `${i === 0 || value >= 100 ? Math.round(value) : value.toFixed(1)} ${units[i]}`
}

function ms(value: number | null): string {
  if (value === null) return '-'
  return value < 1 ? `${(value * 1000).toFixed(0)}µs` : `${value.toFixed(value < 10 ? 2 : 0)}ms`
}

function duration(seconds: number): string {
  const d = Math.floor(seconds / 86400)
  const h = Math.floor((seconds % 86400) / 3600)
  const m = Math.floor((seconds % 3600) / 60)
  if (d > 0) return `${d}d ${h}h`
  if (h > 0) return `${h}h ${m}m`
  return `${m}m ${Math.floor(seconds % 60)}s`
}

function latencyLine(l: LatencySummary): string {
  if (l.samples === 0) return 'no samples yet'
  return `p50 ${ms(l.p50Ms)}  p90 ${ms(l.p90Ms)}  p99 ${ms(l.p99Ms)}  max ${ms(l.maxMs)}  (${l.samples} PINGs)`
}

const RANK = { critical: 0, warning: 1, info: 2 } as const

/** Findings worst first. */
export function sortFindings(findings: readonly Finding[]): Finding[] {
  return [...findings].sort((a, b) => RANK[a.severity] - RANK[b.severity])
}

/**
 * The health report as terminal text: engine and version, topology, memory and policy, hit
 * rate, latency percentiles, then the findings (worst first) with their recommendations.
 */
export function formatHealthReport(report: HealthReport, style: Style): string {
  const lines: string[] = []
  const row = (label: string, value: string) => lines.push(`  ${style.dim(label.padEnd(12))} ${value}`)
  const stateColor =
    report.state === 'ready' ? style.green : report.state === 'degraded' ? style.red : style.yellow
  const s = report.server

  lines.push(
    style.bold(
      s
        ? `${s.engine === 'valkey' ? 'Valkey' : s.engine === 'redis' ? 'Redis' : 'Unknown engine'} ${s.version}`
        : 'Server not reachable',
    ),
  )
  row(
    'state',
    `${stateColor(report.state)}  (backend: ${report.backend === 'memory' ? 'memory backend' : 'redis'}, driver: ${report.driver})`,
  )
  const t = report.topology
  let topology: string = t.kind
  if (t.endpoint) topology += ` ${t.endpoint}`
  if (t.sentinel) {
    topology += ` (master ${t.sentinel.masterName} at ${t.sentinel.master ?? '?'}, ${t.sentinel.sentinels} sentinels, ${t.sentinel.failovers} failovers)`
  }
  if (t.cluster) {
    topology += ` (${t.cluster.masters} masters, ${t.cluster.replicas} replicas, ${t.cluster.slotsCovered}/16384 slots, ${t.cluster.state})`
  }
  row('topology', topology)
  if (s) {
    row(
      'role',
      `${s.role} (${s.mode}), up ${duration(s.uptimeSeconds)}, ${s.connectedClients} clients, ${s.connectedReplicas} replicas`,
    )
    if (s.replicationLagBytes !== null) row('repl. lag', bytes(s.replicationLagBytes))
    const mem =
      s.maxMemoryBytes > 0
        ? `${bytes(s.usedMemoryBytes)} of ${bytes(s.maxMemoryBytes)} (${((s.usedMemoryBytes / s.maxMemoryBytes) * 100).toFixed(1)}%)`
        : `${bytes(s.usedMemoryBytes)} (no maxmemory limit)`
    row('memory', `${mem}, fragmentation ${s.fragmentationRatio.toFixed(2)}`)
    row('policy', s.maxMemoryPolicy)
    row(
      'hit rate',
      s.hitRate === null
        ? '- (no reads yet)'
        : `${(s.hitRate * 100).toFixed(1)}% (${s.keyspaceHits} hits, ${s.keyspaceMisses} misses)`,
    )
    row('keys', `${s.totalKeys} (${s.expiredKeys} expired, ${s.evictedKeys} evicted)`)
    row('ops/s', String(s.opsPerSecond))
  }
  row('latency', latencyLine(report.latency))

  lines.push('')
  const findings = sortFindings(report.findings)
  if (findings.length === 0) {
    lines.push(style.green('No findings.'))
  } else {
    lines.push(style.bold(`Findings (${findings.length})`))
    for (const f of findings) {
      const tag =
        f.severity === 'critical'
          ? style.red('CRITICAL')
          : f.severity === 'warning'
            ? style.yellow('WARNING ')
            : style.blue('INFO    ')
      lines.push(`  ${tag} ${f.message} ${style.dim(`[${f.id}]`)}`)
      if (f.recommendation) lines.push(`           ${style.cyan('→')} ${f.recommendation}`)
    }
  }
  return lines.join('\n')
}
