/**
 * The public shapes of `valkit/queue`: jobs, their options and states, the queue and the worker.
 */

/** Where a job is in its life. */
export type JobState = 'waiting' | 'delayed' | 'active' | 'completed' | 'dead'

/** How long to wait before attempt `attempt + 1` after attempt `attempt` failed with `error`. */
export type BackoffFunction = (attempt: number, error: Error) => number

/**
 * Backoff between attempts: `fixed` waits `delay` every time; `exponential` waits
 * `delay * 2^(attempt-1)`, capped at `max`, with full jitter unless `jitter: false`; a function
 * returns the milliseconds itself (it runs in the worker).
 */
export type BackoffOptions =
  | { readonly type: 'fixed'; readonly delay: number | string }
  | {
      readonly type: 'exponential'
      readonly delay: number | string
      readonly max?: number | string
      readonly jitter?: boolean
    }
  | BackoffFunction

/** How many settled jobs to keep: `true` keeps all, `false` keeps none, or by count and/or age. */
export type KeepOptions = boolean | number | { readonly count?: number; readonly age?: number | string }

/** Options of one job. */
export interface JobOptions {
  /**
   * Your id for the job: adding a second job with the same id while the first is kept changes
   * nothing and returns the first (de-duplication). Must not look like valkit's own numbered
   * ids (`42`; `p3-42` in a partitioned queue); at most 256 characters.
   */
  readonly id?: string
  /** Lower runs first: 0 (the default, first) to 1,048,576. Jobs of one priority run in order. */
  readonly priority?: number
  /** Run no earlier than this long from now (ms, or `'10m'`, `'6h'`, `'30d'`; at most ten years). */
  readonly delay?: number | string
  /** Run no earlier than this time (a Date or epoch ms). Overrides `delay`. */
  readonly runAt?: Date | number
  /** Attempts in all, the first included. @defaultValue 1 (from the queue's `defaultJobOptions`) */
  readonly attempts?: number
  /** Wait between attempts. @defaultValue none */
  readonly backoff?: BackoffOptions
  /** The processor's deadline for one attempt; past it the attempt fails with `VALKIT_JOB_TIMEOUT` and its signal aborts. */
  readonly timeout?: number | string
  /** Completed jobs to keep (with their result). @defaultValue `{ count: 1000 }` */
  readonly removeOnComplete?: KeepOptions
  /** Dead jobs to keep in the dead-letter list (with their error history). @defaultValue `true` (all) */
  readonly removeOnFail?: KeepOptions
}

/** A job as a processor sees it. */
export interface Job<Data = unknown> {
  readonly id: string
  readonly name: string
  readonly data: Data
  /** This attempt's number, from 1. */
  readonly attempt: number
  /** Attempts in all. */
  readonly attempts: number
  readonly queue: string
  /** Aborted when the attempt's timeout passes, the lease is lost, or the worker closes without grace. */
  readonly signal: AbortSignal
  /** The lease's fencing token: strictly increasing per queue; a resource can reject older ones. */
  readonly token: number
  /** Stores the job's progress (a number or any JSON value) and emits a `progress` event. */
  progress(value: unknown): Promise<void>
}

/** One recorded failure of a job. */
export interface JobError {
  readonly message: string
  readonly code?: string
  readonly attempt?: number
  /** Epoch ms. */
  readonly at: number
}

/** A job as stored, for inspection (`getJob`, `list`). */
export interface JobRecord<Data = unknown> {
  readonly id: string
  readonly name: string
  readonly data: Data
  readonly state: JobState
  /** Attempts started so far. */
  readonly attemptsMade: number
  readonly priority: number
  readonly createdAt: number
  /** For a delayed job, when it becomes ready. */
  readonly runAt?: number
  readonly finishedAt?: number
  readonly progress?: unknown
  readonly result?: unknown
  /** The last errors, oldest first (at most 10). */
  readonly errors: readonly JobError[]
  readonly stalls: number
  /** The schedule that made the job, if any. */
  readonly schedule?: string
}

/** What `add` did with one job. */
export interface AddResult {
  readonly id: string
  /** `added`; `duplicate` (a job with that id is kept: nothing changed); `journaled` (Redis was away: it is in the local journal and will be added on recovery). */
  readonly outcome: 'added' | 'duplicate' | 'journaled'
  /** Where the job is: for a duplicate, the state of the job that was kept. */
  readonly state: JobState | 'journaled'
}

/** Number of jobs per state, and the queue's running totals. */
export interface JobCounts {
  readonly waiting: number
  readonly delayed: number
  readonly active: number
  readonly completed: number
  readonly dead: number
  readonly paused: boolean
  readonly totals: {
    readonly added: number
    readonly completed: number
    /** Failed attempts (retried or not). */
    readonly failed: number
    readonly dead: number
    readonly stalled: number
    /** Adds refused because the queue was full. */
    readonly refused: number
    /** Jobs dropped by the `drop-lowest` overflow policy. */
    readonly dropped: number
  }
}

/** One event of a queue, as delivered by its stream (ordered, replayable from `streamId`). */
export interface QueueEvent {
  /**
   * Where the event is in the stream: pass it as `from` to replay after it. The entry's id, or
   * `<entry id>:<index>` inside an entry of several events; for a queue of several partitions,
   * the partitions' positions, comma-separated.
   */
  readonly streamId: string
  readonly type:
    | 'added'
    | 'delayed'
    | 'waiting'
    | 'active'
    | 'progress'
    | 'completed'
    | 'retried'
    | 'dead-lettered'
    | 'stalled'
    | 'removed'
  readonly jobId: string
  readonly name?: string
  readonly attempt?: number
  readonly progress?: unknown
  readonly error?: JobError
  readonly delayMs?: number
  /** For `stalled`: true when the job went to the dead letters, false when it was re-queued. */
  readonly final?: boolean
}

/** A recurring job: a cron expression (5 or 6 fields, in `tz`) or a fixed interval. */
export interface ScheduleOptions<Data = unknown> {
  readonly cron?: string
  readonly tz?: string
  readonly every?: number | string
  /** The job each tick adds. */
  readonly job: {
    readonly name: string
    readonly data?: Data
    readonly options?: Omit<JobOptions, 'id' | 'delay' | 'runAt'>
  }
  /**
   * Ticks missed while no instance ran the scheduler: `skip` (the default) adds nothing for
   * them and goes on from the next tick; `run-once` adds one job for all of them; `run-all`
   * adds one per missed tick (at most `maxCatchUp`).
   */
  readonly missed?: 'skip' | 'run-once' | 'run-all'
  /** @defaultValue 100 */
  readonly maxCatchUp?: number
}

/** A stored schedule. */
export interface ScheduleInfo {
  readonly id: string
  readonly cron?: string
  readonly tz?: string
  readonly every?: number
  readonly jobName: string
  /** Epoch ms of the next tick; undefined when none is left. */
  readonly nextAt: number | undefined
}
