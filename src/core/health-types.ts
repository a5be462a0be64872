/**
 * Public shapes of the supervisor state and the health report. Shared by `core/supervisor`,
 * `core/health`, `server/` (the dashboard) and `cli/` (`valkit doctor`).
 */

/**
 * - `ready`: the server answers within thresholds; capabilities use Redis/Valkey.
 * - `degraded`: the server is unreachable (or not configured: memory backend); capabilities use their fallback.
 * - `recovering`: the server answers again; valkit is re-establishing (scripts, subscriptions) before `ready`.
 */
export type SupervisorState = 'ready' | 'degraded' | 'recovering'

export interface StateChange {
  readonly from: SupervisorState
  readonly to: SupervisorState
  /** Epoch milliseconds. */
  readonly at: number
  /** Why: `ping timeout`, `connection closed`, `ping ok`, `memory backend (no Redis configured)`... */
  readonly reason: string
}

export type Severity = 'info' | 'warning' | 'critical'

export interface Finding {
  /** Stable identifier, e.g. `memory.high`, `policy.noeviction`, `latency.high`. */
  readonly id: string
  readonly severity: Severity
  readonly message: string
  /** What to do about it, when there is something to do. */
  readonly recommendation?: string
}

export interface LatencySummary {
  readonly samples: number
  readonly lastMs: number | null
  readonly p50Ms: number | null
  readonly p90Ms: number | null
  readonly p99Ms: number | null
  readonly maxMs: number | null
}

export interface ServerInfo {
  readonly engine: 'redis' | 'valkey' | 'unknown'
  readonly version: string
  readonly mode: 'standalone' | 'sentinel' | 'cluster'
  readonly role: 'master' | 'replica' | 'unknown'
  readonly uptimeSeconds: number
  readonly connectedReplicas: number
  /** Bytes behind the master, for a replica; the largest lag among replicas, for a master. Null when unknown. */
  readonly replicationLagBytes: number | null
  readonly usedMemoryBytes: number
  /** 0 means no limit. */
  readonly maxMemoryBytes: number
  readonly maxMemoryPolicy: string
  readonly fragmentationRatio: number
  readonly evictedKeys: number
  readonly expiredKeys: number
  readonly keyspaceHits: number
  readonly keyspaceMisses: number
  /** hits / (hits + misses), null before any read. */
  readonly hitRate: number | null
  readonly connectedClients: number
  readonly blockedClients: number
  readonly opsPerSecond: number
  readonly totalKeys: number
}

export interface TopologyReport {
  readonly kind: 'memory' | 'standalone' | 'sentinel' | 'cluster'
  /** `host:port` of the node commands go to (the current master for Sentinel). Never holds credentials. */
  readonly endpoint: string | null
  readonly sentinel?: {
    readonly masterName: string
    readonly master: string | null
    readonly sentinels: number
    readonly failovers: number
  }
  readonly cluster?: {
    readonly masters: number
    readonly replicas: number
    /** Slots served, out of 16384. */
    readonly slotsCovered: number
    readonly state: string
  }
}

export interface HealthReport {
  /** Epoch milliseconds. */
  readonly at: number
  readonly state: SupervisorState
  /** `redis` when commands go to Redis/Valkey, `memory` when capabilities run on the in-process backend. */
  readonly backend: 'redis' | 'memory'
  readonly driver: string
  readonly topology: TopologyReport
  readonly latency: LatencySummary
  /** Null when the server could not be asked (degraded or memory backend). */
  readonly server: ServerInfo | null
  readonly findings: readonly Finding[]
  readonly history: readonly StateChange[]
}
