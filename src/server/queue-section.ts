import type { MetricSnapshot } from '../core/index.js'
import type { JobCounts, JobState } from '../queue/index.js'
import type { QueueReading } from './queue-sources.js'
import { addTo, RateTracker, type Counted, type SectionInterval } from './rate-tracker.js'
import {
  byName,
  readSeries,
  seriesKey,
  withoutLabel,
  type SectionExtra,
  type SeriesSample,
} from './section-series.js'

/** Jobs of a queue per state. */
export type QueueStateCounts = Readonly<Record<JobState, number>>

/** A queue's running totals (every instance, from `queue.counts()`), with their rates. */
export interface QueueTotals {
  readonly added: Counted
  readonly completed: Counted
  /** Failed attempts, retried or not. */
  readonly failed: Counted
  /** Jobs moved to the dead letters. */
  readonly dead: Counted
  readonly stalled: Counted
  /** Adds refused because the queue was full. */
  readonly refused: Counted
  /** Jobs dropped by the `drop-lowest` overflow policy. */
  readonly dropped: Counted
}

/** One of a queue's time histograms, as this process's workers observed it (since they started). */
export interface QueueLatency {
  /** Observations, with their rate over the section's interval. */
  readonly observed: Counted
  /** Mean in milliseconds; `null` before the first observation. */
  readonly meanMs: number | null
  /** From the histogram's quantile sketch (its buckets when it has none). */
  readonly p50Ms: number | null
  /**
   * Interpolated in the histogram's buckets (as Prometheus' `histogram_quantile`), kept between
   * the sketch's p90 and p99.
   */
  readonly p95Ms: number | null
  readonly p99Ms: number | null
}

/** One queue in the dashboard snapshot. */
export interface QueuePanelStats {
  readonly queue: string
  /**
   * Whether the queue was given to the server (`panels.queues`): only those have `totals`, a
   * job browser and actions in the admin API.
   */
  readonly managed: boolean
  /**
   * Jobs per state: from `queue.counts()` (read at most once per snapshot interval) for a queue
   * given to the server, else from the `queue_jobs` gauge (what a `Queue` of this process last
   * read); `null` when neither is known.
   */
  readonly counts: QueueStateCounts | null
  /** Epoch ms of the `counts()` call `counts` come from; `null` for gauge counts or none. */
  readonly countsAt: number | null
  /** Whether workers are told to stop fetching; `null` when not known (a queue not given). */
  readonly paused: boolean | null
  /** The queue's running totals; `null` for a queue not given to the server. */
  readonly totals: QueueTotals | null
  /**
   * What the rates of `totals` cover: between the two last successful `counts()` calls (so a
   * failed read widens the interval instead of showing a stall); `null` before two of them.
   */
  readonly totalsInterval: SectionInterval | null
  /**
   * Completed and failed attempts per second: the whole queue's (`totals`, every instance) for
   * a queue given to the server, else this process's workers'.
   */
  readonly throughput: {
    readonly completed: Counted
    readonly failed: Counted
    readonly scope: 'queue' | 'process'
  }
  /**
   * Attempts settled by this process's workers by outcome (`completed`, `retried`, `dead`,
   * `stale`, `lost`); `null` when no worker of this queue runs here.
   */
  readonly workers: Readonly<Record<string, Counted>> | null
  /** From add to the start of an attempt; `null` when no worker of this queue runs here. */
  readonly wait: QueueLatency | null
  /** How long attempts ran in the processor; `null` when no worker of this queue runs here. */
  readonly processing: QueueLatency | null
  /** Why the last `counts()` failed (Redis unreachable...); `counts` are then the last good ones. */
  readonly error?: string
  /** Other `valkit_queue_*` series of this queue. */
  readonly extras: readonly SectionExtra[]
}

/** The `queues` section of the dashboard snapshot. */
export interface QueuesSection {
  /** Epoch milliseconds of the registry reading. */
  readonly at: number
  /** What the rates of the registry series cover; `null` before there are two readings. */
  readonly interval: SectionInterval | null
  /** Every queue given to the server or seen in the registry, sorted by name. */
  readonly queues: readonly QueuePanelStats[]
  /** `valkit_queue_*` series without a `queue` label. */
  readonly extras: readonly SectionExtra[]
}

const STATES: readonly JobState[] = ['waiting', 'delayed', 'active', 'completed', 'dead']
const TOTALS: readonly (keyof JobCounts['totals'])[] = [
  'added',
  'completed',
  'failed',
  'dead',
  'stalled',
  'refused',
  'dropped',
]
const OUTCOMES = ['completed', 'retried', 'dead', 'stale', 'lost'] as const

const vkey = (...parts: string[]): string => JSON.stringify(parts)

interface HistogramReading {
  count: number
  sum: number
  percentiles: SeriesSample['percentiles']
  buckets: SeriesSample['buckets']
}

