import { isValkitError, ValkitError, type Valkit } from '../core/index.js'
import type { Queue } from './queue.js'
import { backoffDelay, resolveJobOptions, type ResolvedJobOptions } from './queue-options.js'
import type { FetchRequest, LeasedJob, QueueStore, Settlement } from './queue-store.js'
import type { QueueMetrics } from './queue-metrics.js'
import type { Job, JobOptions } from './queue-types.js'
import type { ResolvedWorkerOptions } from './worker-options.js'

/** What a worker runs for each job. Its result is stored with the job (as JSON). */
export type Processor<Data = unknown, Result = unknown> = (job: Job<Data>) => Promise<Result> | Result

/**
 * Throw it from a processor to fail the job for good, without the attempts left (a bad input
 * that no retry will fix). The job goes to the dead letters at once.
 */
export class FatalJobError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'FatalJobError'
  }
}

/** Events of a worker (this process only; the queue's stream has every instance's). */
export interface WorkerEvents {
  /** The job's result is stored (the store accepted the completion: the lease was still held). */
  completed: (job: Job, result: unknown) => void
  /** `final`: no attempt is left (the job is dead), or it is retried after `delayMs`. */
  failed: (job: Job, error: Error, info: { final: boolean; delayMs: number }) => void
  /** A job's lease was lost while it ran (it stalled past its lease, or was removed). */
  lost: (job: Job) => void
  /** The store failed; the worker retries by itself. */
  error: (error: Error) => void
}

interface Running {
  readonly job: Job
  readonly token: string
  /** Aborts the job's signal (made only when the processor asks for it). */
  abort(reason: Error): void
  lost: boolean
  /** Left to its lease by a close that timed out: whatever the processor does next is not settled. */
  abandoned: boolean
}

/** The fetch loop of one partition: settlements out, jobs in, one call at a time. */
class Lane {
  readonly pending: Settlement[] = []
  /** What to report once the store has accepted a settlement (it may refuse it as stale). */
  readonly accepted = new Map<Settlement, () => void>()
  readonly running = new Map<string, Running>()
  /** Calls out now (at most two: one is executing while the next is on its way). */
  inFlight = 0
  /** The last fetch came back with all it asked for: the queue has work, so calls may overlap. */
  full = false
  sleeping = false
  /** Wake-ups seen; a step's reply that says "empty" does not put the lane to sleep if one came meanwhile. */
  wakes = 0
  #timer: NodeJS.Timeout | undefined
  #timerAt = Infinity
  #extendTimer: NodeJS.Timeout | undefined
  #failures = 0
  #stopped = false
  constructor(
    readonly store: QueueStore,
    readonly worker: { pump(lane: Lane): void; extend(lane: Lane): Promise<void> },
  ) {}

