import { invalidOption } from '../core/index.js'
import type { CoordLiveState, ResourcePanelState, StuckLockReport } from './coord-section.js'
import { resolvePanelQueues, type PanelQueue } from './queue-sources.js'
import type { LimitedKey, TopLimitedByLimiter } from './ratelimit-section.js'

/**
 * What the dashboard reads from a rate limiter it is given: its name and `stats().topLimited`.
 * A `RateLimiter` from `createRateLimiter` fits.
 */
export interface PanelRateLimiter {
  readonly name: string
  stats(): { readonly topLimited: readonly LimitedKey[] }
}

/**
 * What the dashboard reads from a coord it is given: `inspect(resource)` for the resources it
 * shows and `onStuckLock` reports. A `Coord` from `createCoord` fits.
 */
export interface PanelCoord {
  inspect(resource: string): Promise<Omit<ResourcePanelState, 'resource' | 'error'>>
  onStuckLock(
    listener: (lock: {
      readonly kind: string
      readonly resource: string
      readonly agent: string
      readonly heldMs: number
      readonly recovered: boolean
    }) => void,
  ): () => void
}

/**
 * Objects the dashboard cannot find in the metrics registry. Everything else the rate limiting,
 * coordination and sessions panels show comes from `valkit.metrics` without registration.
 *
 * @example
 * ```ts
 * const limiter = createRateLimiter(valkit, { name: 'api', rules })
 * const coord = createCoord(valkit)
 * const emails = createQueue(valkit, 'emails')
 * await createServer({
 *   valkit,
 *   panels: {
 *     rateLimiters: [limiter],
 *     coord: { coord, resources: ['nightly-report'] },
 *     queues: [emails],
 *   },
 * })
 * ```
 */
export interface DashboardPanelsOptions {
  /**
   * Limiters whose most refused keys (`stats().topLimited`) the Rate limiting panel lists. Top
   * keys are not metrics (unbounded, and keys may identify users), so they show only for the
   * limiters given here.
   * @defaultValue `[]`
   */
  readonly rateLimiters?: readonly PanelRateLimiter[]
  /**
   * A coord whose stuck-lock reports (`onStuckLock`) the Coordination panel lists, and the
   * resources whose holders and queue it reads with `coord.inspect()` at each snapshot (one round
   * trip per resource per snapshot, only while a dashboard is open; at most 50).
   * @defaultValue `undefined`
   */
  readonly coord?: {
    readonly coord: PanelCoord
    /** @defaultValue `[]` */
    readonly resources?: readonly string[]
  }
  /**
   * Queues (`createQueue`) whose counts per state and running totals the Queues panel shows
   * (one `counts()` call per queue per snapshot interval, only while a dashboard is open or the
   * API asks; at most 50), whose jobs it lists, and on which the admin API acts (retry, remove,
   * promote, pause, resume). A queue a worker of this process runs shows without it, with what
   * its workers measure (throughput, wait and processing times) but no job browser.
   * @defaultValue `[]`
   */
  readonly queues?: readonly PanelQueue[]
}

/** {@link DashboardPanelsOptions} after validation. */
export interface ResolvedPanelsOptions {
  readonly rateLimiters: readonly PanelRateLimiter[]
  readonly coord: { readonly coord: PanelCoord; readonly resources: readonly string[] } | null
  /** Present when `panels.queues` names at least one queue. */
  readonly queues?: readonly PanelQueue[]
}

/** Most resources `panels.coord.resources` may name. */
export const MAX_PANEL_RESOURCES = 50
/** Stuck-lock reports kept for the dashboard. */
const STUCK_KEPT = 20

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null
const got = (v: unknown): string => `got ${v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v}`

/**
 * Validates `panels`; throws `VALKIT_INVALID_OPTION` naming the bad path (`panels.rateLimiters[1]`).
 *
 * @example
 * ```ts
 * const panels = resolvePanelsOptions({ rateLimiters: [limiter] })
 * ```
 */
