import type { MetricsRegistry } from '../core/index.js'
import type { JobCounts } from './queue-types.js'

/** The series one queue's workers update. @internal */
export interface QueueMetrics {
  jobs(outcome: 'completed' | 'retried' | 'dead' | 'stale' | 'lost', n?: number): void
  /** From add to the start of an attempt. */
  waited(seconds: number): void
  /** One attempt's run time. */
  processed(seconds: number): void
}

const STATES = ['waiting', 'delayed', 'active', 'completed', 'dead'] as const

/** Last known counts per queue and registry, read at scrape time. */
const countsByRegistry = new WeakMap<MetricsRegistry, Map<string, JobCounts>>()

/**
 * Declares the queue metrics on valkit's registry (idempotent) and returns the series of
 * queue `queue`. `queue_jobs{state}` shows the counts last read by a `Queue` of this process.
 *
 * @internal
 */
export function registerQueueMetrics(registry: MetricsRegistry, queue: string): QueueMetrics {
  let counts = countsByRegistry.get(registry)
  if (counts === undefined) {
    const known = (counts = new Map<string, JobCounts>())
    countsByRegistry.set(registry, counts)
    registry.gauge({
      name: 'queue_jobs',
      help: 'Jobs of a queue by state (waiting, delayed, active, completed, dead), as last read by this process.',
      labelNames: ['queue', 'state'],
      collect: (g) => {
        for (const [name, c] of known)
          for (const state of STATES) g.labels({ queue: name, state }).set(c[state])
      },
    })
  }
  const jobs = registry.counter({
    name: 'queue_worker_jobs_total',
    help: 'Attempts settled by this process by outcome (completed, retried, dead; stale: refused as the lease was gone; lost: lease lost while running).',
    labelNames: ['queue', 'outcome'],
  })
  const wait = registry.histogram({
    name: 'queue_job_wait_seconds',
    help: 'From add to the start of an attempt (for a delayed or retried job this includes its delay and earlier attempts).',
    labelNames: ['queue'],
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30, 300],
  })
  const run = registry.histogram({
    name: 'queue_job_duration_seconds',
    help: 'How long one attempt ran in the processor.',
    labelNames: ['queue'],
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30, 300],
  })
  const children = {
    completed: jobs.labels({ queue, outcome: 'completed' }),
    retried: jobs.labels({ queue, outcome: 'retried' }),
    dead: jobs.labels({ queue, outcome: 'dead' }),
    stale: jobs.labels({ queue, outcome: 'stale' }),
    lost: jobs.labels({ queue, outcome: 'lost' }),
  }
  const w = wait.labels({ queue })
  const r = run.labels({ queue })
  return {
    jobs: (outcome, n = 1) => children[outcome].inc(n),
    waited: (s) => w.observe(s),
    processed: (s) => r.observe(s),
  }
}

/** Records the counts a Queue read, for the `queue_jobs` gauge. @internal */
export function reportCounts(registry: MetricsRegistry, queue: string, counts: JobCounts): void {
  countsByRegistry.get(registry)?.set(queue, counts)
}
