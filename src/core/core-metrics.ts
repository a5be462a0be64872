/** The core's metrics: command counters, supervisor state and PING latency, read at scrape time. */
import type { ValkitConnection } from './connection/connection.js'
import type { ConnectionSupervisor } from './supervisor/supervisor.js'
import type { MetricsRegistry } from './telemetry/metrics-registry.js'

const STATES = ['ready', 'degraded', 'recovering'] as const

export function registerCoreMetrics(
  registry: MetricsRegistry,
  parts: { readonly connection: ValkitConnection; readonly supervisor: ConnectionSupervisor },
): void {
  const { connection, supervisor } = parts
  registry.counter({
    name: 'commands_total',
    help: 'Commands sent through the valkit connection.',
    read: () => connection.stats.commands,
  })
  registry.counter({
    name: 'command_failures_total',
    help: 'Commands that failed (any reason).',
    read: () => connection.stats.failures,
  })
  registry.counter({
    name: 'command_timeouts_total',
    help: 'Commands that hit their deadline.',
    read: () => connection.stats.timeouts,
  })
  registry.counter({
    name: 'command_connection_stalls_total',
    help: 'Times the command connection was replaced because a command on it passed its deadline.',
    read: () => connection.stats.stalls,
  })
  registry.counter({
    name: 'command_retries_total',
    help: 'Retries of idempotent commands.',
    read: () => connection.stats.retries,
  })
  registry.counter({
    name: 'commands_rejected_offline_total',
    help: 'Commands refused at once because the server was not connected.',
    read: () => connection.stats.rejectedOffline,
  })
  registry.gauge({
    name: 'connection_state',
    help: 'Supervisor state: 1 for the current state, 0 for the others.',
    labelNames: ['state'],
    collect: (g) => {
      for (const s of STATES) g.labels({ state: s }).set(supervisor.state === s ? 1 : 0)
    },
  })
  registry.gauge({
    name: 'backend_redis',
    help: '1 while capabilities use Redis/Valkey, 0 while they use the memory backend.',
    collect: () => (supervisor.backend === 'redis' ? 1 : 0),
  })
  registry.counter({
    name: 'state_transitions_total',
    help: 'Supervisor state changes.',
    read: () => supervisor.counters.transitions,
  })
  registry.counter({
    name: 'ping_failures_total',
    help: 'Health PINGs that failed or timed out.',
    read: () => supervisor.counters.pingFailures,
  })
  registry.gauge({
    name: 'ping_latency_p99_seconds',
    help: 'p99 of recent health PING round trips.',
    collect: () => (supervisor.latency().p99Ms ?? 0) / 1000,
  })
  registry.gauge({
    name: 'ping_latency_p50_seconds',
    help: 'p50 of recent health PING round trips.',
    collect: () => (supervisor.latency().p50Ms ?? 0) / 1000,
  })
}