export function resolvePanelsOptions(panels: DashboardPanelsOptions | undefined): ResolvedPanelsOptions {
  if (panels === undefined) return { rateLimiters: [], coord: null }
  if (!isObject(panels)) throw invalidOption('panels', got(panels), 'an object')
  const queues = resolvePanelQueues(panels.queues)
  const withQueues = <T extends object>(resolved: T): T & { queues?: readonly PanelQueue[] } =>
    queues.length > 0 ? { ...resolved, queues } : resolved
  const limiters: unknown = panels.rateLimiters ?? []
  if (!Array.isArray(limiters)) {
    throw invalidOption('panels.rateLimiters', got(limiters), 'an array of rate limiters (createRateLimiter)')
  }
  limiters.forEach((l: unknown, i) => {
    if (!isObject(l) || typeof l.name !== 'string' || typeof l.stats !== 'function') {
      throw invalidOption(
        `panels.rateLimiters[${i}]`,
        isObject(l) ? 'it has no name or stats()' : got(l),
        'a rate limiter from createRateLimiter(valkit, …)',
      )
    }
  })
  const coordOption: unknown = panels.coord
  if (coordOption === undefined) {
    return withQueues({ rateLimiters: limiters as PanelRateLimiter[], coord: null })
  }
  if (!isObject(coordOption)) {
    throw invalidOption(
      'panels.coord',
      got(coordOption),
      '{ coord, resources? } with a coord from createCoord',
    )
  }
  const coord = coordOption.coord
  if (!isObject(coord) || typeof coord.inspect !== 'function' || typeof coord.onStuckLock !== 'function') {
    throw invalidOption(
      'panels.coord.coord',
      isObject(coord) ? 'it has no inspect() or onStuckLock()' : got(coord),
      'a coord from createCoord(valkit)',
    )
  }
  const resources: unknown = coordOption.resources ?? []
  if (!Array.isArray(resources)) {
    throw invalidOption('panels.coord.resources', got(resources), 'an array of resource names')
  }
  if (resources.length > MAX_PANEL_RESOURCES) {
    throw invalidOption(
      'panels.coord.resources',
      `it names ${resources.length} resources (one round trip each per snapshot)`,
      `at most ${MAX_PANEL_RESOURCES}`,
    )
  }
  resources.forEach((r: unknown, i) => {
    if (typeof r !== 'string' || r.length === 0) {
      throw invalidOption(
        `panels.coord.resources[${i}]`,
        `got ${JSON.stringify(r)}`,
        'a non-empty resource name',
      )
    }
  })
  return withQueues({
    rateLimiters: limiters as PanelRateLimiter[],
    coord: { coord: coord as unknown as PanelCoord, resources: [...new Set(resources as string[])] },
  })
}

function withDeadline<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms)
  })
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer))
}

/**
 * Reads the objects given in `panels` for each snapshot: the limiters' top keys, the coord's
 * resources, and the stuck-lock reports collected since the server started.
 *
 * @example
 * ```ts
 * const sources = new PanelSources(resolvePanelsOptions({ rateLimiters: [limiter] }))
 * const top = sources.topLimited()
 * sources.close()
 * ```
 */
export class PanelSources {
  readonly #options: ResolvedPanelsOptions
  readonly #stuck: StuckLockReport[] = []
  readonly #unsubscribe: (() => void) | undefined

  constructor(options: ResolvedPanelsOptions) {
    this.#options = options
    this.#unsubscribe = options.coord?.coord.onStuckLock((lock) => {
      this.#stuck.unshift({
        at: Date.now(),
        kind: lock.kind,
        resource: lock.resource,
        agent: lock.agent,
        heldMs: lock.heldMs,
        recovered: lock.recovered,
      })
      if (this.#stuck.length > STUCK_KEPT) this.#stuck.length = STUCK_KEPT
    })
  }

  /** The top limited keys of each limiter given, by name; a limiter whose stats() throws is left out. */
  topLimited(): TopLimitedByLimiter {
    const out = new Map<string, LimitedKey[][]>()
    for (const limiter of this.#options.rateLimiters) {
      try {
        const top = limiter.stats().topLimited.map(({ key, count }) => ({ key, count }))
        const lists = out.get(limiter.name)
        if (lists) lists.push(top)
        else out.set(limiter.name, [top])
      } catch {
        // a limiter that cannot report must not stop the snapshot
      }
    }
    return out
  }

  /** Stuck-lock reports, newest first; `null` without a coord. */
  stuckLocks(): readonly StuckLockReport[] | null {
    return this.#options.coord === null ? null : [...this.#stuck]
  }

  /** Reads each resource with `coord.inspect()`, in parallel; `null` when none were given. */
  async resources(deadlineMs: number): Promise<ResourcePanelState[] | null> {
    const coord = this.#options.coord
    if (coord === null || coord.resources.length === 0) return null
    return Promise.all(
      coord.resources.map(async (resource): Promise<ResourcePanelState> => {
        try {
          const state = await withDeadline(coord.coord.inspect(resource), deadlineMs)
          return {
            resource,
            holders: state.holders.map((h) => ({
              owner: h.owner,
              token: h.token,
              expiresInMs: h.expiresInMs,
            })),
            queued: state.queued,
            lastToken: state.lastToken,
          }
        } catch (err) {
          return {
            resource,
            holders: [],
            queued: 0,
            lastToken: 0,
            error: err instanceof Error ? err.message : String(err),
          }
        }
      }),
    )
  }

  /** Both live parts of the coord section. */
  async coordLive(deadlineMs: number): Promise<CoordLiveState> {
    return { resources: await this.resources(deadlineMs), stuckLocks: this.stuckLocks() }
  }

  /** Stops listening for stuck-lock reports. */
  close(): void {
    this.#unsubscribe?.()
  }
}
