/**
 * `cache`: BentoCache 1.6 and cache-manager 7 (and valkit's cache once src/cache exists) side
 * by side against one server — L1 hits, L2 hits next to raw drivers, stampedes in one process
 * and across four instances, and getOrSet while Redis is down.
 */
import { openServerCpuProbe } from '../lib/server.js'
import type { Benchmark, BenchContext, BenchReport, BenchRow } from '../lib/types.js'
import { bentoCache, cacheManager, valkitCache } from './libraries.js'
import type { CacheLibrary } from './libraries.js'
import { runRedisDown } from './redis-down.js'
import { eventRow, placeholderRow } from './rows.js'
import type { CacheRow, EventOutcome } from './rows.js'
import { runStampede } from './stampede.js'
import type { StampedeShape } from './stampede.js'
import { L1_ANCHOR, L2_ANCHOR, runL1Hit, runL2Hit } from './throughput.js'
import { loadValkitCache } from './valkit-cache.js'
import {
  CACHE_INFLIGHT,
  DOWN_CALLS_PER_WAVE,
  DOWN_CAP_MS,
  DOWN_WAVES,
  SCENARIOS,
  STAMPEDE_CALLERS,
  STAMPEDE_CALLERS_PER_INSTANCE,
  STAMPEDE_INSTANCES,
} from './workload.js'

/** valkit's targets, checked in the notes when its rows exist. */
const TARGET_L1_VS_BENTO = 10
const TARGET_L2_VS_RAW = 0.8

/** Scenarios 3 and 4 for every library, BentoCache first (the anchor of both groups). */
async function stampedeRows(
  ctx: BenchContext,
  scenario: string,
  shape: StampedeShape,
  libraries: readonly CacheLibrary[],
): Promise<CacheRow[]> {
  const outcomes: [CacheLibrary, EventOutcome | Error][] = []
  for (const library of libraries) {
    try {
      outcomes.push([library, await runStampede(library, ctx.server.url, shape)])
    } catch (err) {
      outcomes.push([library, err instanceof Error ? err : new Error(String(err))])
    }
    ctx.log(`  ${scenario}  ${library.name}: done`)
  }
  const anchor = outcomes[0]?.[1]
  return outcomes.map(([library, outcome], i) => {
    const name = `${library.name} ${library.getOrSetName}${i === 0 ? ' (anchor)' : ''}`
    return outcome instanceof Error
      ? placeholderRow(scenario, name, `failed: ${outcome.message}`)
      : eventRow(scenario, name, outcome, anchor instanceof Error ? undefined : anchor)
  })
}

function targetNotes(rows: readonly BenchRow[]): string[] {
  const notes: string[] = []
  const valkitL1 = rows.find((r) => r.scenario === SCENARIOS.l1Hit && r.library.startsWith('valkit'))
  if (valkitL1?.ratio !== undefined) {
    notes.push(
      `valkit L1 hit: ${valkitL1.ratio.toFixed(1)}× BentoCache (target ≥ ${TARGET_L1_VS_BENTO}×: ${valkitL1.ratio >= TARGET_L1_VS_BENTO ? 'met' : 'NOT met'})`,
    )
  }
  const valkitL2 = rows.find((r) => r.scenario === SCENARIOS.l2Hit && r.library.startsWith('valkit'))
  if (valkitL2?.ratio !== undefined) {
    notes.push(
      `valkit L2 hit: ${valkitL2.ratio.toFixed(2)}× raw node-redis (target ≥ ${TARGET_L2_VS_RAW}×: ${valkitL2.ratio >= TARGET_L2_VS_RAW ? 'met' : 'NOT met'})`,
    )
  }
  return notes
}

