import { invalidOption } from '../core/index.js'
import type { JobCounts, JobRecord, JobState } from '../queue/index.js'

/**
 * What the dashboard and the admin API use of a queue given to the server: its counts for the
 * Queues panel, its jobs for the job browser, and the operator actions. A `Queue` from
 * `createQueue` fits.
 */
export interface PanelQueue {
  readonly name: string
  counts(): Promise<JobCounts>
  list(state: JobState, options?: { start?: number; count?: number }): Promise<readonly JobRecord[]>
  getJob(id: string): Promise<JobRecord | undefined>
  retry(ids?: string | readonly string[]): Promise<number>
  promote(ids?: string | readonly string[]): Promise<number>
  remove(ids: string | readonly string[]): Promise<number>
  pause(): Promise<void>
  resume(): Promise<void>
}

/** Most queues `panels.queues` may name (each costs one `counts()` call per snapshot interval). */
export const MAX_PANEL_QUEUES = 50

/** The methods a queue given in `panels.queues` must have. */
const METHODS = ['counts', 'list', 'getJob', 'retry', 'promote', 'remove', 'pause', 'resume'] as const

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null
const got = (v: unknown): string => `got ${v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v}`

/**
 * Validates `panels.queues`; throws `VALKIT_INVALID_OPTION` naming the bad path
 * (`panels.queues[1]`). Two queues of one name are refused: the API would not know which one
 * an action is for.
 *
 * @example
 * ```ts
 * const queues = resolvePanelQueues([createQueue(valkit, 'emails')])
 * ```
 */
export function resolvePanelQueues(queues: unknown): readonly PanelQueue[] {
  if (queues === undefined) return []
  if (!Array.isArray(queues)) {
    throw invalidOption('panels.queues', got(queues), 'an array of queues (createQueue)')
  }
  if (queues.length > MAX_PANEL_QUEUES) {
    throw invalidOption(
      'panels.queues',
      `it names ${queues.length} queues (one counts() call each per snapshot)`,
      `at most ${MAX_PANEL_QUEUES}`,
    )
  }
  const names = new Set<string>()
  queues.forEach((q: unknown, i) => {
    const path = `panels.queues[${i}]`
    if (!isObject(q) || typeof q.name !== 'string' || q.name.length === 0) {
      throw invalidOption(
        path,
        isObject(q) ? 'it has no name' : got(q),
        'a queue from createQueue(valkit, name)',
      )
    }
    const missing = METHODS.filter((m) => typeof q[m] !== 'function')
    if (missing.length > 0) {
      throw invalidOption(path, `it has no ${missing.join(', ')}()`, 'a queue from createQueue(valkit, name)')
    }
    if (names.has(q.name)) {
      throw invalidOption(
        path,
        `a second queue named ${JSON.stringify(q.name)}`,
        'one queue per name (actions find the queue by its name)',
      )
    }
    names.add(q.name)
  })
  return queues as PanelQueue[]
}

/** What the server last read of one queue's counts. */
export interface QueueReading {
  /** The counts read; the last good ones while a read fails; `null` before the first good read. */
  readonly counts: JobCounts | null
  /** Epoch ms at which `counts` were asked for; `null` before the first good read. */
  readonly at: number | null
  /** Why the last read failed (Redis unreachable...); absent when it succeeded. */
  readonly error?: string
}

interface Entry {
  readonly queue: PanelQueue
  /** When the current (or last) read started; 0: read at the next chance. */
  startedAt: number
  /** The current (or last) read; it never rejects. */
  pending: Promise<void>
  inFlight: boolean
  reading: QueueReading
}

function withDeadline<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms)
  })
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer))
}

/**
 * The queues given to the server, and their counts read at most once per snapshot interval
 * (whatever the number of dashboards, API calls and extra snapshots): a reading younger than
 * nine tenths of the interval is served again, a read in flight is shared. An operator action
 * marks its queue for a fresh read, so the next snapshot shows what it changed.
 *
 * @example
 * ```ts
 * const sources = new QueueSources([queue], 1000)
 * const readings = await sources.read(3000)
 * console.log(readings.get('emails')?.counts?.dead)
 * ```
 */
export class QueueSources {
  readonly #entries = new Map<string, Entry>()
  readonly #freshMs: number

  /** `intervalMs`: the snapshot interval. */
  constructor(queues: readonly PanelQueue[], intervalMs: number) {
    this.#freshMs = intervalMs * 0.9
    for (const queue of queues) {
      this.#entries.set(queue.name, {
        queue,
        startedAt: 0,
        pending: Promise.resolve(),
        inFlight: false,
        reading: { counts: null, at: null },
      })
    }
  }

  /** Names of the queues given, in the order given. */
  get names(): readonly string[] {
    return [...this.#entries.keys()]
  }

  /** The queue of that name, if it was given. */
  get(name: string): PanelQueue | undefined {
    return this.#entries.get(name)?.queue
  }

  /** The next read of this queue's counts asks the queue again (after an action changed them). */
  invalidate(name: string): void {
    const entry = this.#entries.get(name)
    if (entry) entry.startedAt = 0
  }

  /**
   * Each queue's counts: read now unless a reading is fresh enough or in flight. Never rejects;
   * a read that fails or takes longer than `deadlineMs` keeps the previous counts with `error`.
   */
  async read(deadlineMs: number): Promise<ReadonlyMap<string, QueueReading>> {
    const now = Date.now()
    const waits: Promise<void>[] = []
    for (const entry of this.#entries.values()) {
      // a read in flight is shared, not doubled (a queue whose Redis hangs)
      if (!entry.inFlight && now - entry.startedAt >= this.#freshMs) this.#start(entry, now)
      waits.push(withDeadline(entry.pending, deadlineMs).catch((err: unknown) => this.#failed(entry, err)))
    }
    await Promise.all(waits)
    return new Map([...this.#entries].map(([name, entry]) => [name, entry.reading]))
  }

  #start(entry: Entry, now: number): void {
    entry.startedAt = now
    entry.inFlight = true
    entry.pending = Promise.resolve()
      .then(() => entry.queue.counts())
      .then(
        (counts) => {
          entry.reading = { counts, at: now }
        },
        (err: unknown) => this.#failed(entry, err),
      )
      .finally(() => {
        entry.inFlight = false
      })
  }

  #failed(entry: Entry, err: unknown): void {
    const message = err instanceof Error ? err.message : String(err)
    entry.reading = { counts: entry.reading.counts, at: entry.reading.at, error: message }
  }
}
