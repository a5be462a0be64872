import type { ValkitCore } from '../core/api-types.js'
import type { MetricSnapshot } from '../core/index.js'
import type {
  Finding,
  LatencySummary,
  ServerInfo,
  StateChange,
  SupervisorState,
  TopologyReport,
} from '../core/health-types.js'
import { CacheSection, type CachesSection } from './cache-section.js'

/** The live view the dashboard draws, sent as a `snapshot` event on `/api/events`. */
export interface DashboardSnapshot {
  /** Epoch milliseconds. */
  readonly at: number
  readonly state: SupervisorState
  readonly backend: 'redis' | 'memory'
  readonly driver: string
  readonly topology: TopologyReport | null
  readonly latency: LatencySummary
  /** Null on the memory backend or while the server cannot be asked. */
  readonly server: Pick<
    ServerInfo,
    | 'engine'
    | 'version'
    | 'mode'
    | 'role'
    | 'uptimeSeconds'
    | 'connectedClients'
    | 'totalKeys'
    | 'maxMemoryPolicy'
  > | null
  readonly opsPerSecond: number | null
  readonly memory: { readonly usedBytes: number; readonly maxBytes: number } | null
  readonly hitRate: number | null
  readonly findings: readonly Finding[]
  readonly history: readonly StateChange[]
  /** The caches of this process (`createCache` on this valkit), read from its metrics registry. */
  readonly caches: CachesSection
}

/**
 * What the hub reads from a valkit instance: the core, and the metrics registry's plain data when
 * there is one (without it the `caches` section stays empty).
 */
export type HubValkit = ValkitCore & {
  readonly metrics?: { snapshot?(): readonly MetricSnapshot[]; readonly prefix?: string }
}

function withDeadline<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms)
  })
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer))
}

/** One message to stream: a periodic snapshot or an immediate state change. */
export type HubMessage =
  | { readonly event: 'snapshot'; readonly data: DashboardSnapshot }
  | { readonly event: 'state'; readonly data: StateChange & { readonly backend: 'redis' | 'memory' } }

/**
 * Builds snapshots from `valkit.health()` once per interval while at least one listener is
 * subscribed (one `health()` call per interval whatever the number of dashboards), and relays
 * supervisor state changes at once. A slow or failing `health()` never blocks the stream: the
 * snapshot then carries what the supervisor knows. Each snapshot also reads the metrics registry
 * for the `caches` section (rates between consecutive snapshots).
 *
 * @example
 * ```ts
 * const hub = new SnapshotHub(valkit, 1000)
 * const stop = hub.subscribe((message) => {
 *   if (message.event === 'snapshot') console.log(message.data.caches.namespaces)
 * })
 * ```
 */
export class SnapshotHub {
  readonly #valkit: HubValkit
  readonly #intervalMs: number
  readonly #caches: CacheSection
  readonly #listeners = new Set<(message: HubMessage) => void>()
  #timer: NodeJS.Timeout | undefined
  #unsubscribe: (() => void) | undefined
  #inFlight = false
  #last: DashboardSnapshot | undefined

  constructor(valkit: HubValkit, intervalMs: number) {
    this.#valkit = valkit
    this.#intervalMs = intervalMs
    this.#caches = new CacheSection(intervalMs)
  }

  /** The last snapshot built, if any. */
  get last(): DashboardSnapshot | undefined {
    return this.#last
  }

  /** Adds a listener; the first one starts the timer. Returns a function that removes it. */
  subscribe(listener: (message: HubMessage) => void): () => void {
    this.#listeners.add(listener)
    if (this.#listeners.size === 1) this.#start()
    return () => {
      this.#listeners.delete(listener)
      if (this.#listeners.size === 0) this.#stop()
    }
  }

  /** Builds a snapshot now (used for the first event of a new stream). */
  async snapshot(): Promise<DashboardSnapshot> {
    const supervisor = this.#valkit.supervisor
    // Read the registry first, synchronously: the rates then cover the time between two calls,
    // not the time INFO took to answer.
    const caches = this.#readCaches()
    try {
      const report = await withDeadline(this.#valkit.health(), Math.max(3000, this.#intervalMs * 3))
      const info = report.server
      const snap: DashboardSnapshot = {
        at: report.at,
        // The supervisor may have moved while INFO was running: its state is the fresher one.
        state: supervisor.state,
        backend: supervisor.backend,
        driver: report.driver,
        topology: report.topology,
        latency: report.latency,
        server: info
          ? {
              engine: info.engine,
              version: info.version,
              mode: info.mode,
              role: info.role,
              uptimeSeconds: info.uptimeSeconds,
              connectedClients: info.connectedClients,
              totalKeys: info.totalKeys,
              maxMemoryPolicy: info.maxMemoryPolicy,
            }
          : null,
        opsPerSecond: info ? info.opsPerSecond : null,
        memory: info ? { usedBytes: info.usedMemoryBytes, maxBytes: info.maxMemoryBytes } : null,
        hitRate: info ? info.hitRate : null,
        findings: report.findings,
        history: supervisor.history(),
        caches,
      }
      this.#last = snap
      return snap
    } catch (err) {
      const snap: DashboardSnapshot = {
        at: Date.now(),
        state: supervisor.state,
        backend: supervisor.backend,
        driver: this.#valkit.connection.driverName,
        topology: this.#last?.topology ?? null,
        latency: supervisor.latency(),
        server: this.#last?.server ?? null,
        opsPerSecond: null,
        memory: null,
        hitRate: null,
        findings: [
          {
            id: 'health.unavailable',
            severity: 'warning',
            message: `The health report could not be built: ${err instanceof Error ? err.message : String(err)}`,
          },
        ],
        history: supervisor.history(),
        caches,
      }
      this.#last = snap
      return snap
    }
  }

  #readCaches(): CachesSection {
    const metrics = this.#valkit.metrics
    const at = Date.now()
    try {
      const data = metrics?.snapshot?.() ?? []
      return this.#caches.build(data, metrics?.prefix ?? 'valkit_', at)
    } catch {
      // a registry that cannot be read must not stop the snapshot
      return this.#last?.caches ?? { at, interval: null, namespaces: [], extras: [] }
    }
  }

  /** Stops the timer and drops every listener. */
  close(): void {
    this.#listeners.clear()
    this.#stop()
  }

  #start(): void {
    this.#unsubscribe = this.#valkit.supervisor.onChange((change) => {
      this.#emit({ event: 'state', data: { ...change, backend: this.#valkit.supervisor.backend } })
    })
    this.#timer = setInterval(() => this.#tick(), this.#intervalMs)
    this.#timer.unref()
  }

  #stop(): void {
    if (this.#timer) clearInterval(this.#timer)
    this.#timer = undefined
    this.#unsubscribe?.()
    this.#unsubscribe = undefined
  }

  #tick(): void {
    if (this.#inFlight) return
    this.#inFlight = true
    this.snapshot()
      .then((data) => this.#emit({ event: 'snapshot', data }))
      .finally(() => {
        this.#inFlight = false
      })
      .catch(() => undefined)
  }

  #emit(message: HubMessage): void {
    for (const listener of this.#listeners) {
      try {
        listener(message)
      } catch {
        // a broken stream must not stop the others
      }
    }
  }
}
