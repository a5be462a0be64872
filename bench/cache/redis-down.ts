/**
 * Scenario 5: what a getOrSet call costs when Redis has gone away. Each library opens an L1 + L2
 * cache on a launcher server started for this scenario only and proves it works; then the
 * server is killed (SIGKILL) and waves of getOrSet calls on fresh keys are timed, each capped at
 * {@link DOWN_CAP_MS} so that a hanging library is reported rather than waited for.
 */
import { startServer } from '../../src/testing/index.js'
import type { BenchContext } from '../lib/types.js'
import type { CacheAdapter, CacheLibrary } from './libraries.js'
import type { EventOutcome } from './rows.js'
import { errorText } from './rows.js'
import { DOWN_CALLS_PER_WAVE, DOWN_CAP_MS, DOWN_WAVES, VALUE } from './workload.js'

const CAPPED = Symbol('capped')

/** Races `work` against the cap; the timer is cleared either way. */
async function withCap<T>(work: Promise<T>): Promise<T | typeof CAPPED> {
  let timer: NodeJS.Timeout | undefined
  try {
    return await Promise.race([
      work,
      new Promise<typeof CAPPED>((resolve) => {
        timer = setTimeout(() => resolve(CAPPED), DOWN_CAP_MS)
      }),
    ])
  } finally {
    clearTimeout(timer)
  }
}

/** Waves of capped getOrSet calls on a cache whose server is gone. */
async function measureDown(library: CacheLibrary, cache: CacheAdapter): Promise<EventOutcome> {
  const latenciesMs: number[] = []
  const waveP50: string[] = []
  let errors = 0
  let capped = 0
  let loaded = 0
  let firstError: string | undefined
  for (let wave = 0; wave < DOWN_WAVES; wave++) {
    const calls = Array.from({ length: DOWN_CALLS_PER_WAVE }, async (_, n) => {
      const start = performance.now()
      try {
        const result = await withCap(cache.getOrSet(`down:${wave}:${n}`, async () => VALUE))
        if (result === CAPPED) capped++
        else loaded++
      } catch (err) {
        errors++
        firstError ??= errorText(err)
      }
      return Math.min(performance.now() - start, DOWN_CAP_MS)
    })
    const wavesMs = await Promise.all(calls)
    latenciesMs.push(...wavesMs)
    const sorted = [...wavesMs].sort((a, b) => a - b)
    const p50 = sorted[sorted.length >> 1]!
    waveP50[wave] = p50 >= 1000 ? `${(p50 / 1000).toFixed(2)} s` : `${p50.toFixed(2)} ms`
  }
  const total = DOWN_WAVES * DOWN_CALLS_PER_WAVE
  const parts = [
    `${library.getOrSetName}: ${loaded}/${total} answered with the loader's value`,
    ...(errors > 0 ? [`${errors}/${total} rejected (${firstError ?? '?'})`] : []),
    ...(capped > 0
      ? [
          `${capped}/${total} still pending at the ${DOWN_CAP_MS / 1000} s cap (shown as ${DOWN_CAP_MS} ms, read ">= 15 s")`,
        ]
      : []),
    `p50 per wave: ${waveP50.join(', ')}`,
  ]
  return { latenciesMs, errors, cappedCalls: capped, note: parts.join('; ') }
}

/**
 * Starts a launcher server just for this scenario (the harness's server stays up for the
 * others; `acquireServer` does not hand out a handle to kill), opens one L1 + L2 cache per
 * library and checks it with one getOrSet, kills the server, then measures every library at
 * once (their calls mostly wait on timers, so running them side by side costs no accuracy and
 * keeps the scenario near the cap's length).
 */
export async function runRedisDown(
  ctx: BenchContext,
  libraries: readonly CacheLibrary[],
): Promise<Map<string, EventOutcome | Error>> {
  const results = new Map<string, EventOutcome | Error>()
  const server = await startServer({ engine: ctx.options.engine, label: 'bench-cache-down' })
  const opened: { library: CacheLibrary; cache: CacheAdapter }[] = []
  try {
    for (const library of libraries) {
      try {
        const cache = await library.open(server.url, 'l1+l2')
        opened.push({ library, cache })
        await cache.getOrSet('down:setup', async () => VALUE)
      } catch (err) {
        results.set(library.name, err instanceof Error ? err : new Error(String(err)))
      }
    }
    await server.kill('SIGKILL')
    ctx.log(`  5. Redis down: server killed; up to ${DOWN_WAVES} × ${DOWN_CAP_MS / 1000} s of capped calls`)
    const ready = opened.filter((o) => !results.has(o.library.name))
    const outcomes = await Promise.all(ready.map((o) => measureDown(o.library, o.cache)))
    ready.forEach((o, i) => results.set(o.library.name, outcomes[i]!))
    return results
  } finally {
    for (const o of opened) await o.cache.close().catch(() => {})
    await server.stop()
  }
}
