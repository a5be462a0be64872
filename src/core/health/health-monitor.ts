/**
 * Runs the health report on a timer so that thresholds turn into warnings in the logs and in
 * metrics, not only in `health()`: a finding is logged once when it appears (and once when it
 * clears), and the last report's numbers are exposed as gauges.
 */
import type { HealthReport, Severity } from '../health-types.js'
import type { Logger } from '../telemetry/logger.js'
import type { MetricsRegistry } from '../telemetry/metrics-registry.js'

export interface HealthMonitorOptions {
  readonly report: () => Promise<HealthReport>
  readonly logger: Logger
  readonly metrics: MetricsRegistry
  readonly intervalMs: number
}

const SEVERITIES: readonly Severity[] = ['info', 'warning', 'critical']

export class HealthMonitor {
  readonly #options: HealthMonitorOptions
  #last: HealthReport | null = null
  #active = new Map<string, Severity>()
  #timer: NodeJS.Timeout | null = null
  #running = false

  constructor(options: HealthMonitorOptions) {
    this.#options = options
    this.#registerMetrics()
  }

  /** The most recent report of the timer (null before the first one). */
  get last(): HealthReport | null {
    return this.#last
  }

  start(): void {
    if (this.#timer) return
    this.#timer = setInterval(() => void this.check(), this.#options.intervalMs)
    this.#timer.unref()
  }

  /** Takes a report now, logs findings that appeared or cleared, and returns it. */
  async check(): Promise<HealthReport | null> {
    if (this.#running) return this.#last
    this.#running = true
    try {
      const report = await this.#options.report()
      this.#last = report
      this.#log(report)
      return report
    } catch (err) {
      this.#options.logger.debug('health check failed', {
        error: err instanceof Error ? err.message : String(err),
      })
      return this.#last
    } finally {
      this.#running = false
    }
  }

  #log(report: HealthReport): void {
    const { logger } = this.#options
    const now = new Map<string, Severity>()
    for (const finding of report.findings) {
      now.set(finding.id, finding.severity)
      if (this.#active.get(finding.id) === finding.severity || finding.severity === 'info') continue
      const fields = { finding: finding.id, recommendation: finding.recommendation }
      if (finding.severity === 'critical') logger.error(finding.message, fields)
      else logger.warn(finding.message, fields)
    }
    for (const [id, severity] of this.#active) {
      if (!now.has(id) && severity !== 'info') logger.info(`health finding cleared: ${id}`, { finding: id })
    }
    this.#active = now
  }

  #registerMetrics(): void {
    const { metrics } = this.#options
    const server = () => this.#last?.server ?? null
    metrics.gauge({
      name: 'health_findings',
      help: 'Findings of the last health check, by severity.',
      labelNames: ['severity'],
      collect: (gauge) => {
        for (const severity of SEVERITIES) {
          gauge
            .labels({ severity })
            .set(this.#last?.findings.filter((f) => f.severity === severity).length ?? 0)
        }
      },
    })
    const fromServer = (
      name: string,
      help: string,
      pick: (s: NonNullable<HealthReport['server']>) => number | null,
    ): void => {
      metrics.gauge({
        name,
        help,
        collect: () => {
          const s = server()
          return s === null ? 0 : (pick(s) ?? 0)
        },
      })
    }
    fromServer(
      'server_used_memory_bytes',
      'used_memory of the server (summed over Cluster masters).',
      (s) => s.usedMemoryBytes,
    )
    fromServer('server_max_memory_bytes', 'maxmemory of the server (0 = no limit).', (s) => s.maxMemoryBytes)
    fromServer('server_keyspace_hit_ratio', 'keyspace_hits / (hits + misses).', (s) => s.hitRate)
    fromServer('server_ops_per_second', 'instantaneous_ops_per_sec of the server.', (s) => s.opsPerSecond)
    fromServer('server_connected_clients', 'connected_clients of the server.', (s) => s.connectedClients)
    fromServer('server_evicted_keys', 'evicted_keys since the server started.', (s) => s.evictedKeys)
    fromServer(
      'server_replication_lag_bytes',
      'Largest replication lag seen, in bytes.',
      (s) => s.replicationLagBytes,
    )
  }

  close(): void {
    if (this.#timer) clearInterval(this.#timer)
    this.#timer = null
  }
}
