/**
 * `ratelimit`: valkit's rate limiter side by side with rate-limiter-flexible 11 (RateLimiterRedis
 * on ioredis and on node-redis, three limiters combined with RateLimiterUnion or with a key per
 * scope) and @fastify/rate-limit's Redis store, against one server, `--inflight` in flight; a raw
 * EVALSHA of a trivial script on each driver is the limit a one-script check can approach.
 */
import { compareSubjects, type Subject } from '../lib/compare.js'
import { openServerCpuProbe } from '../lib/server.js'
import type { Benchmark, BenchContext, BenchReport, BenchRow } from '../lib/types.js'
import {
  openFastifyStore,
  openRateLimiterFlexible,
  openRateLimiterFlexibleScoped,
  openRawEvalsha,
  openValkit,
  type OpenSubject,
} from './subjects.js'
import { LIMIT, SCENARIOS, TENANTS, TRIVIAL_SCRIPT, USERS, WINDOW_S } from './workload.js'

const ANCHOR = 'rate-limiter-flexible (ioredis)'
const VALKIT = 'valkit fixed-window (node-redis)'
const VALKIT_IOREDIS = 'valkit fixed-window (ioredis)'
const RAW_NODE_REDIS = 'raw EVALSHA, node-redis timeout 0'
const RAW_IOREDIS = 'raw EVALSHA, ioredis'

function target(label: string, value: number | undefined, goal: number, detail: string): string {
  if (value === undefined) return `target ${label}: not measured`
  return `target ${label}: ${value.toFixed(2)}× (goal ≥ ${goal}×) — ${value >= goal ? 'MET' : 'NOT MET'}; ${detail}`
}

/** Ratio of two rows' per-round throughputs (median over rounds, paired by round). */
function paired(a: BenchRow | undefined, b: BenchRow | undefined): number | undefined {
  if (a === undefined || b === undefined || a.rounds.length === 0 || b.rounds.length === 0) return undefined
  const ratios = a.rounds
    .map((m, i) => (b.rounds[i] ? m.opsPerSec / b.rounds[i].opsPerSec : NaN))
    .filter((r) => !Number.isNaN(r))
  ratios.sort((x, y) => x - y)
  return ratios[Math.floor(ratios.length / 2)]
}

function targetNotes(rows: readonly BenchRow[]): string[] {
  const find = (scenario: string, library: string) =>
    rows.find((r) => r.scenario === scenario && r.library === library)
  const one = (library: string) => find(SCENARIOS.oneRule, library)
  const three = (library: string) => find(SCENARIOS.threeRules, library)
  return [
    target(
      'one rule vs rate-limiter-flexible',
      one(VALKIT)?.ratio,
      2,
      `valkit on ioredis ${one(VALKIT_IOREDIS)?.ratio?.toFixed(2) ?? '-'}× (same driver as the anchor)`,
    ),
    target(
      '3 rules vs its three-limiter union',
      three(VALKIT)?.ratio,
      4,
      `valkit on ioredis ${three(VALKIT_IOREDIS)?.ratio?.toFixed(2) ?? '-'}×`,
    ),
    target(
      '3 rules vs valkit one rule',
      paired(three(VALKIT), one(VALKIT)),
      0.8,
      'same instance, same round',
    ),
    target(
      'one rule vs raw EVALSHA (node-redis)',
      paired(one(VALKIT), one(RAW_NODE_REDIS)),
      0.8,
      `on ioredis: ${paired(one(VALKIT_IOREDIS), one(RAW_IOREDIS))?.toFixed(2) ?? '-'}× its raw EVALSHA`,
    ),
  ]
}

async function run(ctx: BenchContext): Promise<BenchReport> {
  const { server, options } = ctx
  const url = server.url
  const probe = await openServerCpuProbe(url)
  const opened: OpenSubject[] = []
  try {
    opened.push(await openRateLimiterFlexible(ANCHOR, url, 'ioredis'))
    opened.push(await openRateLimiterFlexible('rate-limiter-flexible (node-redis)', url, 'node-redis'))
    opened.push(
      await openRateLimiterFlexibleScoped('rate-limiter-flexible, 3 limiters, own keys (ioredis)', url),
    )
    opened.push(await openFastifyStore('@fastify/rate-limit RedisStore (ioredis)', url))
    opened.push(await openValkit(VALKIT, url, 'fixed-window', 'node-redis', 'both'))
    opened.push(await openValkit(VALKIT_IOREDIS, url, 'fixed-window', 'ioredis', 'both'))
    opened.push(
      await openValkit(
        'valkit sliding-window-log (node-redis)',
        url,
        'sliding-window-log',
        'node-redis',
        'both',
      ),
    )
    opened.push(
      await openValkit('valkit token-bucket (node-redis)', url, 'token-bucket', 'node-redis', 'both'),
    )
    opened.push(await openValkit('valkit gcra (node-redis)', url, 'gcra', 'node-redis', 'one'))
    opened.push(
      await openValkit(
        'valkit sliding-window-counter (node-redis)',
        url,
        'sliding-window-counter',
        'node-redis',
        'one',
      ),
    )
    opened.push(await openRawEvalsha(RAW_NODE_REDIS, url, TRIVIAL_SCRIPT, 'node-redis'))
    opened.push(await openRawEvalsha(RAW_IOREDIS, url, TRIVIAL_SCRIPT, 'ioredis'))
    const subjects: Subject[] = opened.map((o) => o.subject)
    const rows = await compareSubjects({
      scenarios: Object.values(SCENARIOS),
      subjects,
      anchor: ANCHOR,
      options,
      serverCpu: probe,
      log: (m) => ctx.log(m),
    })
    return {
      title: `ratelimit: checks per second, ${options.inflight} in flight (closed loop), one connection per library`,
      anchor: `${ANCHOR}: RateLimiterRedis in "1.", RateLimiterUnion of three in "2."`,
      rows,
      notes: [
        `workload: ${USERS.toLocaleString('en-US')} users picked by call number (and ${TENANTS} tenants), limit ${LIMIT.toLocaleString('en-US')} per ${WINDOW_S} s so checks are admitted: the cost of a check is measured`,
        '"2. three rules": per user + per tenant + global; valkit checks and charges all three in one script (all-or-nothing, one round trip);',
        '  rate-limiter-flexible: RateLimiterUnion (one key on each of three limiters: 3 round trips, not atomic), or three limiters with their own keys',
        `raw EVALSHA rows: ${TRIVIAL_SCRIPT} on the same keys (the limit of one script per check with that driver)`,
        ...targetNotes(rows),
      ],
    }
  } finally {
    for (const o of opened) await o.close().catch(() => {})
    await probe.close()
  }
}

const benchmark: Benchmark = {
  name: 'ratelimit',
  description:
    'valkit rate limiter vs rate-limiter-flexible and @fastify/rate-limit store; raw EVALSHA as the limit',
  run,
}
export default benchmark
