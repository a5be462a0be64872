import { randomUUID } from 'node:crypto'
import { invalidOption, isValkitError, ValkitError, type Valkit } from '../core/index.js'
import { openJournal, type Journal } from './journal.js'
import {
  encodeJobOptions,
  resolveJobOptions,
  resolvePlacement,
  type ResolvedQueueOptions,
} from './queue-options.js'
import type { ManageAction, NewJob, QueueStore } from './queue-store.js'
import { reportCounts } from './queue-metrics.js'
import { partitionOf, partitionOfNumbered, queueStores } from './queue-stores.js'
import type {
  AddResult,
  JobCounts,
  JobOptions,
  JobRecord,
  JobState,
  QueueEvent,
  ScheduleInfo,
  ScheduleOptions,
} from './queue-types.js'
import { Schedules } from './schedules.js'

/** A job to add in bulk. */
export interface BulkJob<Data = unknown> {
  readonly name: string
  readonly data?: Data
  readonly options?: JobOptions
}

/** A record of the journal: a job added while Redis/Valkey was unreachable. */
interface JournalRecord {
  readonly job: NewJob
  readonly partition: number
}

/** Adds waiting for the next script call of their partition. */
interface AddBatch {
  readonly jobs: NewJob[]
  readonly waiters: { resolve: (r: AddResult) => void; reject: (err: unknown) => void }[]
}

const CODE_STATE = { 1: 'waiting', 2: 'delayed' } as const
const DUPLICATE_STATE = ['waiting', 'delayed', 'active', 'completed', 'dead'] as const

/** Listeners of `events()`: options. */
export interface QueueEventsOptions {
  /** Replay from after this stream id (`'0'` from the oldest kept); default: only new events. */
  readonly from?: string
  /** Stops the iteration. */
  readonly signal?: AbortSignal
  /** @defaultValue 100 */
  readonly batch?: number
}

/**
 * A job queue: add jobs, look at them, act on them, follow their events. Workers
 * (`createWorker`) run them. Every state change is one Lua script on the queue's hash tag; the
 * in-process store runs the same semantics without Redis.
 */
export class Queue<Data = unknown> {
  readonly name: string
  readonly #valkit: Valkit
  readonly #options: ResolvedQueueOptions
  /** @internal */
  readonly stores: readonly QueueStore[]
  readonly #schedules: Schedules
  #journal: Promise<Journal> | undefined
  #replaying: Promise<void> | undefined
  #next = 0
  #closed = false
  #replayTimer: NodeJS.Timeout | undefined
  #defaultsReady: Promise<void> | undefined
  #defaultsPending = false
  readonly #batches = new Map<number, AddBatch>()
  readonly #unhooks: (() => void)[] = []

