/**
 * One measurement of one library: a fresh queue name, its own producer and worker, closed
 * after, and the server flushed (so no measurement sees another's keys). Scenarios 1-7.
 */
import { quantile } from '../lib/closed-loop.js'
import type { Measurement } from '../lib/types.js'
import type { KeepPolicy, PreparedWorker, QueueLibrary } from './libraries.js'
import { callsBetween, CommandMonitor, type MonitorCounts, type ServerProbe } from './probes.js'
import { BULK_BATCH } from './workload.js'

/** Where a measurement runs: how to read the server's CPU seconds (every master's, summed) and to empty it. */
export interface Target {
  cpuSeconds(): Promise<number>
  flush(): Promise<void>
}

/** A throughput measurement plus what went wrong in it, if anything. */
export interface JobsMeasurement extends Measurement {
  /** Lost, repeated or failed jobs, errors reported by the library: empty when all is well. */
  readonly problems: readonly string[]
  /** The queue's name (fresh for the measurement). */
  readonly queue: string
}

/** Without progress for this long a measurement is declared stuck (and reported, not waited for). */
const STALL_MS = 30_000

let sequence = 0
/** A queue name no earlier measurement used. */
export function freshQueueName(scenario: string, library: QueueLibrary): string {
  const short = library.name
    .split(/[ ,]/)[0]!
    .toLowerCase()
    .replace(/[^a-z0-9]/g, '')
  return `bench-${scenario}-${short}-${process.pid}-${++sequence}`
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/** `promise`'s value, or `undefined` after `ms` (the timer cleared either way). */
async function within<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined
  try {
    return await Promise.race([
      promise,
      new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), ms))),
    ])
  } finally {
    clearTimeout(timer)
  }
}

function errorText(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err)
}

/** Counts a worker's starts and completions; waits for a number of them, or says it is stuck. */
class Progress {
  started = 0
  completed = 0
  errors = 0
  firstError: string | undefined
  #waiters: { readonly count: number; resolve(): void }[] = []
  #nextStart: ((at: number) => void) | undefined
  #lastProgress = performance.now()

  onStart = (): void => {
    this.started++
    const next = this.#nextStart
    this.#nextStart = undefined
    next?.(performance.now())
  }

