import type { JobCounts, JobRecord, JobState, QueueEvent } from './queue-types.js'

/** A job handed to `add` after validation. @internal */
export interface NewJob {
  /** '' for the next number. */
  readonly id: string
  readonly name: string
  /** JSON text. */
  readonly data: string
  readonly priority: number
  readonly delayMs: number
  /** Stored options ('' for none). */
  readonly options: string
}

/** What a store did with one job: 1 waiting, 2 delayed, 10-14 duplicate (10 + the kept job's state in waiting, delayed, active, completed, dead), -1 full (refused), -2 dropped. @internal */
export interface StoredJob {
  readonly id: string
  readonly code: number
}

/** A finished attempt a worker reports. @internal */
export interface Settlement {
  readonly id: string
  readonly token: string
  /** c completed, r failed and retried after `delayMs`, x failed for good. */
  readonly kind: 'c' | 'r' | 'x'
  /** Result or error, JSON. */
  readonly payload: string
  readonly delayMs: number
  readonly keep: { readonly count: number; readonly ageMs: number }
}

/** What a worker asks for along with its settlements. @internal */
export interface FetchRequest {
  readonly count: number
  readonly leaseMs: number
  readonly maxStalls: number
  readonly globalConcurrency: number
  readonly rateMax: number
  readonly rateWindowMs: number
}

/** A job leased to a worker. @internal */
export interface LeasedJob {
  readonly id: string
  readonly name: string
  /** JSON text. */
  readonly data: string
  /** Stored options ('' for none). */
  readonly options: string
  readonly attempt: number
  readonly token: string
  /** Epoch ms the job was added. */
  readonly createdAt: number
}

/** @internal */
export interface StepResult {
  readonly nowMs: number
  /** Settlements refused because the lease was no longer held (stale completions). */
  readonly stale: readonly string[]
  /** Run-at of the next delayed job, -1 for none. */
  readonly nextDelayedAt: number
  /** The earliest lease deadline, -1 for none. */
  readonly nextLeaseAt: number
  /** Ms until the rate limit lets jobs through again (0: not limited). */
  readonly rateWaitMs: number
  readonly paused: boolean
  /** The queue's default job options as stored by `createQueue` (JSON; '' for none, or when no job came). */
  readonly defaults: string
  readonly jobs: readonly LeasedJob[]
}

/** Why a sleeping worker is woken. @internal */
export type WakeReason = 'jobs' | 'schedules' | 'both'

/** An operator action. @internal */
export type ManageAction = 'retry' | 'promote' | 'remove' | 'drain' | 'pause' | 'resume'

/** A schedule as stored. @internal */
export interface StoredSchedule {
  readonly id: string
  /** The definition as JSON. */
  readonly definition: string
  /** -1: none left. */
  readonly nextAt: number
}

/** A job a tick adds. @internal */
export interface TickJob {
  readonly id: string
  readonly name: string
  readonly data: string
  readonly priority: number
  readonly options: string
}

/**
 * One partition of a queue's state: the contract the Redis/Valkey store (one Lua script per
 * state change, every key under the partition's hash tag) and the in-process store share.
 *
 * @internal
 */
export interface QueueStore {
  readonly local: boolean
  add(
    jobs: readonly NewJob[],
    maxLength: number,
    overflow: 'reject' | 'drop-lowest' | 'wait',
  ): Promise<{ nowMs: number; jobs: StoredJob[]; dropped: string[] }>
  /** Stores the queue's default job options (JSON, '' for none); workers get them with their jobs. */
  setDefaults(options: string): Promise<void>
  /** Counts adds refused by a full queue (a backpressured producer gave up). */
  countRefused(n: number): Promise<void>
  step(settlements: readonly Settlement[], fetch: FetchRequest): Promise<StepResult>
  /** Returns the ids whose lease is lost. */
  extend(leases: readonly { id: string; token: string }[], leaseMs: number): Promise<string[]>
  progress(id: string, token: string, value: string): Promise<boolean>
  manage(action: ManageAction, ids: readonly string[], limit: number): Promise<number>
  getJob(id: string): Promise<JobRecord | undefined>
  /** Ids in a state: waiting and delayed in run order, completed and dead newest first. */
  list(state: JobState, start: number, end: number): Promise<string[]>
  counts(): Promise<JobCounts>
  /** Removes every key of the partition. */
  obliterate(): Promise<number>
  /**
   * Calls `listener` when jobs become ready for a sleeping worker (`jobs`), when the schedules
   * changed (`schedules`), or after a reconnect (`both`: a message may have been missed).
   * Returns an unsubscribe.
   */
  onWake(listener: (what: WakeReason) => void): Promise<() => Promise<void>>
  /** The id of the newest event ('0-0' when there is none). */
  lastEventId(): Promise<string>
  /** Events after `from` (exclusive; '0' from the start, '$' only new ones), waiting up to `blockMs`. */
  readEvents(from: string, count: number, blockMs: number, signal: AbortSignal): Promise<QueueEvent[]>
  upsertSchedule(id: string, definition: string, nextAt: number): Promise<void>
  removeSchedule(id: string): Promise<boolean>
  schedules(): Promise<StoredSchedule[]>
  /** The earliest tick of any schedule: [id, ms] or undefined. */
  nextTick(): Promise<{ id: string; at: number } | undefined>
  claimTick(
    id: string,
    tick: number,
    after: number,
    jobs: readonly TickJob[],
  ): Promise<{ claimed: boolean; nowMs: number }>
  close(): Promise<void>
}
