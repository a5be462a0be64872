/**
 * `core`: driver comparison on one connection with a closed loop of `--inflight` requests —
 * node-redis (raw and typed, with and without its per-command timeout), ioredis (with and
 * without auto-pipelining), valkit's command path when it exists, and redis-benchmark as the
 * server's limit.
 */
import { createClient } from '@redis/client'
import { compareSubjects } from '../lib/compare.js'
import type { Subject } from '../lib/compare.js'
import { hasRedisBenchmark } from '../lib/redis-benchmark.js'
import { asText, openServerCpuProbe } from '../lib/server.js'
import type { Benchmark, BenchContext, BenchReport, BenchRow } from '../lib/types.js'
import { NODE_REDIS_RAW, openIoredis, openNodeRedisRaw, openNodeRedisTyped } from './driver-subjects.js'
import type { OpenSubject } from './driver-subjects.js'
import {
  REDIS_BENCHMARK_CLIENTS,
  REDIS_BENCHMARK_REQUESTS,
  redisBenchmarkSubject,
} from './redis-benchmark-subject.js'
import { placeholderRow } from '../lib/placeholder-row.js'
import { VALKIT_COMMAND_PATH, loadCreateValkit, openValkit } from './valkit-subject.js'
import { KEYS, KEYSPACE, SCENARIOS, SCRIPT, VALUE, VALUE_SIZE } from './workload.js'

/** valkit's budget: its command path may cost at most this much throughput vs raw node-redis. */
const VALKIT_OVERHEAD_TARGET = 0.1

function overheadNotes(rows: readonly BenchRow[]): string[] {
  const notes: string[] = []
  for (const scenario of Object.values(SCENARIOS)) {
    const anchor = rows.find((r) => r.scenario === scenario && r.library === NODE_REDIS_RAW)
    const valkit = rows.find((r) => r.scenario === scenario && r.library === VALKIT_COMMAND_PATH)
    if (!anchor || !valkit || valkit.opsPerSec === 0 || valkit.ratio === undefined) continue
    const throughput = 1 - valkit.ratio
    const cpu =
      valkit.clientCpuUsPerOp !== undefined && anchor.clientCpuUsPerOp !== undefined
        ? valkit.clientCpuUsPerOp / anchor.clientCpuUsPerOp - 1
        : undefined
    const verdict = throughput <= VALKIT_OVERHEAD_TARGET ? 'within' : 'OVER'
    notes.push(
      `valkit overhead vs raw node-redis, ${scenario}: ${(throughput * 100).toFixed(1)}% throughput` +
        (cpu === undefined ? '' : `, ${cpu >= 0 ? '+' : ''}${(cpu * 100).toFixed(1)}% client CPU/op`) +
        ` (${verdict} the ${VALKIT_OVERHEAD_TARGET * 100}% target)`,
    )
  }
  return notes
}

async function run(ctx: BenchContext): Promise<BenchReport> {
  const { server, options } = ctx
  const control = createClient({ url: server.url })
  control.on('error', () => {})
  await control.connect()
  const opened: OpenSubject[] = []
  const probe = await openServerCpuProbe(server.url)
  try {
    // Seed every key so GETs and the script read 64-byte values, and load the script.
    await Promise.all(KEYS.map((k) => control.sendCommand(['SET', k, VALUE])))
    const sha = asText(await control.sendCommand(['SCRIPT', 'LOAD', SCRIPT]))

    opened.push(await openNodeRedisRaw(NODE_REDIS_RAW, server.url, sha, 0))
    opened.push(await openNodeRedisTyped('node-redis get/set/evalSha, timeout 0', server.url, sha))
    opened.push(
      await openNodeRedisRaw('node-redis sendCommand, default 5 s timeout', server.url, sha, undefined),
    )
    opened.push(await openIoredis('ioredis, autoPipelining', server.url, sha, true))
    opened.push(await openIoredis('ioredis', server.url, sha, false))

    const notes: string[] = []
    const valkit = await loadCreateValkit()
    let valkitPending: string | undefined
    if (valkit.create) {
      try {
        opened.push(await openValkit(valkit.create, server.url, sha))
      } catch (err) {
        valkitPending = `createValkit failed: ${err instanceof Error ? err.message : String(err)}`
      }
    } else {
      valkitPending = `pending: ${valkit.reason}`
    }

    const subjects: Subject[] = opened.map((o) => o.subject)
    if (options.noReference) {
      notes.push('redis-benchmark reference rows skipped (--no-reference)')
    } else if (await hasRedisBenchmark()) {
      subjects.push(redisBenchmarkSubject(server, sha, 1), redisBenchmarkSubject(server, sha, 16))
      notes.push(
        `redis-benchmark rows: -c ${REDIS_BENCHMARK_CLIENTS} -n ${REDIS_BENCHMARK_REQUESTS} -r ${KEYSPACE} -d ${VALUE_SIZE}` +
          ' on the same keys; GET/SET ops/s is the harmonic mean of its GET and SET rates, latencies their mean',
      )
    } else {
      notes.push('redis-benchmark not found on PATH: reference rows skipped')
    }

    const rows = await compareSubjects({
      scenarios: Object.values(SCENARIOS),
      subjects,
      anchor: NODE_REDIS_RAW,
      options,
      serverCpu: probe,
      log: (m) => ctx.log(m),
    })
    const allRows = valkitPending
      ? Object.values(SCENARIOS).flatMap((scenario) => {
          const inScenario = rows.filter((r) => r.scenario === scenario)
          return [...inScenario, placeholderRow(scenario, VALKIT_COMMAND_PATH)]
        })
      : rows
    if (valkitPending) notes.push(`${VALKIT_COMMAND_PATH} rows are placeholders: ${valkitPending}`)
    notes.push(
      `workload: one connection per library, ${KEYSPACE} keys of 16 bytes, ${VALUE_SIZE}-byte values; script: ${SCRIPT}`,
      'server µs/op: INFO cpu delta ÷ ops (valid only while nothing else uses the server)',
      ...overheadNotes(allRows),
    )
    return {
      title: `core: one connection, ${options.inflight} in flight (closed loop), GET/SET 50/50 and EVALSHA`,
      anchor: NODE_REDIS_RAW,
      rows: allRows,
      notes,
    }
  } finally {
    for (const o of opened) await o.close().catch(() => {})
    await control.sendCommand(['UNLINK', ...KEYS]).catch(() => {})
    control.destroy()
    await probe.close()
  }
}

/** The `core` benchmark, registered in bench/registry.ts. */
const core: Benchmark = {
  name: 'core',
  description:
    'driver comparison: node-redis, ioredis, valkit command path, redis-benchmark (GET/SET, EVALSHA)',
  run,
}

export default core