  onCompleted = (): void => {
    this.completed++
    this.#lastProgress = performance.now()
    this.#waiters = this.#waiters.filter((w) => {
      if (this.completed < w.count) return true
      w.resolve()
      return false
    })
  }

  onError = (err: unknown): void => {
    this.errors++
    this.firstError ??= errorText(err)
  }

  /** Resolves with `performance.now()` at the processor's next start. */
  nextStart(): Promise<number> {
    return new Promise((resolve) => (this.#nextStart = resolve))
  }

  /** Resolves once `count` jobs completed; rejects after {@link STALL_MS} without a completion. */
  async completedAtLeast(count: number, stallMs = STALL_MS): Promise<void> {
    if (this.completed >= count) return
    this.#lastProgress = performance.now()
    const reached = new Promise<void>((resolve) => this.#waiters.push({ count, resolve }))
    let timer: NodeJS.Timeout | undefined
    const stuck = new Promise<never>((_, reject) => {
      const check = (): void => {
        if (performance.now() - this.#lastProgress > stallMs) {
          reject(
            new Error(
              `stuck: ${this.completed} of ${count} jobs completed (${this.started} started, ${this.errors} errors${this.firstError ? `, first: ${this.firstError}` : ''}) and none for ${stallMs / 1000} s`,
            ),
          )
        } else timer = setTimeout(check, 500)
      }
      timer = setTimeout(check, 500)
    })
    try {
      await Promise.race([reached, stuck])
    } finally {
      clearTimeout(timer)
    }
  }

  problems(expected: number, unfinished: number | undefined): string[] {
    const out: string[] = []
    if (this.started > expected) out.push(`${this.started - expected} jobs started twice`)
    if (this.completed < expected) out.push(`${expected - this.completed} jobs not completed`)
    if (unfinished !== undefined && unfinished > 0) out.push(`${unfinished} jobs left unfinished in Redis`)
    if (this.errors > 0) out.push(`${this.errors} errors reported (first: ${this.firstError})`)
    return out
  }
}

async function addAll(
  producer: { addBulk(from: number, count: number): Promise<unknown> },
  jobs: number,
  latencies?: number[],
): Promise<void> {
  for (let from = 0; from < jobs; from += BULK_BATCH) {
    const t = performance.now()
    await producer.addBulk(from, Math.min(BULK_BATCH, jobs - from))
    latencies?.push(performance.now() - t)
  }
}

/** `producers` loops share one producer and add `add(i)` one at a time until `jobs` were added. */
async function addOneByOne(
  producer: { add(i: number): Promise<unknown> },
  jobs: number,
  producers: number,
  latencies?: number[],
): Promise<void> {
  let next = 0
  await Promise.all(
    Array.from({ length: Math.min(producers, jobs) }, async () => {
      for (let i = next++; i < jobs; i = next++) {
        const t = performance.now()
        await producer.add(i)
        latencies?.push(performance.now() - t)
      }
    }),
  )
}

function measurement(
  jobs: number,
  elapsedMs: number,
  cpu: NodeJS.CpuUsage,
  serverSeconds: number,
  latencies: number[],
  problems: string[],
  queue: string,
  errors = 0,
): JobsMeasurement {
  const sorted = latencies.sort((a, b) => a - b)
  return {
    ops: jobs,
    errors,
    elapsedMs,
    opsPerSec: (jobs * 1000) / elapsedMs,
    p50Ms: quantile(sorted, 0.5),
    p99Ms: quantile(sorted, 0.99),
    clientCpuUsPerOp: (cpu.user + cpu.system) / jobs,
    serverCpuUsPerOp: (serverSeconds * 1e6) / jobs,
    problems,
    queue,
  }
}

/** Scenarios 1 and 2: `jobs` added one by one by `producers` concurrent loops, or in bulks of {@link BULK_BATCH}. */
export async function measureAdd(
  library: QueueLibrary,
  target: Target,
  settings: { readonly jobs: number; readonly producers: number; readonly bulk: boolean },
): Promise<JobsMeasurement> {
  const queue = freshQueueName(settings.bulk ? 'bulk' : 'add', library)
  const producer = await library.openProducer(queue, 'remove')
  try {
    const latencies: number[] = []
    const serverBefore = await target.cpuSeconds()
    const cpuBefore = process.cpuUsage()
    const start = performance.now()
    if (settings.bulk) await addAll(producer, settings.jobs, latencies)
    else await addOneByOne(producer, settings.jobs, settings.producers, latencies)
    const elapsed = performance.now() - start
    const cpu = process.cpuUsage(cpuBefore)
    const serverAfter = await target.cpuSeconds()
    const waiting = await producer.unfinished()
    const problems =
      waiting === settings.jobs ? [] : [`${waiting} jobs waiting after adding ${settings.jobs}`]
    return measurement(settings.jobs, elapsed, cpu, serverAfter - serverBefore, latencies, problems, queue)
  } finally {
    await producer.close().catch(() => {})
    await target.flush()
  }
}

/** Opens a worker, runs `body` with it, closes it whatever happens (stuck jobs are left to be flushed). */
async function withWorker<T>(
  library: QueueLibrary,
  queue: string,
  settings: { readonly concurrency: number; readonly keep: KeepPolicy },
  body: (worker: PreparedWorker, progress: Progress) => Promise<T>,
): Promise<T> {
  const progress = new Progress()
  const worker = await library.openWorker(queue, {
    concurrency: settings.concurrency,
    keep: settings.keep,
    onStart: progress.onStart,
    onCompleted: progress.onCompleted,
    onError: progress.onError,
  })
  try {
    return await body(worker, progress)
  } finally {
    await worker.close().catch(() => {})
  }
}

/** Scenarios 3 and 4: `jobs` pre-added in bulk, then one worker at `concurrency` runs them (no-op processor). */
export async function measureProcess(
  library: QueueLibrary,
  target: Target,
  settings: { readonly jobs: number; readonly concurrency: number; readonly keep: KeepPolicy },
): Promise<JobsMeasurement> {
  const queue = freshQueueName(`c${settings.concurrency}`, library)
  const producer = await library.openProducer(queue, settings.keep)
  try {
    await addAll(producer, settings.jobs)
    let progressOf: Progress | undefined
    const result = await withWorker(library, queue, settings, async (worker, progress) => {
      progressOf = progress
      const serverBefore = await target.cpuSeconds()
      const cpuBefore = process.cpuUsage()
      const start = performance.now()
      worker.start()
      await progress.completedAtLeast(settings.jobs)
      const elapsed = performance.now() - start
      const cpu = process.cpuUsage(cpuBefore)
      const serverAfter = await target.cpuSeconds()
      return { elapsed, cpu, serverAfter, serverBefore }
    })
    const unfinished = await producer.unfinished()
    return measurement(
      settings.jobs,
      result.elapsed,
      result.cpu,
      result.serverAfter - result.serverBefore,
      [],
      progressOf!.problems(settings.jobs, unfinished),
      queue,
      progressOf!.errors,
    )
  } finally {
    await producer.close().catch(() => {})
    await target.flush()
  }
}

/** Commands of one phase, per job. */
export interface CommandCost {
  /** `INFO commandstats` calls (client commands and the commands scripts ran), per job. */
  readonly calls: number
  /** EVAL/EVALSHA calls per job. */
  readonly scripts: number
  /** Commands clients sent (MONITOR), per job. */
  readonly commands: number
  /** The same with a MULTI…EXEC block counted once, per job. */
  readonly roundTrips: number
  /** PINGs among them (health checks and keep-alives: by time, not by job), per job. */
  readonly pings: number
  /** The client commands by name, per job (most frequent first). */
  readonly byCommand: readonly (readonly [string, number])[]
}

function costOf(monitor: MonitorCounts, calls: ReturnType<typeof callsBetween>, jobs: number): CommandCost {
  // The probe's own INFO (commandstats) and ECHO (MONITOR sync) calls are not the library's.
  const own = (calls.byCommand.get('info') ?? 0) + (calls.byCommand.get('echo') ?? 0)
  return {
    calls: (calls.total - own) / jobs,
    scripts: calls.scripts / jobs,
    commands: monitor.commands / jobs,
    roundTrips: monitor.roundTrips / jobs,
    pings: (monitor.byCommand.get('ping') ?? 0) / jobs,
    byCommand: [...monitor.byCommand]
      .sort((a, b) => b[1] - a[1])
      .map(([name, n]) => [name, n / jobs] as const),
  }
}

/** What scenario 5 measured: the add phase, the process phase, and both. */
export interface LifecycleCommands {
  readonly jobs: number
  readonly add: CommandCost
  readonly process: CommandCost
  readonly total: CommandCost
  readonly problems: readonly string[]
}

function subtract(a: MonitorCounts, b: MonitorCounts): MonitorCounts {
  const byCommand = new Map(a.byCommand)
  for (const [k, v] of b.byCommand) byCommand.set(k, (byCommand.get(k) ?? 0) - v)
  for (const [k, v] of byCommand) if (v <= 0) byCommand.delete(k)
  return {
    commands: a.commands - b.commands,
    roundTrips: a.roundTrips - b.roundTrips,
    scriptCommands: a.scriptCommands - b.scriptCommands,
    byCommand,
  }
}

/**
 * Scenario 5: `jobs` added one by one (`producers` loops), then processed at concurrency 100,
 * with `INFO commandstats` read around each phase and MONITOR counting what clients sent.
 */
export async function measureCommands(
  library: QueueLibrary,
  probe: ServerProbe,
  server: { readonly host: string; readonly port: number },
  settings: { readonly jobs: number; readonly producers: number },
): Promise<LifecycleCommands> {
  const queue = freshQueueName('commands', library)
  const producer = await library.openProducer(queue, 'remove')
  try {
    return await withWorker(
      library,
      queue,
      { concurrency: 100, keep: 'remove' },
      async (worker, progress) => {
        const monitor = await CommandMonitor.open(server.host, server.port, [probe.address])
        try {
          const before = await probe.commandCalls()
          await addOneByOne(producer, settings.jobs, settings.producers)
          await monitor.sync(probe)
          const added = monitor.counts()
          const middle = await probe.commandCalls()
          worker.start()
          await progress.completedAtLeast(settings.jobs)
          // The last settlements travel after the completion events: give them a moment.
          await sleep(250)
          await monitor.sync(probe)
          const all = monitor.counts()
          const after = await probe.commandCalls()
          const unfinished = await producer.unfinished()
          return {
            jobs: settings.jobs,
            add: costOf(added, callsBetween(before, middle), settings.jobs),
            process: costOf(subtract(all, added), callsBetween(middle, after), settings.jobs),
            total: costOf(all, callsBetween(before, after), settings.jobs),
            problems: progress.problems(settings.jobs, unfinished),
          }
        } finally {
          monitor.close()
        }
      },
    )
  } finally {
    await producer.close().catch(() => {})
    await probe.flush()
  }
}

/** What scenario 6 measured. */
export interface IdleMeasurement {
  readonly jobs: number
  /** add() called → processor started, every job. */
  readonly latenciesMs: readonly number[]
  readonly p50Ms: number | undefined
  readonly p99Ms: number | undefined
  /** Client commands and round trips per job over the whole sequence (idle gaps included). */
  readonly cost: CommandCost
  /** What the idle producer and worker sent over a quiet window before the jobs. */
  readonly background: {
    readonly seconds: number
    readonly roundTripsPerSecond: number
    readonly byCommand: readonly (readonly [string, number])[]
  }
  /** How long the sequence of jobs took. */
  readonly loopSeconds: number
  /** Round trips per job less the background rate × the sequence's duration: what the jobs cost. */
  readonly netRoundTrips: number
  /**
   * Round trips per job without the library's clock-driven commands ({@link QueueLibrary.clockDriven}):
   * exact, where the net estimate above carries the noise of the background's rate.
   */
  readonly roundTripsPerJob: number
  readonly problems: readonly string[]
}

/**
 * Scenario 6: a worker (concurrency 1) waits on an empty queue; `jobs` times, one job is added
 * and the time from `add()` to the processor's start is taken; the next add comes `gapMs` after
 * the job completed, when the worker waits again. MONITOR counts every command the producer and
 * the worker sent over the whole sequence, and before it over `quietMs` with no job at all.
 */
export async function measureIdle(
  library: QueueLibrary,
  probe: ServerProbe,
  server: { readonly host: string; readonly port: number },
  settings: { readonly jobs: number; readonly gapMs: number; readonly quietMs: number },
): Promise<IdleMeasurement> {
  const queue = freshQueueName('idle', library)
  const producer = await library.openProducer(queue, 'remove')
  try {
    return await withWorker(library, queue, { concurrency: 1, keep: 'remove' }, async (worker, progress) => {
      worker.start()
      // Let the worker find the queue empty and settle into waiting.
      await sleep(500)
      const monitor = await CommandMonitor.open(server.host, server.port, [probe.address])
      try {
        // What the idle producer and worker send anyway (health checks, polls, blocking
        // commands timing out), over a quiet window of their own.
        await monitor.sync(probe)
        monitor.reset()
        const quietStart = performance.now()
        await sleep(settings.quietMs)
        await monitor.sync(probe)
        const quietSeconds = (performance.now() - quietStart) / 1000
        const quiet = monitor.counts()
        const before = await probe.commandCalls()
        await monitor.sync(probe)
        monitor.reset()
        const loopStart = performance.now()
        const latencies: number[] = []
        for (let i = 0; i < settings.jobs; i++) {
          const started = progress.nextStart()
          const t = performance.now()
          await producer.add(i)
          const at = await within(started, 10_000)
          if (at === undefined) throw new Error(`job ${i} added to an idle queue did not start within 10 s`)
          latencies.push(at - t)
          await progress.completedAtLeast(i + 1, 10_000)
          await sleep(settings.gapMs)
        }
        await monitor.sync(probe)
        const loopSeconds = (performance.now() - loopStart) / 1000
        const counts = monitor.counts()
        const after = await probe.commandCalls()
        const sorted = [...latencies].sort((a, b) => a - b)
        const perSecond = quiet.roundTrips / quietSeconds
        return {
          jobs: settings.jobs,
          latenciesMs: latencies,
          p50Ms: quantile(sorted, 0.5),
          p99Ms: quantile(sorted, 0.99),
          cost: costOf(counts, callsBetween(before, after), settings.jobs),
          background: {
            seconds: quietSeconds,
            roundTripsPerSecond: perSecond,
            byCommand: [...quiet.byCommand].sort((a, b) => b[1] - a[1]),
          },
          loopSeconds,
          netRoundTrips: (counts.roundTrips - perSecond * loopSeconds) / settings.jobs,
          roundTripsPerJob:
            (counts.roundTrips -
              (library.clockDriven ?? []).reduce((n, c) => n + (counts.byCommand.get(c) ?? 0), 0)) /
            settings.jobs,
          problems: progress.problems(settings.jobs, await producer.unfinished()),
        }
      } finally {
        monitor.close()
      }
    })
  } finally {
    await producer.close().catch(() => {})
    await probe.flush()
  }
}

/** What scenario 7 measured. */
export interface MemoryMeasurement {
  readonly jobs: number
  /** `used_memory` after − before, per kept job. */
  readonly bytesPerJob: number
  /** Σ `MEMORY USAGE` of every key, per job. */
  readonly keyBytesPerJob: number
  /** Σ `MEMORY USAGE` of the stream keys (the events), per job. */
  readonly streamBytesPerJob: number
  readonly keys: number
  readonly problems: readonly string[]
}

/**
 * Scenario 7: on an empty server, `jobs` added (bulk) and completed by a worker keeping every
 * completed job, each library with its default event settings; `used_memory` before (only the
 * probe connected) and after (everything else closed again).
 */
export async function measureMemory(
  library: QueueLibrary,
  probe: ServerProbe,
  settings: { readonly jobs: number; readonly keep?: 'keep-all' | 'keep-all-worker' },
): Promise<MemoryMeasurement> {
  const keep = settings.keep ?? 'keep-all'
  await probe.flush()
  await sleep(200)
  const before = await probe.usedMemory()
  const queue = freshQueueName('memory', library)
  const producer = await library.openProducer(queue, keep)
  let problems: string[] = []
  try {
    await addAll(producer, settings.jobs)
    await withWorker(library, queue, { concurrency: 100, keep }, async (worker, progress) => {
      worker.start()
      await progress.completedAtLeast(settings.jobs)
      await sleep(250)
      problems = progress.problems(settings.jobs, await producer.unfinished())
    })
  } finally {
    await producer.close().catch(() => {})
  }
  // Closed connections release their buffers; what is left is the queue's data.
  await sleep(500)
  const after = await probe.usedMemory()
  const keys = await probe.keyMemory()
  await probe.flush()
  return {
    jobs: settings.jobs,
    bytesPerJob: (after - before) / settings.jobs,
    keyBytesPerJob: keys.bytes / settings.jobs,
    streamBytesPerJob: keys.streamBytes / settings.jobs,
    keys: keys.keys,
    problems,
  }
}
