/** What the `queue` benchmark does, in numbers: sizes, the job every library carries, the targets. */

/** Jobs per throughput measurement (scenarios 1-3): `--jobs N` changes it, `--quick` lowers it. */
export const DEFAULT_JOBS = 50_000
/** `--quick`: a smoke run, every scenario with few jobs (~1 min). */
export const QUICK_JOBS = 2_000

/** Jobs per `addBulk` call (BullMQ `addBulk`, bee-queue `saveAll`, valkit `addBulk`). */
export const BULK_BATCH = 1_000

/** Scenario 3: the worker's concurrency. */
export const CONCURRENCIES = [1, 16, 100] as const

/** At concurrency 1 every library is bound by one round trip per job: a fifth of the jobs gives the same rate in a fifth of the time. */
export const SERIAL_SHARE = 0.2

/** Scenario 6: jobs added one at a time to an idle queue (each waits for the previous one to start and finish). */
export const IDLE_JOBS = 500
export const QUICK_IDLE_JOBS = 100
/** Scenario 6: pause after a job finishes before the next add, so the worker is back to waiting (asleep / blocked). */
export const IDLE_GAP_MS = 20
/** Scenario 6: the quiet window (no job) in which what an idle queue sends anyway is counted. */
export const IDLE_QUIET_MS = 10_000
export const QUICK_IDLE_QUIET_MS = 3_000

/** Scenario 7: completed jobs kept (with every library's default events). */
export const KEPT_JOBS = 10_000
export const QUICK_KEPT_JOBS = 2_000

/** Scenario 5: jobs added (one by one) and processed (concurrency 100) while `MONITOR` counts the commands. */
export const COMMAND_JOBS = 10_000

/** The job name every library gets. */
export const JOB_NAME = 'send-email'

/** The job's data (~70 bytes of JSON), the same for every library and scenario. */
export function jobData(i: number): {
  readonly user: number
  readonly to: string
  readonly template: string
} {
  return { user: i, to: `user${i}@example.com`, template: 'welcome' }
}

/** The targets for valkit. */
export const TARGETS = {
  /** Scenario 1 (and 2): jobs/s ÷ BullMQ. */
  addVsBullmq: 2,
  /** Scenario 3 at concurrency 100: jobs/s ÷ BullMQ (and above bee-queue). */
  processVsBullmq: 3,
  /** Scenario 4: Redis CPU per job while processing at concurrency 100, µs. */
  redisCpuUsPerJob: 30,
  /** Scenario 6: client commands per job on an idle queue. */
  idleCommandsPerJob: 3,
  /** Scenario 7: bytes of Redis memory per kept completed job. */
  bytesPerKeptJob: 300,
} as const