async function run(ctx: BenchContext): Promise<BenchReport> {
  const found = await loadValkitCache()
  const valkit = found.api ? valkitCache(found.api) : undefined
  const pending = found.api ? undefined : `pending: ${found.reason ?? 'not found'}`
  const libraries: CacheLibrary[] = [bentoCache, cacheManager, ...(valkit ? [valkit] : [])]
  const withPlaceholder = (scenario: string, rows: readonly BenchRow[], name: string): BenchRow[] =>
    pending === undefined ? [...rows] : [...rows, placeholderRow(scenario, name, pending)]

  const probe = await openServerCpuProbe(ctx.server.url)
  const rows: BenchRow[] = []
  try {
    const trio = { bento: bentoCache, cacheManager, valkit }
    rows.push(
      ...withPlaceholder(SCENARIOS.l1Hit, await runL1Hit(ctx, trio, probe), 'valkit, L1 + L2 (key in L1)'),
    )
    rows.push(...withPlaceholder(SCENARIOS.l2Hit, await runL2Hit(ctx, trio, probe), 'valkit, L2 only'))
  } finally {
    await probe.close()
  }
  rows.push(
    ...withPlaceholder(
      SCENARIOS.stampede,
      await stampedeRows(
        ctx,
        SCENARIOS.stampede,
        { instances: 1, callersPerInstance: STAMPEDE_CALLERS },
        libraries,
      ),
      'valkit getOrSet',
    ),
  )
  rows.push(
    ...withPlaceholder(
      SCENARIOS.stampede4,
      await stampedeRows(
        ctx,
        SCENARIOS.stampede4,
        { instances: STAMPEDE_INSTANCES, callersPerInstance: STAMPEDE_CALLERS_PER_INSTANCE },
        libraries,
      ),
      'valkit getOrSet',
    ),
  )
  const down = await runRedisDown(ctx, libraries)
  rows.push(
    ...withPlaceholder(
      SCENARIOS.redisDown,
      libraries.map((library) => {
        const outcome = down.get(library.name)
        const name = `${library.name} ${library.getOrSetName}`
        return outcome === undefined || outcome instanceof Error
          ? placeholderRow(SCENARIOS.redisDown, name, `failed: ${outcome?.message ?? 'not measured'}`)
          : eventRow(SCENARIOS.redisDown, name, outcome, undefined)
      }),
      'valkit getOrSet',
    ),
  )

  const notes = [
    `anchors: ${SCENARIOS.l1Hit}: ${L1_ANCHOR}; ${SCENARIOS.l2Hit}: ${L2_ANCHOR}; scenarios 3-4: BentoCache getOrSet; scenario 5 has no ratio`,
    `scenarios 1-2: closed loop, ${CACHE_INFLIGHT} in flight (--inflight does not apply), ${ctx.options.rounds} rounds; caches store a ~60-byte record, raw drivers GET its JSON text (no parse)`,
    'scenarios 3-4: ops/s = callers ÷ time from the first call to the last answer; p50/p99: per-call latency',
    `scenario 5: ${DOWN_WAVES} waves × ${DOWN_CALLS_PER_WAVE} concurrent getOrSet calls on fresh keys after SIGKILL of a server started for it; each call capped at ${DOWN_CAP_MS / 1000} s (a capped call counts as ${DOWN_CAP_MS} ms: read ">= 15 s")`,
    'BentoCache: memory driver (L1) + redis driver on ioredis 6 (L2), no bus; cache-manager: Keyv in memory (L1) + Keyv on @keyv/redis (L2)',
    ...(pending === undefined ? targetNotes(rows) : [`valkit rows are placeholders: ${pending}`]),
  ]
  return {
    title: 'cache: L1 hit, L2 hit, stampede (1 process, 4 instances), Redis down',
    anchor: 'the row marked (anchor) in each scenario',
    rows,
    notes,
  }
}

/** The `cache` benchmark, registered in bench/registry.ts. */
const cache: Benchmark = {
  name: 'cache',
  description: 'tiered caches: BentoCache, cache-manager, valkit (L1/L2 hits, stampedes, Redis down)',
  run,
}

export default cache
