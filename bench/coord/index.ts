/**
 * `coord`: valkit's locks side by side with redlock 5 and redis-semaphore 5 against one server —
 * uncontended acquire+release on distinct keys, and 100 contenders on one key (grants per
 * second, every contender granted or not, Jain's fairness index).
 */
import { median } from '../lib/closed-loop.js'
import { compareSubjects, loopSubject } from '../lib/compare.js'
import { openServerCpuProbe } from '../lib/server.js'
import type { Benchmark, BenchContext, BenchReport, BenchRow } from '../lib/types.js'
import { runContention, type ContentionRound } from './contention.js'
import { startServer, type ServerHandle } from '../../src/testing/index.js'
import {
  openRedisSemaphore,
  openRedlock,
  openValkit,
  openValkitRedlock,
  type LockLibrary,
} from './libraries.js'
import {
  CONTENDERS,
  REDLOCK_RETRY,
  SCENARIOS,
  TARGET_CONTENDED_VS_REDLOCK,
  TARGET_UNCONTENDED,
  UNCONTENDED_KEYS,
} from './workload.js'

const REDLOCK = 'redlock 5 (ioredis)'
const SEMAPHORE = 'redis-semaphore Mutex (ioredis)'

/** Scenario 2: rounds as the outer loop, libraries rotated each round, a fresh key per run. */
async function contentionRows(ctx: BenchContext, libraries: readonly LockLibrary[]): Promise<BenchRow[]> {
  const rounds = new Map<string, ContentionRound[]>()
  const failures = new Map<string, string>()
  for (let round = 0; round < ctx.options.rounds; round++) {
    for (let i = 0; i < libraries.length; i++) {
      const library = libraries[(i + round) % libraries.length]!
      if (failures.has(library.name)) continue
      try {
        const key = `bench:c:${round}:${i}:${Date.now()}`
        const result = await runContention(library, key, ctx.options.durationMs)
        rounds.set(library.name, [...(rounds.get(library.name) ?? []), result])
        ctx.log(
          `  round ${round + 1}/${ctx.options.rounds}  ${SCENARIOS.contended}  ${library.name}: ${Math.round(result.opsPerSec)} grants/s, Jain ${result.jain.toFixed(3)}, never granted ${result.neverGranted}`,
        )
      } catch (err) {
        failures.set(library.name, err instanceof Error ? err.message : String(err))
      }
    }
  }
  const anchor = rounds.get(REDLOCK)
  return libraries.map((library) => {
    const list = rounds.get(library.name) ?? []
    const ratio = anchor
      ? median(list.map((m, r) => (anchor[r] ? m.opsPerSec / anchor[r].opsPerSec : undefined)))
      : undefined
    const jain = median(list.map((m) => m.jain))
    const never = list.map((m) => m.neverGranted)
    const errors = list.reduce((sum, m) => sum + m.errors, 0)
    const overlaps = list.reduce((sum, m) => sum + m.overlaps, 0)
    const note =
      failures.get(library.name) ??
      `Jain ${jain?.toFixed(3) ?? '-'}; never granted per round ${never.join('/')} of ${CONTENDERS}; ${errors} failed acquires; ${overlaps} overlaps`
    return {
      scenario: SCENARIOS.contended,
      library: library.name,
      opsPerSec: median(list.map((m) => m.opsPerSec)) ?? 0,
      ratio,
      p50Ms: median(list.map((m) => m.p50Ms)),
      p99Ms: median(list.map((m) => m.p99Ms)),
      clientCpuUsPerOp: median(list.map((m) => m.clientCpuUsPerOp)),
      serverCpuUsPerOp: undefined,
      note,
      rounds: list,
    }
  })
}

function verdict(ratio: number | undefined, target: number): string {
  if (ratio === undefined) return 'not measured'
  return `${ratio.toFixed(2)}× (target ≥ ${target}×: ${ratio >= target ? 'met' : 'NOT met'})`
}

/** The issue's targets, from the rows' per-round numbers. */
function targetNotes(rows: readonly BenchRow[]): string[] {
  const find = (scenario: string, library: string) =>
    rows.find((r) => r.scenario === scenario && r.library === library)
  const notes: string[] = []
  const red = find(SCENARIOS.uncontended, REDLOCK)
  const sem = find(SCENARIOS.uncontended, SEMAPHORE)
  for (const name of ['valkit coord', 'valkit coord, fair (FIFO)']) {
    const v = find(SCENARIOS.uncontended, name)
    if (!v || !red || !sem) continue
    // Per round: valkit ÷ the better anchor of that round, then the median.
    const ratio = median(
      v.rounds.map((m, r) => {
        const best = Math.max(red.rounds[r]?.opsPerSec ?? 0, sem.rounds[r]?.opsPerSec ?? 0)
        return best > 0 ? m.opsPerSec / best : undefined
      }),
    )
    notes.push(
      `${name}, uncontended: ${verdict(ratio, TARGET_UNCONTENDED)} the better of redlock and redis-semaphore`,
    )
  }
  for (const name of ['valkit coord, fair (FIFO)', 'valkit coord']) {
    const v = find(SCENARIOS.contended, name)
    if (!v) continue
    const rounds = v.rounds as readonly ContentionRound[]
    const everyone = rounds.every((m) => m.neverGranted === 0)
    notes.push(
      `${name}, 100 contenders: ${verdict(v.ratio, TARGET_CONTENDED_VS_REDLOCK)} redlock's grants/s; every contender granted in every round: ${everyone ? 'yes' : 'NO'}`,
    )
  }
  return notes
}

