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
import { CoordSectionBuilder, type CoordSection } from './coord-section.js'
import { PanelSources, resolvePanelsOptions, type DashboardPanelsOptions } from './panel-sources.js'
import { QueueSectionBuilder, type QueuesSection } from './queue-section.js'
import { QueueSources } from './queue-sources.js'
import { RateLimitSectionBuilder, type RateLimitSection } from './ratelimit-section.js'
import { SessionSectionBuilder, type SessionsSection } from './session-section.js'

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
  /** The rate limiters and LLM budgets of this process (`createRateLimiter`, `createLlmBudget`). */
  readonly ratelimit: RateLimitSection
  /** This process's locks, waiters, leaders and deadlocks (`createCoord`). */
  readonly coord: CoordSection
  /** The session stores of this process (`createSessionStore`). */
  readonly sessions: SessionsSection
  /** The queues given to the server (`panels.queues`) and those this process's workers run (`createWorker`). */
  readonly queues: QueuesSection
}

/** One reading of the metrics registry. */
interface RegistryReading {
  readonly data: readonly MetricSnapshot[]
  readonly prefix: string
  readonly at: number
}

/** The sections read from the metrics registry, all at one moment. */
interface RegistrySections {
  readonly caches: CachesSection
  readonly ratelimit: RateLimitSection
  readonly coord: CoordSection
  readonly sessions: SessionsSection
}

function emptySections(at: number): RegistrySections {
  return {
    caches: { at, interval: null, namespaces: [], extras: [] },
    ratelimit: { at, interval: null, limiters: [], budgets: [], extras: [] },
    coord: {
      at,
      interval: null,
      present: false,
      held: { total: 0, byKind: {} },
      waiting: { total: 0, byKind: {} },
      leaders: [],
      acquires: {},
      waits: [],
      releases: { total: 0, perSecond: null },
      leasesLost: { total: 0, perSecond: null },
      deadlocksBroken: null,
      locksRecovered: null,
      fencedWrites: {},
      cas: {},
      idempotent: {},
      transactions: {},
      resources: null,
      stuckLocks: null,
      extras: [],
    },
    sessions: { at, interval: null, minute: null, stores: [], extras: [] },
  }
}

const emptyQueues = (at: number): QueuesSection => ({ at, interval: null, queues: [], extras: [] })

/**
 * What the hub reads from a valkit instance: the core, and the metrics registry's plain data when
 * there is one (without it the `caches`, `ratelimit`, `coord` and `sessions` sections stay empty).
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
 * for the `caches` section (rates between consecutive snapshots), and the counts of the queues
 * given in `panels.queues` (at most once per interval, see {@link QueueSources}).
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
  readonly #ratelimit: RateLimitSectionBuilder
  readonly #coord: CoordSectionBuilder
  readonly #sessions: SessionSectionBuilder
  readonly #queues: QueueSectionBuilder
  readonly #panels: PanelSources
  readonly #queueSources: QueueSources
  readonly #listeners = new Set<(message: HubMessage) => void>()
  #timer: NodeJS.Timeout | undefined
  #unsubscribe: (() => void) | undefined
  #inFlight = false
  #last: DashboardSnapshot | undefined

  /**
   * `panels`: objects the registry does not hold (validated here, `VALKIT_INVALID_OPTION`). The
   * hub listens for the coord's stuck-lock reports from now until `close()`.
   */
  constructor(valkit: HubValkit, intervalMs: number, panels?: DashboardPanelsOptions) {
    this.#valkit = valkit
    this.#intervalMs = intervalMs
    this.#caches = new CacheSection(intervalMs)
    this.#ratelimit = new RateLimitSectionBuilder(intervalMs)
    this.#coord = new CoordSectionBuilder(intervalMs)
    this.#sessions = new SessionSectionBuilder(intervalMs)
    this.#queues = new QueueSectionBuilder(intervalMs)
    const resolved = resolvePanelsOptions(panels)
    this.#panels = new PanelSources(resolved)
    this.#queueSources = new QueueSources(resolved.queues ?? [], intervalMs)
  }

  /** The queues given in `panels.queues`, for the admin API's job browser and actions. */
  get queueSources(): QueueSources {
    return this.#queueSources
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
    const reading = this.#readRegistry()
    const sections = this.#readSections(reading)
    const deadlineMs = this.#deadlineMs
    const live = this.#panels.coordLive(deadlineMs)
    const queues = this.#buildQueues(reading, deadlineMs)
    const withLive = async (): Promise<RegistrySections & { queues: QueuesSection }> => {
      const [{ resources, stuckLocks }, q] = await Promise.all([live, queues])
      return { ...sections, coord: { ...sections.coord, resources, stuckLocks }, queues: q }
    }
    try {
      const [report, parts] = await Promise.all([withDeadline(this.#valkit.health(), deadlineMs), withLive()])
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
        ...parts,
      }
      this.#last = snap
      return snap
    } catch (err) {
      const parts = await withLive()
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
        ...parts,
      }
      this.#last = snap
      return snap
    }
  }

  get #deadlineMs(): number {
    return Math.max(3000, this.#intervalMs * 3)
  }

  /**
   * The `queues` section built now (the counts of a queue given are read at most once per
   * interval, or again after an action on it): what `GET /api/queues` answers.
   */
  async queues(): Promise<QueuesSection> {
    return this.#buildQueues(this.#readRegistry(), this.#deadlineMs)
  }

  async #buildQueues(reading: RegistryReading | null, deadlineMs: number): Promise<QueuesSection> {
    const counts = await this.#queueSources.read(deadlineMs)
    const last = this.#last?.queues
    // without a registry reading, the rates would count every series from zero
    if (reading === null) return last ?? emptyQueues(Date.now())
    try {
      return this.#queues.build(reading.data, reading.prefix, reading.at, counts)
    } catch {
      return last ?? emptyQueues(reading.at)
    }
  }

  /** Reads the registry; `null` when it cannot be read. */
  #readRegistry(): RegistryReading | null {
    const metrics = this.#valkit.metrics
    const at = Date.now()
    try {
      return { data: metrics?.snapshot?.() ?? [], prefix: metrics?.prefix ?? 'valkit_', at }
    } catch {
      return null
    }
  }

  #readSections(reading: RegistryReading | null): RegistrySections {
    if (reading === null) {
      // a registry that cannot be read must not stop the snapshot
      const last = this.#last
      return last
        ? { caches: last.caches, ratelimit: last.ratelimit, coord: last.coord, sessions: last.sessions }
        : emptySections(Date.now())
    }
    const { data, prefix, at } = reading
    const empty = emptySections(at)
    const last = this.#last
    // each section on its own: one that fails keeps its last value, the others go on
    const safely = <K extends keyof RegistrySections>(key: K, build: () => RegistrySections[K]) => {
      try {
        return build()
      } catch {
        return last?.[key] ?? empty[key]
      }
    }
    return {
      caches: safely('caches', () => this.#caches.build(data, prefix, at)),
      ratelimit: safely('ratelimit', () =>
        this.#ratelimit.build(data, prefix, at, this.#panels.topLimited()),
      ),
      coord: safely('coord', () => this.#coord.build(data, prefix, at)),
      sessions: safely('sessions', () => this.#sessions.build(data, prefix, at)),
    }
  }

  /** Stops the timer and drops every listener. */
  close(): void {
    this.#listeners.clear()
    this.#stop()
    this.#panels.close()
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