interface QueueBuilder {
  gauge: Partial<Record<JobState, number>> | null
  outcomes: Set<string>
  wait: HistogramReading | null
  processing: HistogramReading | null
  extras: { sample: Omit<SectionExtra, 'perSecond'>; key: string }[]
}

/**
 * The value at quantile `q` of a histogram's cumulative buckets, interpolated linearly inside
 * the bucket it falls in (the lower bound of the first bucket is 0); in the `+Inf` bucket, the
 * highest finite bound. `null` without observations.
 *
 * @example
 * ```ts
 * bucketQuantile([{ le: 0.1, count: 50 }, { le: 1, count: 100 }], 100, 0.95) // 0.91
 * ```
 */
export function bucketQuantile(
  buckets: ReadonlyArray<{ readonly le: number; readonly count: number }>,
  count: number,
  q: number,
): number | null {
  if (count <= 0) return null
  const rank = q * count
  let lower = 0
  let below = 0
  for (const b of buckets) {
    if (b.count >= rank) {
      const inside = b.count - below
      return inside <= 0 ? b.le : lower + (b.le - lower) * ((rank - below) / inside)
    }
    lower = b.le
    below = b.count
  }
  return lower
}

function stateCounts(from: Partial<Record<JobState, number>>): QueueStateCounts {
  return {
    waiting: from.waiting ?? 0,
    delayed: from.delayed ?? 0,
    active: from.active ?? 0,
    completed: from.completed ?? 0,
    dead: from.dead ?? 0,
  }
}

function latency(h: HistogramReading | null, observed: Counted): QueueLatency | null {
  if (h === null) return null
  if (h.count <= 0) return { observed, meanMs: null, p50Ms: null, p95Ms: null, p99Ms: null }
  const buckets = h.buckets ?? []
  const fromBuckets = (q: number): number | null => bucketQuantile(buckets, h.count, q)
  const p = h.percentiles
  const ms = (seconds: number | null): number | null => (seconds === null ? null : seconds * 1000)
  let p95 = fromBuckets(0.95)
  if (p && p95 !== null) p95 = Math.min(Math.max(p95, p.p90), p.p99)
  return {
    observed,
    meanMs: (h.sum / h.count) * 1000,
    p50Ms: ms(p ? p.p50 : fromBuckets(0.5)),
    p95Ms: ms(p95),
    p99Ms: ms(p ? p.p99 : fromBuckets(0.99)),
  }
}

/**
 * Turns registry readings and the counts of the queues given to the server into the
 * dashboard's `queues` section: per queue, jobs per state, the running totals and their rates,
 * completed and failed per second, this process's workers by outcome, and wait and processing
 * times (p50/p95/p99, mean). Registry rates follow {@link RateTracker}'s rule; series it does
 * not know become `extras`.
 *
 * @example
 * ```ts
 * const section = new QueueSectionBuilder(1000)
 * const readings = await new QueueSources([queue], 1000).read(3000)
 * const queues = section.build(valkit.metrics.snapshot(), valkit.metrics.prefix, Date.now(), readings)
 * for (const q of queues.queues) console.log(q.queue, q.counts?.dead, q.throughput.completed.perSecond)
 * ```
 */
export class QueueSectionBuilder {
  readonly #intervalMs: number
  readonly #tracker: RateTracker
  /** Per queue given: the totals' rates between successful counts() calls. */
  readonly #totals = new Map<string, { tracker: RateTracker; lastAt: number }>()

  /** `intervalMs`: the snapshot interval. */
  constructor(intervalMs: number) {
    this.#intervalMs = intervalMs
    this.#tracker = new RateTracker(intervalMs)
  }