  /** @internal */
  constructor(valkit: Valkit, name: string, options: ResolvedQueueOptions, writeDefaults = true) {
    this.#valkit = valkit
    this.name = name
    this.#options = options
    this.stores = queueStores(valkit, name, options.partitions, options.eventsMaxLength, options.durable)
    this.#schedules = new Schedules(this.stores[0]!, name)
    if (writeDefaults) this.#writeDefaults()
    if (options.journal !== false) {
      const { path, maxBytes } = options.journal
      this.#journal = openJournal({ path, maxBytes })
      this.#journal.catch((err: unknown) =>
        valkit.logger.error('queue journal failed to open', { queue: name, err }),
      )
      this.#unhooks.push(valkit.supervisor.onRecover(() => this.replayJournal().catch(() => undefined)))
      this.#unhooks.push(
        valkit.supervisor.onChange((change) => {
          if (change.to === 'ready') this.#replaySoon(0)
        }),
      )
      // A journal left by an earlier run is replayed as soon as Redis answers.
      this.#replaySoon(0)
    }
  }

  /** The options workers of this queue start from. @internal */
  get options(): ResolvedQueueOptions {
    return this.#options
  }

  /**
   * Adds a job. Resolves when it is stored (in Redis, or in the local journal while Redis is
   * away and `journal` is configured): `{ id, outcome, state }`. A full queue refuses with
   * `VALKIT_QUEUE_FULL` (overflow `reject`), drops (`drop-lowest`) or waits (`backpressure`).
   *
   * @example
   * ```ts
   * const { id } = await queue.add('summarize', { conversationId: 42 }, { priority: 1, attempts: 5,
   *   backoff: { type: 'exponential', delay: '1s' } })
   * ```
   */
  async add(name: string, data?: Data, options?: JobOptions): Promise<AddResult> {
    this.#assertOpen()
    const { job, partition } = this.#prepare({ name, data, options }, 'job', Date.now())
    if (this.#defaultsReady !== undefined || this.#defaultsPending) await this.#defaultsStored()
    // Adds made in the same turn of the event loop (many producers at once) travel together in
    // one script call per partition; each caller still gets its own result or error.
    let batch = this.#batches.get(partition)
    if (batch === undefined || batch.jobs.length >= 1000) {
      batch = { jobs: [], waiters: [] }
      this.#batches.set(partition, batch)
      const flushing = batch
      setImmediate(() => this.#flush(partition, flushing))
    }
    batch.jobs.push(job)
    return new Promise<AddResult>((resolve, reject) => batch.waiters.push({ resolve, reject }))
  }

  #flush(partition: number, batch: AddBatch): void {
    if (this.#batches.get(partition) === batch) this.#batches.delete(partition)
    this.#store(partition, batch.jobs).then(
      (results) =>
        results.forEach((r, i) => {
          if (r instanceof ValkitError) batch.waiters[i]!.reject(r)
          else batch.waiters[i]!.resolve(r)
        }),
      (err: unknown) => {
        for (const w of batch.waiters) w.reject(err)
      },
    )
  }

  /** Adds many jobs in one call per partition (one script each). Results are in the order given. */
  async addBulk(jobs: readonly BulkJob<Data>[]): Promise<AddResult[]> {
    this.#assertOpen()
    const given: unknown = jobs
    if (!Array.isArray(given)) {
      throw new ValkitError(
        'VALKIT_INVALID_ARGUMENT',
        'addBulk(jobs) takes an array of { name, data, options }.',
      )
    }
    const now = Date.now()
    const byPartition = new Map<number, { job: NewJob; index: number }[]>()
    jobs.forEach((j, index) => {
      const { job, partition } = this.#prepare(j, jobs.length === 1 ? 'job' : `jobs[${index}]`, now)
      let list = byPartition.get(partition)
      if (list === undefined) byPartition.set(partition, (list = []))
      list.push({ job, index })
    })
    if (this.#defaultsReady !== undefined || this.#defaultsPending) await this.#defaultsStored()
    const results: (AddResult | ValkitError)[] = new Array<AddResult>(jobs.length)
    await Promise.all(
      [...byPartition].map(async ([partition, list]) => {
        const stored = await this.#store(
          partition,
          list.map((l) => l.job),
        )
        stored.forEach((r, i) => (results[list[i]!.index] = r))
      }),
    )
    const refused = results.find((r): r is ValkitError => r instanceof ValkitError)
    if (refused !== undefined) throw refused
    return results as AddResult[]
  }

  /** Validates one job and places it: its stored form and its partition. */
  #prepare(j: BulkJob<Data>, path: string, now: number): { job: NewJob; partition: number } {
    if (typeof j?.name !== 'string' || j.name.length === 0 || j.name.length > 256) {
      throw new ValkitError(
        'VALKIT_INVALID_ARGUMENT',
        `${path}.name must be a string of 1 to 256 characters.`,
      )
    }
    const own = this.#withDefaults(j.options)
    const placement = resolvePlacement(own, `${path}.options`, now)
    if (j.options !== undefined) resolveJobOptions(own, this.#options.defaults, `${path}.options`)
    let data: string
    try {
      data = JSON.stringify(j.data === undefined ? null : j.data)
    } catch (err) {
      throw new ValkitError(
        'VALKIT_INVALID_ARGUMENT',
        `${path}.data cannot be stored as JSON: ${(err as Error).message}`,
        {
          cause: err,
        },
      )
    }
    const job: NewJob = {
      id: placement.id,
      name: j.name,
      data,
      priority: placement.priority,
      delayMs: placement.delayMs,
      options: encodeJobOptions(j.options),
    }
    const partition =
      job.id === '' ? this.#next++ % this.stores.length : partitionOf(job.id, this.stores.length)
    return { job, partition }
  }

  /**
   * Stores the queue's default job options with the queue (once per partition): workers get them
   * with every batch of jobs, so a job keeps only its own options (and a kept job stays small).
   * A backoff function cannot be stored: it stays with workers that are given it.
   */
  #writeDefaults(): void {
    const { backoff, priority: _priority, ...storable } = this.#options.defaultJobOptions
    const json = encodeJobOptions(typeof backoff === 'function' ? storable : { ...storable, backoff })
    if (json === '') return
    const write = async (): Promise<void> => {
      await Promise.all(this.stores.map((s) => s.setDefaults(json)))
    }
    this.#defaultsReady = write().then(
      () => {
        this.#defaultsReady = undefined
      },
      (err: unknown) => {
        // Tried again by the next add.
        this.#valkit.logger.warn('queue: storing the default job options failed', { queue: this.name, err })
        this.#defaultsReady = undefined
        this.#defaultsPending = true
      },
    )
  }

  /** Waits until the defaults are stored (adds must not run under older ones). */
  async #defaultsStored(): Promise<void> {
    if (this.#defaultsPending) {
      this.#defaultsPending = false
      this.#writeDefaults()
    }
    await this.#defaultsReady
  }

  /** A job's options over the queue's defaults, for validation and placement (priority). */
  #withDefaults(options: JobOptions | undefined): JobOptions | undefined {
    const defaults = this.#options.defaultJobOptions
    if (Object.keys(defaults).length === 0) return options
    return { ...defaults, ...options }
  }

  /** Stores jobs of one partition; each slot holds its result, or the error that refused it (a full queue). */
  async #store(partition: number, jobs: NewJob[]): Promise<(AddResult | ValkitError)[]> {
    const store = this.stores[partition]!
    const overflow =
      this.#options.overflow === 'drop-lowest'
        ? 'drop-lowest'
        : this.#options.overflow === 'backpressure'
          ? 'wait'
          : 'reject'
    const deadline = Date.now() + this.#options.backpressureTimeoutMs
    let pending = jobs
    const done = new Map<NewJob, AddResult | ValkitError>()
    for (let wait = 10; ; wait = Math.min(wait * 2, 250)) {
      let reply
      try {
        reply = await store.add(pending, this.#options.maxLength, overflow)
      } catch (err) {
        const journaled = await this.#journalIfDown(err, partition, pending)
        for (let i = 0; i < pending.length; i++) done.set(pending[i]!, journaled[i]!)
        break
      }
      const full: NewJob[] = []
      reply.jobs.forEach((r, i) => {
        const job = pending[i]!
        if (r.code === 1 || r.code === 2)
          done.set(job, { id: r.id, outcome: 'added', state: CODE_STATE[r.code] })
        else if (r.code >= 10)
          done.set(job, { id: r.id, outcome: 'duplicate', state: DUPLICATE_STATE[r.code - 10] ?? 'waiting' })
        else full.push(job)
      })
      if (full.length === 0) break
      if (this.#options.overflow !== 'backpressure' || Date.now() + wait > deadline) {
        if (overflow === 'wait') await store.countRefused(full.length).catch(() => undefined)
        const error = new ValkitError(
          'VALKIT_QUEUE_FULL',
          `Queue "${this.name}" is full (maxLength ${this.#options.maxLength}): ${full.length} job(s) not added. Add workers, raise maxLength, or choose overflow 'drop-lowest' or 'backpressure'.`,
          {
            details: {
              queue: this.name,
              maxLength: this.#options.maxLength,
              refused: full.length,
              dropped: reply.jobs.filter((r) => r.code === -2).length,
            },
          },
        )
        for (const job of full) done.set(job, error)
        break
      }
      pending = full
      await new Promise((resolve) => setTimeout(resolve, wait))
    }
    return jobs.map((j) => done.get(j)!)
  }

  async #journalIfDown(err: unknown, partition: number, jobs: NewJob[]): Promise<AddResult[]> {
    // A timed-out add, or one whose connection dropped with it in flight, may have been applied:
    // only jobs with an id are safe to journal then (the replay finds them).
    const maybeApplied =
      isValkitError(err, 'VALKIT_TIMEOUT') ||
      (isValkitError(err, 'VALKIT_UNAVAILABLE') && err.details?.maybeApplied === true)
    const down =
      !maybeApplied && (isValkitError(err, 'VALKIT_UNAVAILABLE') || isValkitError(err, 'VALKIT_READONLY'))
    if (this.#journal === undefined || !(down || (maybeApplied && jobs.every((j) => j.id !== '')))) throw err
    const journal = await this.#journal
    const out: AddResult[] = []
    for (const job of jobs) {
      const id = job.id === '' ? `journal:${randomUUID()}` : job.id
      const record: JournalRecord = { job: { ...job, id }, partition }
      await journal.append(record)
      out.push({ id, outcome: 'journaled', state: 'journaled' })
    }
    this.#replaySoon(1000)
    return out
  }

  /** Tries a replay after `delayMs`, and again with backoff while the journal holds jobs. */
  #replaySoon(delayMs: number, attempt = 0): void {
    if (this.#journal === undefined || this.#closed || this.#replayTimer !== undefined) return
    this.#replayTimer = setTimeout(() => {
      this.#replayTimer = undefined
      void (async () => {
        const journal = await this.#journal!.catch(() => undefined)
        if (journal === undefined || journal.size === 0 || this.#closed) return
        try {
          await this.replayJournal()
        } catch {
          this.#replaySoon(Math.min(30_000, 500 * 2 ** Math.min(attempt, 6)), attempt + 1)
        }
      })()
    }, delayMs)
    this.#replayTimer.unref()
  }

  /**
   * Adds the jobs the local journal holds (written while Redis was unreachable), each once: a
   * job already there (same id) is skipped. Runs by itself on recovery; call it to force one.
   */
  replayJournal(): Promise<void> {
    if (this.#journal === undefined) return Promise.resolve()
    this.#replaying ??= (async () => {
      try {
        const journal = await this.#journal!
        if (journal.size === 0) return
        // Each record is added before the handler returns: the journal drops a record only
        // once it was handed over, so a failed add keeps it (and those after it) for the next try.
        const { replayed } = await journal.replay(async (record) => {
          const r = record as JournalRecord
          await this.stores[r.partition % this.stores.length]!.add([r.job], 0, 'reject')
        })
        this.#valkit.logger.info('queue journal replayed', { queue: this.name, jobs: replayed })
      } finally {
        this.#replaying = undefined
      }
    })()
    return this.#replaying
  }

  /** Jobs in the local journal, waiting for Redis. */
  async journaled(): Promise<number> {
    return this.#journal === undefined ? 0 : (await this.#journal).size
  }

  /** A job by id, or undefined when it is not kept. */
  async getJob(id: string): Promise<JobRecord<Data> | undefined> {
    if (typeof id !== 'string' || id === '')
      throw new ValkitError('VALKIT_INVALID_ARGUMENT', 'getJob(id) needs a job id.')
    return (await this.#storeOf(id).getJob(id)) as JobRecord<Data> | undefined
  }

  #storeOf(id: string): Pick<QueueStore, 'getJob'> {
    if (this.stores.length === 1) return this.stores[0]!
    const numbered = partitionOfNumbered(id, this.stores.length)
    if (numbered >= 0) return this.stores[numbered]!
    // Journal ids were spread round-robin: look in every partition.
    if (id.startsWith('journal:')) return new AnyPartition(this.stores)
    return this.stores[partitionOf(id, this.stores.length)]!
  }

  /** Jobs in `state`: waiting and delayed in run order, completed and dead newest first. */
  async list(state: JobState, options: { start?: number; count?: number } = {}): Promise<JobRecord<Data>[]> {
    const start = options.start ?? 0
    const count = options.count ?? 50
    if (!Number.isInteger(start) || start < 0 || !Number.isInteger(count) || count < 1 || count > 10_000) {
      throw new ValkitError(
        'VALKIT_INVALID_ARGUMENT',
        'list(state, { start, count }): start ≥ 0 and count from 1 to 10000.',
      )
    }
    // The partitions, one after the other, are one list: its first start + count entries need
    // at most that many of each.
    const ids: [QueueStore, string][] = []
    for (const store of this.stores) {
      for (const id of await store.list(state, 0, start + count - 1)) ids.push([store, id])
      if (ids.length >= start + count) break
    }
    // One read per job, all sent at once (the driver pipelines them).
    const jobs = await Promise.all(ids.slice(start, start + count).map(([store, id]) => store.getJob(id)))
    return jobs.filter((j): j is JobRecord => j !== undefined) as JobRecord<Data>[]
  }

  /** Jobs per state and the running totals (summed over partitions). */
  async counts(): Promise<JobCounts> {
    const all = await Promise.all(this.stores.map((s) => s.counts()))
    const sum = all.reduce((a, b) => ({
      waiting: a.waiting + b.waiting,
      delayed: a.delayed + b.delayed,
      active: a.active + b.active,
      completed: a.completed + b.completed,
      dead: a.dead + b.dead,
      paused: a.paused || b.paused,
      totals: Object.fromEntries(
        Object.entries(a.totals).map(([k, v]) => [k, v + b.totals[k as keyof JobCounts['totals']]]),
      ) as unknown as JobCounts['totals'],
    }))
    reportCounts(this.#valkit.metrics, this.name, sum)
    return sum
  }

  async #manage(action: ManageAction, ids: readonly string[], limit = 10_000): Promise<number> {
    this.#assertOpen()
    // An id lives in one partition; asking the others changes nothing there.
    let changed = 0
    for (const s of this.stores) changed += await s.manage(action, ids, limit)
    return changed
  }

  /** Dead jobs back to waiting (attempts reset, error history kept): the ids given, or every dead job. */
  async retry(ids?: string | readonly string[]): Promise<number> {
    return this.#manage('retry', idsOf(ids))
  }
  /** Delayed jobs made ready now: the ids given, or every delayed job. */
  async promote(ids?: string | readonly string[]): Promise<number> {
    return this.#manage('promote', idsOf(ids))
  }
  /** Removes jobs whatever their state; a running job's worker finds its lease lost. */
  async remove(ids: string | readonly string[]): Promise<number> {
    const list = idsOf(ids)
    if (list.length === 0) return 0
    return this.#manage('remove', list)
  }
  /** Removes every waiting and delayed job. Running, completed and dead jobs stay. */
  async drain(): Promise<number> {
    // 1000 per script call, so a large queue does not block the server in one call.
    let total = 0
    for (;;) {
      const n = await this.#manage('drain', [], 1000)
      total += n
      if (n === 0) return total
    }
  }
  /** Workers stop fetching (running jobs finish); adds go on. */
  async pause(): Promise<void> {
    await this.#manage('pause', [])
  }
  async resume(): Promise<void> {
    await this.#manage('resume', [])
  }
  /** Removes every key of the queue: jobs in every state, counters, events, schedules. */
  async obliterate(): Promise<number> {
    this.#assertOpen()
    let n = 0
    for (const s of this.stores) n += await s.obliterate()
    return n
  }

  /**
   * Creates or replaces a recurring job by id. Each tick adds one job (id `schedule:<id>:<tick>`),
   * once across every instance; workers run the scheduler.
   */
  schedule(id: string, options: ScheduleOptions<Data>): Promise<ScheduleInfo> {
    this.#assertOpen()
    return this.#schedules.upsert(id, options)
  }
  unschedule(id: string): Promise<boolean> {
    return this.#schedules.remove(id)
  }
  schedules(): Promise<ScheduleInfo[]> {
    return this.#schedules.list()
  }
  /** @internal */
  get scheduler(): Schedules {
    return this.#schedules
  }

  /**
   * The queue's events, in order, from its Redis Stream: every instance sees every event. A
   * queue of several partitions has a stream per partition: their events are merged, each
   * partition's in order, and `streamId` is then a cursor over all of them (the partitions'
   * positions, comma-separated) that `from` resumes exactly.
   *
   * @example
   * ```ts
   * for await (const e of queue.events({ signal })) if (e.type === 'dead-lettered') alert(e.jobId, e.error)
   * ```
   */
  async *events(options: QueueEventsOptions = {}): AsyncGenerator<QueueEvent> {
    this.#assertOpen()
    const signal = options.signal ?? new AbortController().signal
    const stores = this.stores
    const from = options.from ?? '$'
    const parts = from.split(',')
    if (parts.length !== 1 && parts.length !== stores.length)
      throw invalidOption(
        'events.from',
        `got a cursor of ${parts.length} positions for a queue of ${stores.length} partitions`,
        `a stream id, '0', '$', or a streamId this queue's events() returned`,
      )
    const cursors = stores.map((_, p) => parts[parts.length === 1 ? 0 : p]!)
    // Pin "now" to concrete ids, so events between two reads are not missed.
    for (const [p, store] of stores.entries()) {
      while (cursors[p] === '$') {
        try {
          cursors[p] = await store.lastEventId()
        } catch (err) {
          if (this.#closed || signal.aborted) return
          this.#valkit.logger.warn('queue events: cannot read the stream, retrying', {
            queue: this.name,
            err,
          })
          await new Promise((resolve) => setTimeout(resolve, 500))
        }
      }
    }
    type Read = { p: number; events: QueueEvent[] } | { p: number; err: unknown }
    const read = async (p: number, delayMs = 0): Promise<Read> => {
      if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs))
      try {
        return { p, events: await stores[p]!.readEvents(cursors[p]!, options.batch ?? 100, 1000, signal) }
      } catch (err) {
        return { p, err }
      }
    }
    // One read out per partition; the first to answer is yielded while the others wait.
    const pending = new Map<number, Promise<Read>>(stores.map((_, p) => [p, read(p)]))
    while (!signal.aborted && !this.#closed) {
      const r = await Promise.race(pending.values())
      if ('err' in r) {
        if (this.#closed || signal.aborted) return
        this.#valkit.logger.warn('queue events: read failed, retrying', { queue: this.name, err: r.err })
        pending.set(r.p, read(r.p, 500))
        continue
      }
      for (const e of r.events) {
        cursors[r.p] = e.streamId
        yield stores.length === 1 ? e : { ...e, streamId: cursors.join(',') }
        if (signal.aborted) return
      }
      // Closed while the consumer held an event: no new read (it would reopen a connection).
      if (this.#closed) return
      pending.set(r.p, read(r.p))
    }
  }

  #assertOpen(): void {
    if (this.#closed) throw new ValkitError('VALKIT_CLOSED', `Queue "${this.name}" is closed.`)
  }

  /** Stops replaying and following events; jobs stay where they are. */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    if (this.#replayTimer !== undefined) clearTimeout(this.#replayTimer)
    for (const u of this.#unhooks) u()
    await this.#replaying?.catch(() => undefined)
    for (const s of this.stores) await s.close()
    const journal = await this.#journal?.catch(() => undefined)
    await journal?.close()
  }
}

function idsOf(ids: string | readonly string[] | undefined): readonly string[] {
  if (ids === undefined) return []
  const list = typeof ids === 'string' ? [ids] : ids
  for (const id of list)
    if (typeof id !== 'string' || id === '')
      throw new ValkitError('VALKIT_INVALID_ARGUMENT', 'Job ids are non-empty strings.')
  return list
}

/** getJob over every partition (for ids not placed by hash). */
class AnyPartition {
  constructor(private readonly stores: readonly QueueStore[]) {}
  async getJob(id: string): Promise<JobRecord | undefined> {
    for (const s of this.stores) {
      const job = await s.getJob(id)
      if (job !== undefined) return job
    }
    return undefined
  }
}
