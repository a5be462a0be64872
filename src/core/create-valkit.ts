/**
 * `createValkit` / `connect`: one connection, one supervisor, one metrics registry, one key
 * space, shared by every capability.
 */
import type { Connection, Supervisor, ValkitCore } from './api-types.js'
import { resolveConfig } from './config/resolve-config.js'
import type { ResolvedValkitConfig } from './config/resolved-config.js'
import type { ValkitOptions } from './config/valkit-options.js'
import { ValkitConnection } from './connection/connection.js'
import { createDriver } from './driver/create-driver.js'
import type { DriverPort } from './driver/port.js'
import { ValkitError } from './errors.js'
import { HealthReporter } from './health/health-reporter.js'
import type { HealthReport, LatencySummary, SupervisorState } from './health-types.js'
import { createKeySpace, type KeySpace } from './keys/key-space.js'
import { ConnectionSupervisor } from './supervisor/supervisor.js'
import { createMetricsRegistry, type MetricsRegistry } from './telemetry/metrics-registry.js'
import { registerCoreMetrics } from './core-metrics.js'
import { HealthMonitor } from './health/health-monitor.js'
import { createJsonLogger, silentLogger, type Logger } from './telemetry/logger.js'
import { redactingLogger } from './telemetry/redacting-logger.js'

/** One valkit instance. Capabilities are created on it; `close()` releases everything. */
export interface Valkit extends ValkitCore {
  /** The validated configuration. `describe()` and `toJSON()` are redacted. */
  readonly config: ResolvedValkitConfig
  readonly connection: Connection
  readonly supervisor: Supervisor & { onRecover(hook: () => Promise<void>): () => void }
  /** Every metric of this instance; `toPrometheus()` for `/metrics`. */
  readonly metrics: MetricsRegistry
  /** Builds keys `{prefix}:v{n}:{capability}:{tag}:{rest}`. */
  readonly keys: KeySpace
  /** The driver behind the connection (for blocking commands: `duplicate()`; for SCAN: `masters()`). */
  readonly driver: DriverPort
  /** valkit's logger; every line passes through secret redaction. */
  readonly logger: Logger
  health(): Promise<HealthReport>
  /** The core's counters as plain data: the same numbers `/metrics` shows. */
  stats(): ValkitStats
  close(): Promise<void>
}

/** What {@link Valkit.stats} returns. */
export interface ValkitStats {
  readonly state: SupervisorState
  readonly backend: 'redis' | 'memory'
  readonly commands: number
  readonly failures: number
  readonly timeouts: number
  readonly retries: number
  readonly rejectedOffline: number
  readonly queuedOffline: number
  /** Times the command connection was replaced because a command on it passed its deadline. */
  readonly stalls: number
  readonly stateTransitions: number
  readonly pingFailures: number
  readonly latency: LatencySummary
}

/**
 * Creates a valkit instance and starts connecting in the background. It never throws because
 * the server is away: until it answers, the supervisor reports `degraded` and capabilities use
 * their fallback. Invalid options throw `VALKIT_INVALID_OPTION` at once.
 *
 * @example
 * ```ts
 * import { createValkit } from 'valkit'
 * const valkit = createValkit({ url: process.env.REDIS_URL })
 * valkit.supervisor.onChange((c) => console.log(`${c.from} -> ${c.to}: ${c.reason}`))
 * await valkit.connection.command(['SET', 'greeting', 'hello'])
 * ```
 */
export function createValkit(options: ValkitOptions = {}): Valkit {
  const config = resolveConfig(options)
  return assemble(config)
}

/**
 * Like {@link createValkit}, but waits for the first connection and rejects with a classified
 * error if it fails (`VALKIT_TLS`, `VALKIT_AUTH`, `VALKIT_UNAVAILABLE`), closing the instance.
 *
 * @example
 * ```ts
 * const valkit = await connect({ url: 'rediss://app:secret@cache.internal:6380', tls: { ca: caPem } })
 * ```
 */
export async function connect(options: ValkitOptions = {}): Promise<Valkit> {
  const valkit = createValkit(options)
  if (valkit.config.topology.kind === 'memory') return valkit
  try {
    await valkit.driver.connect()
    await valkit.supervisor.waitFor('ready', valkit.config.connectTimeoutMs + 2000)
    return valkit
  } catch (err) {
    await valkit.close()
    throw err instanceof ValkitError ? err : (valkit.driver.lastError ?? err)
  }
}

function assemble(config: ResolvedValkitConfig): Valkit {
  const { driver, sentinel } = createDriver(config)
  const memoryOnly = config.topology.kind === 'memory'
  const connection = new ValkitConnection(driver, {
    commandTimeoutMs: config.commandTimeoutMs,
    offlineQueue: config.offlineQueue,
    retry: config.retry,
    durableWrites: config.durableWrites,
    // A reset with the server still there reconnects within a few backoff steps; a server
    // that is gone must not hold callers for their whole timeout.
    reconnectWaitMs: Math.max(250, config.reconnect.initialDelayMs * 4),
  })
  const supervisor = new ConnectionSupervisor(memoryOnly ? null : driver, {
    intervalMs: config.health.intervalMs,
    pingTimeoutMs: config.health.pingTimeoutMs,
    failuresToDegrade: config.health.failuresToDegrade,
    memoryOnly,
  })
  const baseLogger: Logger =
    config.logger === false
      ? silentLogger
      : (config.logger ?? createJsonLogger(process.env.VALKIT_LOG_LEVEL ? {} : { level: 'warn' }))
  const logger = redactingLogger(baseLogger, () => config.secrets)
  supervisor.onChange((change) => {
    const fields = { from: change.from, to: change.to, reason: change.reason, endpoint: driver.endpoint }
    if (change.to === 'degraded') logger.warn(`valkit degraded: ${change.reason}`, fields)
    else logger.info(`valkit ${change.to}`, fields)
  })
  const reporter = new HealthReporter({
    driver: memoryOnly ? null : driver,
    supervisor,
    topologyKind: config.topology.kind,
    sentinel,
    sentinelMasterName: config.topology.kind === 'sentinel' ? config.topology.masterName : null,
    thresholds: config.health,
    probeTimeoutMs: Math.max(config.commandTimeoutMs, 1000),
  })
  const metrics = createMetricsRegistry()
  registerCoreMetrics(metrics, { connection, supervisor })
  const monitor = new HealthMonitor({ report: () => reporter.report(), logger, metrics, intervalMs: 10_000 })
  const keys = createKeySpace({ prefix: config.keyPrefix })
  if (!memoryOnly) {
    // Connect in the background; the supervisor reports progress, errors surface in health().
    driver.connect().catch(() => {})
    monitor.start()
  }
  let closing: Promise<void> | null = null
  return {
    config,
    connection,
    supervisor,
    metrics,
    keys,
    driver,
    logger,
    health: () => reporter.report(),
    stats: () => ({
      state: supervisor.state,
      backend: supervisor.backend,
      ...connection.stats,
      stateTransitions: supervisor.counters.transitions,
      pingFailures: supervisor.counters.pingFailures,
      latency: supervisor.latency(),
    }),
    close: () => {
      closing ??= (async () => {
        monitor.close()
        supervisor.close()
        connection.close()
        await sentinel?.close()
        await driver.close()
      })()
      return closing
    },
  }
}
