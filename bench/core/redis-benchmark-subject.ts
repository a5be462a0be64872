import type { Subject } from '../lib/compare.js'
import { runRedisBenchmark } from '../lib/redis-benchmark.js'
import type { RedisBenchmarkRow } from '../lib/redis-benchmark.js'
import type { BenchServer, Measurement } from '../lib/types.js'
import { KEYSPACE, SCENARIOS, VALUE_SIZE } from './workload.js'

/** Requests per redis-benchmark test (`-n`). */
export const REDIS_BENCHMARK_REQUESTS = 200_000
/** Connections (`-c`). */
export const REDIS_BENCHMARK_CLIENTS = 50

function mean(values: readonly (number | undefined)[]): number | undefined {
  const defined = values.filter((v): v is number => v !== undefined)
  return defined.length === 0 ? undefined : defined.reduce((a, b) => a + b, 0) / defined.length
}

/**
 * redis-benchmark as a reference row: the server's own limit with `-c 50 -P <pipeline>`, on the
 * same keys (`-r 1000`) and value size (`-d 64`). For the 50/50 mix, ops/s is the harmonic mean of
 * its GET and SET rates (the rate of a run made of equal numbers of each).
 */
export function redisBenchmarkSubject(server: BenchServer, sha: string, pipeline: number): Subject {
  const base = {
    host: server.host,
    port: server.port,
    clients: REDIS_BENCHMARK_CLIENTS,
    requests: REDIS_BENCHMARK_REQUESTS,
    pipeline,
    keyspace: KEYSPACE,
    dataSize: VALUE_SIZE,
  }
  const toMeasurement = (
    rows: readonly RedisBenchmarkRow[],
    serverCpuSeconds: number | undefined,
  ): Measurement => {
    const rps = rows.map((r) => r.rps).filter((r) => r > 0)
    if (rps.length === 0) throw new Error('redis-benchmark reported no results')
    const opsPerSec = rps.length / rps.reduce((sum, r) => sum + 1 / r, 0)
    const ops = REDIS_BENCHMARK_REQUESTS * rows.length
    return {
      ops,
      errors: 0,
      elapsedMs: (ops * 1000) / opsPerSec,
      opsPerSec,
      p50Ms: mean(rows.map((r) => r.p50Ms)),
      p99Ms: mean(rows.map((r) => r.p99Ms)),
      clientCpuUsPerOp: undefined,
      serverCpuUsPerOp: serverCpuSeconds === undefined ? undefined : (serverCpuSeconds * 1e6) / ops,
    }
  }
  return {
    name: `redis-benchmark -c ${REDIS_BENCHMARK_CLIENTS} -P ${pipeline}`,
    reference: true,
    async measure(scenario, settings) {
      const shape =
        scenario === SCENARIOS.getSet
          ? { tests: ['set', 'get'] }
          : scenario === SCENARIOS.evalsha
            ? { command: ['EVALSHA', sha, '1', 'key:__rand_int__'] }
            : undefined
      if (shape === undefined) return undefined
      const before = await settings.serverCpu?.read()
      const rows = await runRedisBenchmark({ ...base, ...shape })
      const after = await settings.serverCpu?.read()
      return toMeasurement(rows, before === undefined || after === undefined ? undefined : after - before)
    },
  }
}