  /** Looks again at `at` (epoch ms) unless something wakes the lane earlier; `replace` moves a later timer too. */
  wakeAt(at: number, replace = false): void {
    // A reply that arrives after the worker closed must not start the lane again.
    if (this.#stopped) return
    if (this.#timer !== undefined) {
      if (!replace && this.#timerAt <= at) return
      clearTimeout(this.#timer)
    }
    const delay = Math.max(0, Math.min(at - Date.now(), 2_147_483_647))
    this.#timerAt = at
    this.#timer = setTimeout(() => {
      this.#timer = undefined
      this.wake()
    }, delay)
    // Not unref()ed: a started worker keeps the process alive, as a server does.
  }

  wake(): void {
    this.wakes++
    this.sleeping = false
    this.worker.pump(this)
  }

  failed(): number {
    return ++this.#failures
  }
  succeeded(): void {
    this.#failures = 0
  }

  startExtending(leaseMs: number): void {
    if (this.#extendTimer !== undefined || this.#stopped) return
    this.#extendTimer = setInterval(
      () => void this.worker.extend(this),
      Math.max(100, Math.floor(leaseMs / 3)),
    )
    this.#extendTimer.unref()
  }

  get stopped(): boolean {
    return this.#stopped
  }

  stop(): void {
    this.#stopped = true
    if (this.#timer !== undefined) clearTimeout(this.#timer)
    if (this.#extendTimer !== undefined) clearInterval(this.#extendTimer)
    this.#timer = this.#extendTimer = undefined
  }
}

/**
 * Runs a queue's jobs: at-least-once, with leases the worker extends while a job runs. Settled
 * jobs and the next fetch travel in one script call; calls are batched (all that finished
 * while the previous call was out go in the next). An empty queue costs nothing: the worker
 * sleeps until a producer's add wakes it (sharded pub/sub), a delayed job is due, or a lease
 * it must reap runs out.
 */
export class Worker<Data = unknown, Result = unknown> {
  readonly name: string
  readonly #valkit: Valkit
  readonly #queue: Queue<Data>
  readonly #processor: Processor<Data, Result>
  readonly #options: ResolvedWorkerOptions
  readonly #metrics: QueueMetrics
  readonly #lanes: Lane[]
  readonly #listeners: { [K in keyof WorkerEvents]: Set<WorkerEvents[K]> } = {
    completed: new Set(),
    failed: new Set(),
    lost: new Set(),
    error: new Set(),
  }
  readonly #jobOptions = new Map<string, ResolvedJobOptions>()
  readonly #fetch: FetchRequest
  #running = 0
  #reserved = 0
  #started = false
  #closing = false
  #closed: Promise<void> | undefined
  readonly #unsubs: (() => Promise<void>)[] = []
  #idle: (() => void)[] = []
  #scheduleTimer: NodeJS.Timeout | undefined
  /** Looks at the schedules now (a wake-up may mean a schedule was added). */
  #scheduleNow: (() => void) | undefined
  #pumpScheduled = new Set<Lane>()

  /** @internal */
  constructor(
    valkit: Valkit,
    queue: Queue<Data>,
    processor: Processor<Data, Result>,
    options: ResolvedWorkerOptions,
    metrics: QueueMetrics,
  ) {
    this.#valkit = valkit
    this.#queue = queue
    this.name = queue.name
    this.#processor = processor
    this.#options = options
    this.#metrics = metrics
    this.#lanes = queue.stores.map((s) => new Lane(s, this))
    this.#fetch = {
      count: 0,
      leaseMs: options.leaseMs,
      maxStalls: options.maxStalls,
      globalConcurrency: options.globalConcurrency,
      rateMax: options.rateLimit?.max ?? 0,
      rateWindowMs: options.rateLimit?.windowMs ?? 0,
    }
  }

  /** Jobs running now in this worker. */
  get running(): number {
    return this.#running
  }

  /** Starts fetching (done by `createWorker` unless `autostart: false`). */
  async start(): Promise<void> {
    if (this.#started) return
    this.#started = true
    for (const lane of this.#lanes) {
      this.#unsubs.push(
        await lane.store.onWake((what) => {
          if (what !== 'schedules') lane.wake()
          if (what !== 'jobs') this.#scheduleNow?.()
        }),
      )
      this.pump(lane)
    }
    if (this.#options.schedules) this.#runSchedules()
  }

  on<K extends keyof WorkerEvents>(event: K, listener: WorkerEvents[K]): () => void {
    this.#listeners[event].add(listener)
    return () => this.#listeners[event].delete(listener)
  }

  #emit<K extends keyof WorkerEvents>(event: K, ...args: Parameters<WorkerEvents[K]>): void {
    if (event === 'error' && this.#listeners.error.size === 0) {
      this.#valkit.logger.warn('queue worker: the store failed; retrying', { queue: this.name, err: args[0] })
      return
    }
    for (const l of this.#listeners[event]) {
      try {
        ;(l as (...a: Parameters<WorkerEvents[K]>) => void)(...args)
      } catch (err) {
        this.#valkit.logger.error('queue worker listener threw', { queue: this.name, event, err })
      }
    }
  }

  /** Sends the lane's settlements and fetches for its free slots, after the current tick. @internal */
  pump(lane: Lane): void {
    if (this.#pumpScheduled.has(lane)) return
    this.#pumpScheduled.add(lane)
    setImmediate(() => {
      this.#pumpScheduled.delete(lane)
      this.#step(lane)
    })
  }

  #step(lane: Lane): void {
    if (lane.inFlight >= 2 || !this.#started) return
    // Under a global concurrency a settlement frees a slot of the shared limit: a sleeping lane
    // fetches in the same call rather than waiting for the wake-up that call publishes (pub/sub
    // may lose it; the fallback was the idle poll, 10 s by default)
    if (lane.sleeping && lane.pending.length > 0 && this.#fetch.globalConcurrency > 0) lane.sleeping = false
    const free = this.#closing ? 0 : this.#options.concurrency - this.#running - this.#reserved
    // Free slots are shared between the partitions that have work: one lane must not take them all.
    let awake = 0
    for (const l of this.#lanes) if (!l.sleeping) awake++
    const share = this.#lanes.length === 1 ? free : Math.ceil(free / Math.max(awake, 1))
    const count = lane.sleeping ? 0 : Math.min(Math.max(share, 0), this.#options.batch)
    if (lane.pending.length === 0 && count === 0) return
    // A second call while one is out only for a worthwhile batch; else wait for the reply (it pumps).
    if (lane.inFlight === 1 && lane.pending.length + count < Math.ceil(this.#options.batch / 2)) return
    const settlements = lane.pending.splice(0, 1000)
    lane.inFlight++
    this.#reserved += count
    const wakes = lane.wakes
    lane.store.step(settlements, { ...this.#fetch, count }).then(
      (r) => {
        lane.inFlight--
        this.#reserved -= count
        lane.succeeded()
        lane.full = count > 0 && r.jobs.length >= count
        if (r.stale.length > 0) this.#metrics.jobs('stale', r.stale.length)
        const stale = r.stale.length === 0 ? undefined : new Set(r.stale)
        for (const settlement of settlements) {
          const report = lane.accepted.get(settlement)
          lane.accepted.delete(settlement)
          if (report !== undefined && stale?.has(settlement.id) !== true) report()
        }
        if (lane.stopped) {
          // A call still out when close({ timeout }) gave up: the jobs it leased are left to
          // their leases (another worker runs them once they run out), not run by a closed worker.
          this.#checkIdle()
          return
        }
        for (const job of r.jobs) this.#run(lane, job, r.nowMs, r.defaults)
        if (count > 0 && r.jobs.length < count && lane.wakes === wakes) {
          lane.sleeping = true
          lane.wakeAt(Date.now() + this.#options.idlePollMs, true)
        }
        if (lane.sleeping) {
          // Whatever the call was for, its reply says when the next delayed job or lease is due.
          let at = Infinity
          if (r.nextDelayedAt >= 0) at = Math.min(at, r.nextDelayedAt)
          if (r.nextLeaseAt >= 0) at = Math.min(at, r.nextLeaseAt + 1)
          if (r.rateWaitMs > 0) at = Math.min(at, r.nowMs + r.rateWaitMs)
          // The server's clock set `at`; wait the same span on ours.
          if (at !== Infinity) lane.wakeAt(Date.now() + Math.max(0, at - r.nowMs))
        }
        if (lane.pending.length > 0 || (!lane.sleeping && !this.#closing)) this.pump(lane)
        // Slots this lane did not fill are for the other partitions.
        if (this.#lanes.length > 1 && !this.#closing)
          for (const l of this.#lanes) if (l !== lane && !l.sleeping) this.pump(l)
        this.#checkIdle()
      },
      (err: unknown) => {
        lane.inFlight--
        this.#reserved -= count
        if (isValkitError(err, 'VALKIT_CLOSED')) {
          // valkit itself was closed: nothing can be sent any more; the leases settle it.
          for (const s of settlements) lane.accepted.delete(s)
          lane.pending.length = 0
          this.#checkIdle()
          return
        }
        lane.pending.unshift(...settlements)
        lane.full = false
        this.#emit('error', err as Error)
        const n = lane.failed()
        // Capped exponential backoff with full jitter while the store fails.
        lane.wakeAt(Date.now() + Math.random() * Math.min(5000, 50 * 2 ** Math.min(n, 7)))
        this.#checkIdle()
      },
    )
    // While the queue has work, a second call goes out at once for the slots this one left, so
    // the server runs one while this process runs the jobs of the other: measured 1.4× the jobs/s
    // of one call at a time at concurrency 100 (quiet rounds; both processes on two cores).
    if (lane.full && count > 0 && free - count > 0 && lane.inFlight < 2) this.pump(lane)
  }

  /** A job's options: its own, over the queue's stored defaults, over this worker's. */
  #optionsOf(stored: string, defaults: string): ResolvedJobOptions {
    const key = `${defaults}\u0000${stored}`
    let resolved = this.#jobOptions.get(key)
    if (resolved === undefined) {
      const parse = (json: string): JobOptions | undefined => {
        try {
          return json === '' ? undefined : (JSON.parse(json) as JobOptions)
        } catch {
          return undefined
        }
      }
      try {
        const base = resolveJobOptions(parse(defaults), this.#options.jobDefaults, 'queue.defaultJobOptions')
        resolved = resolveJobOptions(parse(stored), base, 'job.options')
      } catch {
        resolved = this.#options.jobDefaults
      }
      if (this.#jobOptions.size < 1000) this.#jobOptions.set(key, resolved)
    }
    return resolved
  }

  #run(lane: Lane, leased: LeasedJob, nowMs: number, defaults: string): void {
    this.#running++
    const options = this.#optionsOf(leased.options, defaults)
    // Most processors never look at job.signal: its AbortController is made on first use.
    let controller: AbortController | undefined
    let abortedWith: Error | undefined
    const abort = (reason: Error): void => {
      if (abortedWith !== undefined) return
      abortedWith = reason
      controller?.abort(reason)
    }
    let data: unknown
    try {
      data = JSON.parse(leased.data)
    } catch {
      data = leased.data
    }
    const store = lane.store
    const job: Job<Data> = {
      id: leased.id,
      name: leased.name,
      data: data as Data,
      attempt: leased.attempt,
      attempts: options.attempts,
      queue: this.name,
      get signal(): AbortSignal {
        if (controller === undefined) {
          controller = new AbortController()
          if (abortedWith !== undefined) controller.abort(abortedWith)
        }
        return controller.signal
      },
      token: Number(leased.token),
      progress: async (value: unknown) => {
        const ok = await store.progress(leased.id, leased.token, JSON.stringify(value ?? null))
        if (!ok)
          throw new ValkitError(
            'VALKIT_LOCK_LOST',
            `Job ${leased.id} of queue "${this.name}": its lease is lost (it stalled or was removed); its progress is not stored.`,
          )
      },
    }
    const entry: Running = { job: job, token: leased.token, abort, lost: false, abandoned: false }
    lane.running.set(leased.id, entry)
    lane.startExtending(this.#options.leaseMs)
    this.#metrics.waited(Math.max(0, nowMs - leased.createdAt) / 1000)
    const started = performance.now()
    let timer: NodeJS.Timeout | undefined
    let settled = false
    const finish = (kind: 'ok' | 'err', value: unknown): void => {
      if (settled) return
      settled = true
      if (timer !== undefined) clearTimeout(timer)
      lane.running.delete(leased.id)
      this.#running--
      if (entry.abandoned) return
      this.#metrics.processed((performance.now() - started) / 1000)
      if (kind === 'ok') {
        let payload: string
        try {
          // A processor that returns nothing leaves no result field (an empty payload).
          payload = value === undefined ? '' : JSON.stringify(value ?? null)
        } catch (err) {
          kind = 'err'
          value = new ValkitError(
            'VALKIT_INVALID_ARGUMENT',
            `The job's result cannot be stored as JSON: ${(err as Error).message}`,
          )
          payload = ''
        }
        if (kind === 'ok') {
          const settlement: Settlement = {
            id: leased.id,
            token: leased.token,
            kind: 'c',
            payload,
            delayMs: 0,
            keep: options.keepCompleted,
          }
          lane.pending.push(settlement)
          lane.accepted.set(settlement, () => {
            this.#metrics.jobs('completed')
            this.#emit('completed', job, value)
          })
          this.#freed(lane)
          return
        }
      }
      const error = value instanceof Error ? value : new Error(String(value))
      const final = error instanceof FatalJobError || leased.attempt >= options.attempts
      const backoff =
        options.backoff.type === 'none' && this.#options.backoff !== undefined
          ? { type: 'custom' as const, fn: this.#options.backoff }
          : options.backoff
      const delayMs = final ? 0 : backoffDelay(backoff, leased.attempt, error)
      const payload = JSON.stringify({
        message: error.message.slice(0, 2000),
        ...(typeof (error as unknown as { code?: unknown }).code === 'string'
          ? { code: (error as unknown as { code: string }).code }
          : {}),
        name: error.name,
        attempt: leased.attempt,
        at: Date.now(),
      })
      const settlement: Settlement = {
        id: leased.id,
        token: leased.token,
        kind: final ? 'x' : 'r',
        payload,
        delayMs,
        keep: options.keepDead,
      }
      lane.pending.push(settlement)
      lane.accepted.set(settlement, () => {
        this.#metrics.jobs(final ? 'dead' : 'retried')
        this.#emit('failed', job, error, { final, delayMs })
      })
      this.#freed(lane)
    }
    if (options.timeoutMs > 0) {
      timer = setTimeout(() => {
        const err = new ValkitError(
          'VALKIT_JOB_TIMEOUT',
          `Job ${leased.id} of queue "${this.name}" ran past its timeout of ${options.timeoutMs} ms.`,
        )
        abort(err)
        finish('err', err)
      }, options.timeoutMs)
      // A job abandoned by close({ timeout }) must not keep the process alive until it fires.
      timer.unref()
    }
    let result: Promise<Result> | Result
    try {
      result = this.#processor(job)
    } catch (err) {
      finish('err', err)
      return
    }
    if (result instanceof Promise)
      result.then(
        (v) => finish('ok', v),
        (err: unknown) => finish('err', err),
      )
    else finish('ok', result)
  }

  /** A slot came free in `lane`: send its settlement, and let awake partitions fetch. */
  #freed(lane: Lane): void {
    this.pump(lane)
    if (this.#lanes.length > 1) for (const l of this.#lanes) if (l !== lane && !l.sleeping) this.pump(l)
  }

  /** Extends the leases of a lane's running jobs; aborts those that were lost. @internal */
  async extend(lane: Lane): Promise<void> {
    if (lane.running.size === 0) return
    const leases = [...lane.running].map(([id, r]) => ({ id, token: r.token }))
    let lost: string[]
    try {
      lost = await lane.store.extend(leases, this.#options.leaseMs)
    } catch (err) {
      this.#emit('error', err as Error)
      return
    }
    for (const id of lost) {
      const r = lane.running.get(id)
      if (r === undefined || r.lost) continue
      r.lost = true
      this.#metrics.jobs('lost')
      r.abort(
        new ValkitError(
          'VALKIT_LOCK_LOST',
          `Job ${id} of queue "${this.name}": its lease is lost; another worker may run it.`,
        ),
      )
      this.#emit('lost', r.job)
    }
  }

  #runSchedules(): void {
    const scheduler = this.#queue.scheduler
    let busy = false
    const tick = (): void => {
      if (this.#scheduleTimer !== undefined) clearTimeout(this.#scheduleTimer)
      this.#scheduleTimer = undefined
      if (this.#closing || busy) return
      busy = true
      scheduler.runDue().then(
        (at) => {
          busy = false
          arm(Math.min(at, Date.now() + this.#options.schedulePollMs))
        },
        (err: unknown) => {
          busy = false
          this.#emit('error', err as Error)
          arm(Date.now() + 1000)
        },
      )
    }
    this.#scheduleNow = tick
    const arm = (at: number): void => {
      if (this.#closing) return
      this.#scheduleTimer = setTimeout(tick, Math.max(0, at - Date.now()))
      this.#scheduleTimer.unref()
    }
    tick()
  }

  #checkIdle(): void {
    if (this.#running > 0 || this.#lanes.some((l) => l.inFlight > 0 || l.pending.length > 0)) return
    const waiters = this.#idle
    this.#idle = []
    for (const w of waiters) w()
  }

  /**
   * Stops fetching, waits for running jobs to finish and their results to be stored, then
   * closes. With `timeout`, jobs still running then are aborted (their signal) and left to
   * their leases: another worker runs them again once the lease runs out.
   */
  close(options: { timeout?: number } = {}): Promise<void> {
    this.#closed ??= (async () => {
      this.#closing = true
      if (this.#scheduleTimer !== undefined) clearTimeout(this.#scheduleTimer)
      for (const lane of this.#lanes) this.pump(lane)
      const idle = new Promise<void>((resolve) => {
        this.#idle.push(resolve)
        this.#checkIdle()
      })
      if (options.timeout === undefined) await idle
      else {
        let timer: NodeJS.Timeout | undefined
        await Promise.race([idle, new Promise<void>((r) => (timer = setTimeout(r, options.timeout)))])
        clearTimeout(timer)
        // Jobs still running are left to their leases: whatever their processors do next is not
        // settled, and another worker runs them once the lease runs out.
        for (const lane of this.#lanes) {
          for (const r of lane.running.values()) {
            r.abandoned = true
            r.abort(new ValkitError('VALKIT_CLOSED', `Worker of queue "${this.name}" closed.`))
          }
        }
      }
      for (const lane of this.#lanes) lane.stop()
      // Bounded: over a stalled network an unsubscribe would otherwise hold close() forever.
      const boundMs = Math.max(options.timeout ?? this.#valkit.config.commandTimeoutMs, 100)
      for (const u of this.#unsubs) await settledWithin(u(), boundMs)
    })()
    return this.#closed
  }
}

/** Waits for `work` to settle, or `ms` at most; never rejects. */
function settledWithin(work: Promise<unknown>, ms: number): Promise<void> {
  return new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms)
    timer.unref()
    const done = (): void => {
      clearTimeout(timer)
      resolve()
    }
    work.then(done, done)
  })
}
