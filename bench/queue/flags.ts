/**
 * The `queue` benchmark's own flags (`npm run bench -- queue --quick`), taken out of the command
 * line by bench/run.ts before the harness parses the rest. No dependencies: run.ts imports this
 * file eagerly, the benchmark itself stays lazily loaded.
 */

/** What the flags asked for. */
export interface QueueFlags {
  /** A smoke run: few jobs in every scenario. */
  readonly quick: boolean
  /** Also measure partitions 1 vs 3 on a 3-master Cluster started for it. */
  readonly cluster: boolean
  /** Jobs per throughput measurement instead of the default (or the quick one). */
  readonly jobs: number | undefined
}

let flags: QueueFlags = { quick: false, cluster: false, jobs: undefined }

/** `--help` lines for these flags. */
export const QUEUE_USAGE = `
  queue benchmark only:
  --quick            smoke run: 2,000 jobs per measurement, 100 idle jobs, 2,000 kept jobs
  --jobs N           jobs per add/process measurement (default 50,000)
  --cluster          also partitions 1 vs 3 on a 3-master Cluster (started for it)
`

/** Removes the queue flags from `argv`, remembers them, and returns the rest for the harness. */
export function takeQueueFlags(argv: readonly string[]): string[] {
  const rest: string[] = []
  let next: QueueFlags = { ...flags }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!
    if (arg === '--quick') next = { ...next, quick: true }
    else if (arg === '--cluster') next = { ...next, cluster: true }
    else if (arg === '--jobs' || arg.startsWith('--jobs=')) {
      const text = arg === '--jobs' ? argv[++i] : arg.slice('--jobs='.length)
      const jobs = Number(text)
      if (!Number.isInteger(jobs) || jobs < 1)
        throw new Error(`--jobs: expected a positive integer, got "${text}"`)
      next = { ...next, jobs }
    } else rest.push(arg)
  }
  flags = next
  return rest
}

/** The flags `takeQueueFlags` found (defaults when the benchmark runs without them). */
export function queueFlags(): QueueFlags {
  return flags
}