const QUORUM_ANCHOR = 'redlock 5, 3 servers (ioredis)'

/** Scenario 3: both Redlocks over the bench server and two more servers of the same engine. */
async function quorumRows(ctx: BenchContext): Promise<BenchRow[]> {
  const extra: ServerHandle[] = []
  try {
    const engine = ctx.server.engine === 'valkey' ? 'valkey' : 'redis'
    extra.push(...(await Promise.all([0, 1].map(() => startServer({ engine })))))
    const urls = [ctx.server.url, ...extra.map((s) => s.url)]
    const libraries = [await openRedlock(urls[0]!, ...urls.slice(1)), await openValkitRedlock(urls)]
    try {
      return await compareSubjects({
        scenarios: [SCENARIOS.quorum],
        subjects: libraries.map((library) =>
          loopSubject(library.name, {
            [SCENARIOS.quorum]: (i) => library.tryCycle(`bench:q:${i % UNCONTENDED_KEYS}`, undefined),
          }),
        ),
        anchor: QUORUM_ANCHOR,
        serverCpu: undefined,
        options: ctx.options,
        log: (message) => ctx.log(message),
      })
    } finally {
      for (const library of libraries) await library.close()
    }
  } catch (err) {
    ctx.log(`  ${SCENARIOS.quorum}: not measured (${err instanceof Error ? err.message : String(err)})`)
    return []
  } finally {
    for (const s of extra) await s.stop()
  }
}

async function run(ctx: BenchContext): Promise<BenchReport> {
  const url = ctx.server.url
  const libraries = [
    await openRedlock(url),
    await openRedisSemaphore(url),
    await openValkit(url, false),
    await openValkit(url, true),
  ]
  const rows: BenchRow[] = []
  try {
    const probe = await openServerCpuProbe(url)
    try {
      rows.push(
        ...(await compareSubjects({
          scenarios: [SCENARIOS.uncontended],
          subjects: libraries.map((library) =>
            loopSubject(library.name, {
              [SCENARIOS.uncontended]: (i) => library.tryCycle(`bench:u:${i % UNCONTENDED_KEYS}`, undefined),
            }),
          ),
          anchor: REDLOCK,
          options: ctx.options,
          serverCpu: probe,
          log: (message) => ctx.log(message),
        })),
      )
    } finally {
      await probe.close()
    }
    rows.push(...(await contentionRows(ctx, libraries)))
  } finally {
    for (const library of libraries) await library.close()
  }
  rows.push(...(await quorumRows(ctx)))
  return {
    title: 'coord: uncontended acquire+release, 100 contenders on one key',
    anchor: REDLOCK,
    rows,
    notes: [
      `scenario 1: closed loop, ${ctx.options.inflight} in flight, ${UNCONTENDED_KEYS.toLocaleString('en-US')} distinct keys (always free); ops/s = acquire+release pairs; redlock retryCount 0, redis-semaphore tryAcquire with refreshInterval 0, valkit acquire({ wait: 0 })`,
      `scenario 2: ${CONTENDERS} contenders in this process loop acquire → release on one fresh key for ${ctx.options.durationMs} ms per round; ops/s = grants/s; p50/p99 = each acquire's wait; redlock retries every ${REDLOCK_RETRY.retryDelay}±${REDLOCK_RETRY.retryJitter} ms without limit, redis-semaphore polls every 10 ms (its default), valkit waits for the release message`,
      `scenario 3: as scenario 1 over three servers (the bench server and two more the launcher starts): redlock 5 with three ioredis clients against createRedlock over three valkit instances (${QUORUM_ANCHOR} is the anchor of this row pair)`,
      'every library: TTL 10 s, one connection (redlock and redis-semaphore on ioredis 6 as they require; valkit on its node-redis connection)',
      ...targetNotes(rows),
    ],
  }
}

/** The `coord` benchmark, registered in bench/registry.ts. */
const coord: Benchmark = {
  name: 'coord',
  description: 'locks: redlock, redis-semaphore, valkit coord (uncontended, 100 contenders, fairness)',
  run,
}

export default coord