  /**
   * Builds the section from one registry snapshot taken at `at` and the counts read from the
   * queues given to the server (`readings`, by queue name).
   */
  build(
    metrics: readonly MetricSnapshot[],
    prefix: string,
    at: number,
    readings: ReadonlyMap<string, QueueReading> = new Map(),
  ): QueuesSection {
    const values = new Map<string, number>()
    const byQueue = new Map<string, QueueBuilder>()
    const extras: { sample: Omit<SectionExtra, 'perSecond'>; key: string }[] = []
    const of = (queue: string): QueueBuilder => {
      let b = byQueue.get(queue)
      if (b === undefined) {
        b = { gauge: null, outcomes: new Set(), wait: null, processing: null, extras: [] }
        byQueue.set(queue, b)
      }
      return b
    }
    for (const name of readings.keys()) of(name)

    for (const s of readSeries(metrics, prefix, 'queue_')) {
      const queue = s.labels.queue
      if (queue === undefined) {
        const key = seriesKey(s.name, s.labels)
        values.set(key, s.value)
        extras.push({ sample: { name: s.name, labels: s.labels, type: s.type, value: s.value }, key })
        continue
      }
      const b = of(queue)
      const state = s.labels.state as JobState | undefined
      if (s.type === 'gauge' && s.name === 'queue_jobs' && state !== undefined && STATES.includes(state)) {
        b.gauge ??= {}
        b.gauge[state] = (b.gauge[state] ?? 0) + s.value
      } else if (s.type === 'counter' && s.name === 'queue_worker_jobs_total') {
        const outcome = s.labels.outcome ?? 'unknown'
        b.outcomes.add(outcome)
        addTo(values, vkey('w', queue, outcome), s.value)
        if (outcome === 'retried' || outcome === 'dead')
          addTo(values, vkey('w', queue, '', 'failed'), s.value)
      } else if (
        s.type === 'histogram' &&
        (s.name === 'queue_job_wait_seconds' || s.name === 'queue_job_duration_seconds')
      ) {
        const which = s.name === 'queue_job_wait_seconds' ? 'wait' : 'processing'
        const h = b[which]
        // one series per queue; a queue split by a future label keeps its count and sum
        b[which] = {
          count: (h?.count ?? 0) + s.value,
          sum: (h?.sum ?? 0) + (s.sum ?? 0),
          percentiles: h === null ? s.percentiles : undefined,
          buckets: h === null ? s.buckets : undefined,
        }
        addTo(values, vkey(which, queue), s.value)
      } else {
        const key = seriesKey(s.name, s.labels)
        values.set(key, s.value)
        b.extras.push({
          sample: { name: s.name, labels: withoutLabel(s.labels, 'queue'), type: s.type, value: s.value },
          key,
        })
      }
    }

    const t = this.#tracker
    t.advance(at, values)
    const counted = (key: string): Counted => t.counted(key, values.get(key) ?? 0)
    const toExtra = ({ sample, key }: { sample: Omit<SectionExtra, 'perSecond'>; key: string }) => ({
      ...sample,
      perSecond: sample.type === 'gauge' ? null : t.perSecond(key),
    })
    for (const name of [...this.#totals.keys()]) if (!readings.has(name)) this.#totals.delete(name)

    const queues = [...byQueue].sort(byName(([name]) => name)).map(([queue, b]): QueuePanelStats => {
      const reading = readings.get(queue)
      const hasWorkers = b.outcomes.size > 0 || b.wait !== null || b.processing !== null
      const workers: Record<string, Counted> = {}
      for (const outcome of [...new Set([...OUTCOMES, ...b.outcomes])]) {
        workers[outcome] = counted(vkey('w', queue, outcome))
      }
      const processFailed = counted(vkey('w', queue, '', 'failed'))
      const totals = reading ? this.#queueTotals(queue, reading) : null
      const gauge = b.gauge
      const counts = reading?.counts
        ? stateCounts(reading.counts)
        : reading === undefined && gauge !== null
          ? stateCounts(gauge)
          : null
      return {
        queue,
        managed: reading !== undefined,
        counts,
        countsAt: reading?.counts ? reading.at : null,
        paused: reading?.counts ? reading.counts.paused : null,
        totals: totals?.totals ?? null,
        totalsInterval: totals?.interval ?? null,
        throughput: totals
          ? { completed: totals.totals.completed, failed: totals.totals.failed, scope: 'queue' }
          : { completed: workers.completed!, failed: processFailed, scope: 'process' },
        workers: hasWorkers ? workers : null,
        wait: latency(b.wait, counted(vkey('wait', queue))),
        processing: latency(b.processing, counted(vkey('processing', queue))),
        ...(reading?.error !== undefined ? { error: reading.error } : {}),
        extras: b.extras.map(toExtra),
      }
    })
    return { at, interval: t.interval, queues, extras: extras.map(toExtra) }
  }

  /** The totals of a queue given, with rates between its successful counts() calls. */
  #queueTotals(
    queue: string,
    reading: QueueReading,
  ): { totals: QueueTotals; interval: SectionInterval | null } | null {
    const counts = reading.counts
    if (counts === null || reading.at === null) return null
    let entry = this.#totals.get(queue)
    if (entry === undefined) {
      entry = { tracker: new RateTracker(this.#intervalMs), lastAt: -Infinity }
      this.#totals.set(queue, entry)
    }
    const tracker = entry.tracker
    const values = new Map(TOTALS.map((k) => [k, counts.totals[k]]))
    if (reading.at > entry.lastAt) {
      entry.lastAt = reading.at
      tracker.advance(reading.at, values)
    }
    // while the queue cannot be read, its last rates are not what it does now
    const rate = (k: keyof JobCounts['totals']): Counted =>
      reading.error === undefined
        ? tracker.counted(k, counts.totals[k])
        : { total: counts.totals[k], perSecond: null }
    const totals = Object.fromEntries(TOTALS.map((k) => [k, rate(k)]))
    return { totals: totals as unknown as QueueTotals, interval: tracker.interval }
  }
}
