/**
 * The shapes shared by the benchmark harness (`bench/run.ts`) and every benchmark it runs.
 * A benchmark is a module whose default export is a {@link Benchmark}; it receives a
 * {@link BenchContext} (options + a running server) and returns a {@link BenchReport} that the
 * harness prints as a table and writes as JSON.
 */

/** Options parsed from the command line (`npm run bench -- core --rounds 5`). */
export interface BenchOptions {
  /** Measured rounds per (scenario, library); the table shows the median. @defaultValue 3 */
  readonly rounds: number
  /** Length of one measured round, in milliseconds. @defaultValue 3000 */
  readonly durationMs: number
  /** Warm-up before each measured round, in milliseconds (not measured). @defaultValue 500 */
  readonly warmupMs: number
  /** Requests kept outstanding by the closed loop. @defaultValue 256 */
  readonly inflight: number
  /** Which server the launcher starts. @defaultValue 'redis' */
  readonly engine: 'redis' | 'valkey'
  /** Use this server instead of starting one (development only). */
  readonly url: string | undefined
  /** Skip external reference tools such as redis-benchmark. @defaultValue false */
  readonly noReference: boolean
}

/** A server the benchmark talks to. */
export interface BenchServer {
  readonly url: string
  readonly host: string
  readonly port: number
  /** `'redis'` or `'valkey'` as reported by the server itself (INFO server). */
  readonly engine: string
  /** Server version (INFO server). */
  readonly version: string
  /** How it was obtained: `'launcher'` (src/testing) or `'url'` (`--url`). */
  readonly source: 'launcher' | 'url'
}

/** What the harness hands a benchmark's `run()`. */
export interface BenchContext {
  readonly options: BenchOptions
  readonly server: BenchServer
  /** Progress output (stderr), so stdout stays the tables. */
  log(message: string): void
}

/** One row of a report: the median over rounds of one library in one scenario. */
export interface BenchRow {
  readonly scenario: string
  readonly library: string
  /** Median operations per second. */
  readonly opsPerSec: number
  /**
   * Median over rounds of (this library's ops/s ÷ the anchor's ops/s in the same round and
   * scenario); `undefined` when there is no anchor row.
   */
  readonly ratio: number | undefined
  /** Median over rounds of each round's latency percentiles, in milliseconds. */
  readonly p50Ms: number | undefined
  readonly p99Ms: number | undefined
  /** Client (this process) CPU time per operation, in microseconds. */
  readonly clientCpuUsPerOp: number | undefined
  /** Server CPU time per operation (INFO cpu delta), in microseconds. */
  readonly serverCpuUsPerOp: number | undefined
  /** A row measured by an external tool (redis-benchmark): shown for reference, not a library. */
  readonly reference?: boolean
  /** Free-form remark shown after the table. */
  readonly note?: string
  /** Every round's raw measurement, for the JSON file. */
  readonly rounds: readonly Measurement[]
}

/** What one measured round of one library in one scenario produced. */
export interface Measurement {
  readonly ops: number
  readonly errors: number
  readonly elapsedMs: number
  readonly opsPerSec: number
  readonly p50Ms: number | undefined
  readonly p99Ms: number | undefined
  readonly clientCpuUsPerOp: number | undefined
  readonly serverCpuUsPerOp: number | undefined
}

/** What a benchmark returns: the harness prints it as a table and writes it as JSON. */
export interface BenchReport {
  /** Title printed above the table. */
  readonly title: string
  /** The library every ratio is relative to (named in the header). */
  readonly anchor: string
  readonly rows: readonly BenchRow[]
  /** Lines printed after the table (settings, overheads, skipped rows and why). */
  readonly notes: readonly string[]
}

/** What a benchmark module exports as its default. */
export interface Benchmark {
  readonly name: string
  /** One line for `--list`. */
  readonly description: string
  run(ctx: BenchContext): Promise<BenchReport>
}
