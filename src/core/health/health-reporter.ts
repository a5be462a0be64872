/**
 * Builds the health report: supervisor state and history, PING latency, INFO of every master
 * (summed over a Cluster), topology, and findings with recommendations.
 */
import type { DriverPort, RedisReply } from '../driver/port.js'
import { withTimeout } from '../connection/with-timeout.js'
import type { HealthReport, ServerInfo, TopologyReport } from '../health-types.js'
import type { ConnectionSupervisor } from '../supervisor/supervisor.js'
import type { SentinelWatcher } from '../driver/sentinel-watcher.js'
import { computeFindings, type FindingThresholds } from './findings.js'
import { mergeServerInfo, parseInfo, toServerInfo } from './parse-info.js'

export interface HealthReporterOptions {
  readonly driver: DriverPort | null
  readonly supervisor: ConnectionSupervisor
  readonly topologyKind: TopologyReport['kind']
  readonly sentinel: SentinelWatcher | null
  readonly sentinelMasterName: string | null
  readonly thresholds: FindingThresholds
  readonly probeTimeoutMs: number
}

export class HealthReporter {
  readonly #options: HealthReporterOptions
  #previousEvictions: { at: number; evicted: number } | null = null

  constructor(options: HealthReporterOptions) {
    this.#options = options
  }

  async report(): Promise<HealthReport> {
    const { driver, supervisor } = this.#options
    let server: ServerInfo | null = null
    let cluster: TopologyReport['cluster']
    if (driver !== null && driver.isReady) {
      try {
        server = await this.#serverInfo(driver)
        if (this.#options.topologyKind === 'cluster') cluster = await this.#clusterInfo(driver)
      } catch {
        server = null
      }
    }
    const topology: TopologyReport = {
      kind: this.#options.topologyKind,
      endpoint: driver?.endpoint ?? null,
      ...(this.#options.sentinel
        ? {
            sentinel: {
              masterName: this.#options.sentinelMasterName ?? '',
              master: this.#options.sentinel.master,
              sentinels: this.#options.sentinel.sentinelCount,
              failovers: this.#options.sentinel.failovers,
            },
          }
        : {}),
      ...(cluster ? { cluster } : {}),
    }
    const latency = supervisor.latency()
    const state = supervisor.state
    const backend = supervisor.backend
    return {
      at: Date.now(),
      state,
      backend,
      driver: driver?.name ?? 'memory',
      topology,
      latency,
      server,
      findings: computeFindings({
        state,
        backend,
        topology,
        latency,
        server,
        evictionsPerMinute: this.#evictionsPerMinute(server),
        lastError: driver?.lastError?.message ?? null,
        thresholds: this.#options.thresholds,
      }),
      history: supervisor.history(),
    }
  }

  async #serverInfo(driver: DriverPort): Promise<ServerInfo | null> {
    const masters = await withTimeout(driver.masters(), this.#options.probeTimeoutMs, 'list masters')
    const infos = await Promise.all(
      masters.map(async (node) => {
        const text = await withTimeout(
          node.command(['INFO']),
          this.#options.probeTimeoutMs,
          `INFO on ${node.address}`,
        )
        return toServerInfo(parseInfo(asText(text)))
      }),
    )
    return mergeServerInfo(infos)
  }

  async #clusterInfo(driver: DriverPort): Promise<NonNullable<TopologyReport['cluster']>> {
    const masters = await driver.masters()
    const first = masters[0]
    if (first === undefined) return { masters: 0, replicas: 0, slotsCovered: 0, state: 'unknown' }
    const info = parseInfo(
      asText(
        await withTimeout(first.command(['CLUSTER', 'INFO']), this.#options.probeTimeoutMs, 'CLUSTER INFO'),
      ),
    )
    const nodes = asText(
      await withTimeout(first.command(['CLUSTER', 'NODES']), this.#options.probeTimeoutMs, 'CLUSTER NODES'),
    )
    let masterCount = 0
    let replicaCount = 0
    for (const line of nodes.split('\n')) {
      const flags = line.split(' ')[2] ?? ''
      if (flags.includes('fail') && !flags.includes('fail?')) continue
      if (flags.includes('master')) masterCount++
      else if (flags.includes('slave')) replicaCount++
    }
    return {
      masters: masterCount,
      replicas: replicaCount,
      slotsCovered: Number(info.get('cluster_slots_ok') ?? 0) + Number(info.get('cluster_slots_pfail') ?? 0),
      state: info.get('cluster_state') ?? 'unknown',
    }
  }

  #evictionsPerMinute(server: ServerInfo | null): number | null {
    if (server === null) return null
    const now = Date.now()
    const previous = this.#previousEvictions
    this.#previousEvictions = { at: now, evicted: server.evictedKeys }
    if (previous === null || now - previous.at < 1000) return null
    return ((server.evictedKeys - previous.evicted) * 60_000) / (now - previous.at)
  }
}

function asText(reply: RedisReply): string {
  return typeof reply === 'string' ? reply : Buffer.isBuffer(reply) ? reply.toString() : ''
}
