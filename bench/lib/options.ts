import type { BenchOptions } from './types.js'

/** Defaults sized so that `npm run bench` stays under ~5 minutes on 2 cores. */
export const DEFAULT_BENCH_OPTIONS: Readonly<BenchOptions> = Object.freeze({
  rounds: 3,
  durationMs: 3000,
  warmupMs: 500,
  inflight: 256,
  engine: 'redis',
  url: undefined,
  noReference: false,
})

/** The command line of `bench/run.ts`, parsed. */
export interface ParsedCommandLine {
  readonly options: BenchOptions
  /** Benchmark names given as positional arguments (empty: all). */
  readonly names: readonly string[]
  readonly list: boolean
  readonly help: boolean
}

/** `--help` text. */
export const USAGE = `Usage: npm run bench -- [name ...] [options]

  name               run only these benchmarks (default: every registered one)
  --list             list the registered benchmarks and exit
  --rounds N         measured rounds per library and scenario; the table shows medians (default 3)
  --duration D       length of one measured round: 3s, 1500ms, 2 (seconds) (default 3s)
  --warmup D         warm-up before each measured round (default 500ms)
  --inflight N       requests kept outstanding by the closed loop (default 256)
  --engine E         redis | valkey: which server the launcher starts (default redis)
  --url URL          use this server instead of starting one (development only)
  --no-reference     skip external reference tools (redis-benchmark)
`

/** Parses a human duration (`3s`, `1500ms`, `2` = seconds) into milliseconds. */
export function parseDuration(text: string, flag: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s)?$/.exec(text.trim())
  if (!match) throw new Error(`${flag}: expected a duration such as 3s or 500ms, got "${text}"`)
  const value = Number(match[1])
  const ms = match[2] === 'ms' ? value : value * 1000
  if (ms <= 0) throw new Error(`${flag}: must be positive`)
  return Math.round(ms)
}

function parsePositiveInt(text: string, flag: string): number {
  const value = Number(text)
  if (!Number.isInteger(value) || value < 1)
    throw new Error(`${flag}: expected a positive integer, got "${text}"`)
  return value
}

/** Parses `process.argv.slice(2)`; throws an `Error` with a readable message on bad input. */
export function parseCommandLine(argv: readonly string[]): ParsedCommandLine {
  let options: BenchOptions = { ...DEFAULT_BENCH_OPTIONS }
  const names: string[] = []
  let list = false
  let help = false
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!
    const eq = arg.indexOf('=')
    const flag = arg.startsWith('--') && eq > 0 ? arg.slice(0, eq) : arg
    const inline = arg.startsWith('--') && eq > 0 ? arg.slice(eq + 1) : undefined
    const value = (): string => {
      if (inline !== undefined) return inline
      const next = argv[++i]
      if (next === undefined) throw new Error(`${flag}: missing value`)
      return next
    }
    switch (flag) {
      case '--list':
        list = true
        break
      case '--help':
      case '-h':
        help = true
        break
      case '--rounds':
        options = { ...options, rounds: parsePositiveInt(value(), flag) }
        break
      case '--duration':
        options = { ...options, durationMs: parseDuration(value(), flag) }
        break
      case '--warmup':
        options = { ...options, warmupMs: parseDuration(value(), flag) }
        break
      case '--inflight':
        options = { ...options, inflight: parsePositiveInt(value(), flag) }
        break
      case '--engine': {
        const engine = value()
        if (engine !== 'redis' && engine !== 'valkey') throw new Error(`--engine: expected redis or valkey`)
        options = { ...options, engine }
        break
      }
      case '--url':
        options = { ...options, url: value() }
        break
      case '--no-reference':
        options = { ...options, noReference: true }
        break
      default:
        if (arg.startsWith('-')) throw new Error(`unknown option ${arg}`)
        names.push(arg)
    }
  }
  return { options, names, list, help }
}
