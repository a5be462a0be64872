import { execFile } from 'node:child_process'
import { promisify } from 'node:util'

const run = promisify(execFile)

/** One CSV line of `redis-benchmark --csv`. */
export interface RedisBenchmarkRow {
  readonly test: string
  readonly rps: number
  readonly p50Ms: number | undefined
  readonly p99Ms: number | undefined
}

/** One redis-benchmark invocation. */
export interface RedisBenchmarkRun {
  readonly host: string
  readonly port: number
  /** `-c` parallel connections. */
  readonly clients: number
  /** `-n` total requests per test. */
  readonly requests: number
  /** `-P` commands pipelined per connection. */
  readonly pipeline: number
  /** `-t` tests (`get,set`); or a whole command in `command`. */
  readonly tests?: readonly string[]
  /** A custom command (`EVALSHA <sha> 1 k:__rand_int__`); `__rand_int__` is replaced per request. */
  readonly command?: readonly string[]
  /** `-r` keyspace for `__rand_int__`. */
  readonly keyspace?: number
  /** Data size in bytes for SET (`-d`). */
  readonly dataSize?: number
  /** Binary to run. @defaultValue 'redis-benchmark' */
  readonly binary?: string
}

/** Parses `redis-benchmark --csv` output (a header line, then one quoted line per test). */
export function parseRedisBenchmarkCsv(text: string): RedisBenchmarkRow[] {
  const lines = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.startsWith('"'))
  const split = (line: string): string[] => line.split('","').map((c) => c.replace(/^"|"$/g, ''))
  const header = lines.length > 0 ? split(lines[0]!) : []
  const col = (name: string): number => header.indexOf(name)
  if (col('test') < 0 || col('rps') < 0)
    throw new Error(`unexpected redis-benchmark output: ${text.slice(0, 200)}`)
  const num = (cells: string[], name: string): number | undefined => {
    const i = col(name)
    const value = i < 0 ? NaN : Number(cells[i])
    return Number.isFinite(value) ? value : undefined
  }
  return lines.slice(1).map((line) => {
    const cells = split(line)
    return {
      test: cells[col('test')] ?? '',
      rps: num(cells, 'rps') ?? 0,
      p50Ms: num(cells, 'p50_latency_ms'),
      p99Ms: num(cells, 'p99_latency_ms'),
    }
  })
}

/** Runs redis-benchmark once and returns its parsed CSV rows. */
export async function runRedisBenchmark(options: RedisBenchmarkRun): Promise<RedisBenchmarkRow[]> {
  const args = [
    '-h',
    options.host,
    '-p',
    String(options.port),
    '-c',
    String(options.clients),
    '-n',
    String(options.requests),
    '-P',
    String(options.pipeline),
    '--csv',
  ]
  if (options.keyspace !== undefined) args.push('-r', String(options.keyspace))
  if (options.dataSize !== undefined) args.push('-d', String(options.dataSize))
  if (options.tests !== undefined) args.push('-t', options.tests.join(','))
  if (options.command !== undefined) args.push(...options.command)
  const { stdout } = await run(options.binary ?? 'redis-benchmark', args, { timeout: 120_000 })
  return parseRedisBenchmarkCsv(stdout)
}

/** Whether the redis-benchmark binary can be run. */
export async function hasRedisBenchmark(binary = 'redis-benchmark'): Promise<boolean> {
  try {
    await run(binary, ['--version'], { timeout: 5000 })
    return true
  } catch {
    return false
  }
}
