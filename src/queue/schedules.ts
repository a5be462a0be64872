import { invalidOption, parseDuration, ValkitError } from '../core/index.js'
import { everyMs, parseCron } from './cron.js'
import { encodeJobOptions, resolveJobOptions, resolvePlacement } from './queue-options.js'
import type { QueueStore, TickJob } from './queue-store.js'
import type { ScheduleInfo, ScheduleOptions } from './queue-types.js'

/** A tick claimed later than this after its time counts as missed. */
const ON_TIME_MS = 60_000

interface Definition {
  readonly cron?: string
  readonly tz?: string
  readonly every?: number
  readonly start?: number
  readonly name: string
  readonly data: string
  readonly priority: number
  readonly options: string
  readonly missed: 'skip' | 'run-once' | 'run-all'
  readonly maxCatchUp: number
}

interface Next {
  next(afterMs: number): number
}

function timesOf(def: Definition): Next {
  if (def.cron !== undefined) return parseCron(def.cron, def.tz === undefined ? undefined : { tz: def.tz })
  return everyMs(def.every!, { startAtMs: def.start ?? 0 })
}

/** The next tick after `after`, or -1 when the schedule has none left. */
function nextOf(times: Next, after: number): number {
  try {
    const t = times.next(after)
    return Number.isFinite(t) ? t : -1
  } catch {
    return -1
  }
}

/**
 * Recurring jobs of a queue: definitions stored in Redis by id, the next tick of each in a
 * sorted set. Any worker may run a due tick; the claim script lets exactly one of them add its
 * job (and the job id `schedule:<id>:<tick>` makes a repeat harmless).
 *
 * @internal
 */
export class Schedules {
  readonly #defs = new Map<string, { def: Definition; times: Next }>()

  constructor(
    private readonly store: QueueStore,
    private readonly queue: string,
  ) {}

  async upsert(id: string, o: ScheduleOptions): Promise<ScheduleInfo> {
    if (typeof id !== 'string' || !/^[A-Za-z0-9._:-]{1,128}$/.test(id)) {
      throw new ValkitError(
        'VALKIT_INVALID_ARGUMENT',
        `A schedule id is 1-128 letters, digits and . _ : -; got ${JSON.stringify(String(id).slice(0, 40))}.`,
      )
    }
    if (typeof o !== 'object' || o === null)
      throw invalidOption('schedule', `got ${typeof o}`, '{ cron | every, job }')
    if ((o.cron === undefined) === (o.every === undefined)) {
      throw invalidOption(
        'schedule',
        o.cron === undefined ? 'neither cron nor every' : 'both cron and every',
        'exactly one of `cron` and `every`',
      )
    }
    if (typeof o.job?.name !== 'string' || o.job.name === '')
      throw invalidOption('schedule.job.name', 'missing', 'the name of the job each tick adds')
    const missed = o.missed ?? 'skip'
    if (!['skip', 'run-once', 'run-all'].includes(missed))
      throw invalidOption(
        'schedule.missed',
        `got ${JSON.stringify(missed)}`,
        "'skip', 'run-once' or 'run-all'",
      )
    const maxCatchUp = o.maxCatchUp ?? 100
    if (!Number.isInteger(maxCatchUp) || maxCatchUp < 1 || maxCatchUp > 10_000)
      throw invalidOption('schedule.maxCatchUp', `got ${String(maxCatchUp)}`, 'an integer from 1 to 10000')
    const placement = resolvePlacement({ priority: o.job.options?.priority }, 'schedule.job.options', 0)
    if (o.job.options !== undefined) resolveJobOptions(o.job.options, undefined, 'schedule.job.options')
    const now = Date.now()
    const def: Definition = {
      ...(o.cron !== undefined ? { cron: o.cron, ...(o.tz !== undefined ? { tz: o.tz } : {}) } : {}),
      ...(o.every !== undefined ? { every: parseDuration(o.every, 'schedule.every'), start: now } : {}),
      name: o.job.name,
      data: JSON.stringify(o.job.data ?? null),
      priority: placement.priority,
      options: encodeJobOptions(o.job.options),
      missed,
      maxCatchUp,
    }
    if (def.every !== undefined && def.every < 1)
      throw invalidOption('schedule.every', 'got 0', 'at least 1 ms')
    const times = timesOf(def) // throws VALKIT_INVALID_OPTION for a bad cron or zone
    const nextAt = nextOf(times, now)
    await this.store.upsertSchedule(id, JSON.stringify(def), nextAt)
    this.#defs.set(id, { def, times })
    return infoOf(id, def, nextAt)
  }

  remove(id: string): Promise<boolean> {
    this.#defs.delete(id)
    return this.store.removeSchedule(id)
  }

  async list(): Promise<ScheduleInfo[]> {
    const stored = await this.store.schedules()
    return stored.map((s) => infoOf(s.id, JSON.parse(s.definition) as Definition, s.nextAt))
  }

  /**
   * Claims every due tick. Returns when to look again (epoch ms; `Infinity` for no schedule).
   */
  async runDue(now = Date.now()): Promise<number> {
    for (let round = 0; round < 100; round++) {
      const next = await this.store.nextTick()
      if (next === undefined) return Infinity
      if (next.at > now) return next.at
      let entry = this.#defs.get(next.id)
      if (entry === undefined) {
        const stored = (await this.store.schedules()).find((s) => s.id === next.id)
        if (stored === undefined) continue
        const def = JSON.parse(stored.definition) as Definition
        entry = { def, times: timesOf(def) }
        this.#defs.set(next.id, entry)
      }
      const { def, times } = entry
      // The due ticks: next.at and every later one up to now.
      const due: number[] = [next.at]
      for (let t = nextOf(times, next.at); t >= 0 && t <= now && due.length < 100_000; t = nextOf(times, t))
        due.push(t)
      const onTime = due.filter((t) => now - t <= ON_TIME_MS)
      let ticks: number[]
      if (def.missed === 'run-all') ticks = due.slice(-def.maxCatchUp)
      else if (def.missed === 'run-once') ticks = due.slice(-1)
      else ticks = onTime.slice(-1)
      const jobs: TickJob[] = ticks.map((t) => ({
        id: `schedule:${next.id}:${t}`,
        name: def.name,
        data: def.data,
        priority: def.priority,
        options: def.options,
      }))
      const claim = await this.store.claimTick(
        next.id,
        next.at,
        nextOf(times, Math.max(now, due[due.length - 1]!)),
        jobs,
      )
      // Changed elsewhere (or claimed by another instance): read the definition again next time.
      if (!claim.claimed) this.#defs.delete(next.id)
    }
    return now + 1000
  }

  /** The queue this scheduler belongs to (for logs). */
  get name(): string {
    return this.queue
  }
}

function infoOf(id: string, def: Definition, nextAt: number): ScheduleInfo {
  return {
    id,
    ...(def.cron !== undefined ? { cron: def.cron } : {}),
    ...(def.tz !== undefined ? { tz: def.tz } : {}),
    ...(def.every !== undefined ? { every: def.every } : {}),
    jobName: def.name,
    nextAt: nextAt >= 0 ? nextAt : undefined,
  }
}
