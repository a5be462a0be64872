/**
 * valkit's benchmark harness: `npm run bench [-- name ...] [--rounds N --duration 3s ...]`.
 * Runs each registered benchmark against its own server, prints a table per benchmark and
 * writes the results to bench/results/<name>-<timestamp>.json.
 */
import { cpus, loadavg } from 'node:os'
import { BENCHMARKS } from './registry.js'
import { USAGE, parseCommandLine } from './lib/options.js'
import { QUEUE_USAGE, takeQueueFlags } from './queue/flags.js'
import { redactUrl, writeResults } from './lib/results.js'
import { acquireServer } from './lib/server.js'
import { renderReport } from './lib/table.js'
import type { BenchContext } from './lib/types.js'

const log = (message: string): void => {
  process.stderr.write(`${message}\n`)
}

async function main(): Promise<number> {
  let parsed
  try {
    parsed = parseCommandLine(takeQueueFlags(process.argv.slice(2)))
  } catch (err) {
    log(`bench: ${err instanceof Error ? err.message : String(err)}\n\n${USAGE}${QUEUE_USAGE}`)
    return 2
  }
  if (parsed.help) {
    process.stdout.write(USAGE + QUEUE_USAGE)
    return 0
  }
  if (parsed.list) {
    for (const [name, load] of Object.entries(BENCHMARKS)) {
      const bench = await load()
      process.stdout.write(`${name.padEnd(12)} ${bench.description}\n`)
    }
    return 0
  }
  const unknown = parsed.names.filter((n) => !(n in BENCHMARKS))
  if (unknown.length > 0) {
    log(`bench: unknown benchmark ${unknown.join(', ')}; known: ${Object.keys(BENCHMARKS).join(', ')}`)
    return 2
  }
  const names = parsed.names.length > 0 ? parsed.names : Object.keys(BENCHMARKS)
  const { options } = parsed
  let failed = 0
  for (const name of names) {
    const bench = await BENCHMARKS[name]!()
    const acquired = await acquireServer(options)
    const ctx: BenchContext = { options, server: acquired.server, log }
    try {
      log(
        `bench ${name}: ${acquired.server.engine} ${acquired.server.version} at ${redactUrl(acquired.server.url)} (${acquired.server.source})`,
      )
      const loadBefore = loadavg()[0]!
      const report = await bench.run(ctx)
      const load = { start: loadBefore, end: loadavg()[0]! }
      const header = [
        `server: ${acquired.server.engine} ${acquired.server.version} (${acquired.server.source === 'launcher' ? 'started by the launcher' : `--url ${redactUrl(acquired.server.url)}`})`,
        `machine: ${cpus().length} cores, Node ${process.version}; load average ${load.start.toFixed(1)} before, ${load.end.toFixed(1)} after`,
        `${options.rounds} rounds × ${options.durationMs} ms (warm-up ${options.warmupMs} ms), ${options.inflight} in flight; medians`,
      ]
      process.stdout.write(`\n${renderReport(report, header)}\n\n`)
      const path = await writeResults(name, report, ctx, { loadAverage1m: load })
      log(`bench ${name}: results written to ${path}`)
    } catch (err) {
      failed++
      log(`bench ${name}: FAILED ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`)
    } finally {
      await acquired.release()
    }
  }
  return failed > 0 ? 1 : 0
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    log(`bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`)
    process.exit(1)
  },
)
