import { quantile } from '../lib/closed-loop.js'
import type { Measurement } from '../lib/types.js'
import type { LockLibrary } from './libraries.js'
import { CONTENDERS } from './workload.js'

/** What one contention round produced, beyond the harness's measurement. */
export interface ContentionRound extends Measurement {
  /** Grants of each contender. */
  readonly perContender: readonly number[]
  /** Jain's fairness index of `perContender`: 1 = perfectly even, 1/n = one contender got all. */
  readonly jain: number
  /** Contenders never granted in the round. */
  readonly neverGranted: number
  /** Times two holders were inside at once (as seen by this process). Must be 0. */
  readonly overlaps: number
}

/** Jain's fairness index of a list of shares. */
export function jainIndex(shares: readonly number[]): number {
  const sum = shares.reduce((a, b) => a + b, 0)
  const squares = shares.reduce((a, b) => a + b * b, 0)
  return squares === 0 ? 0 : (sum * sum) / (shares.length * squares)
}

/**
 * {@link CONTENDERS} loops on one key for `durationMs`: each waits for the lock, releases it,
 * and asks again. Grants per second, each acquire's latency (its wait), and how evenly the
 * grants were spread.
 */
export async function runContention(
  library: LockLibrary,
  key: string,
  durationMs: number,
): Promise<ContentionRound> {
  const perContender = new Array<number>(CONTENDERS).fill(0)
  const latencies: number[] = []
  let errors = 0
  let active = 0
  let overlaps = 0
  const cpuBefore = process.cpuUsage()
  const start = performance.now()
  const deadline = start + durationMs
  // Inside, yield once: a second holder granted meanwhile would be seen here.
  const onHeld = async (): Promise<void> => {
    if (++active > 1) overlaps++
    await Promise.resolve()
    active--
  }
  await Promise.all(
    perContender.map(async (_, c) => {
      while (performance.now() < deadline) {
        const asked = performance.now()
        try {
          if (await library.waitCycle(key, onHeld)) {
            perContender[c]!++
            latencies.push(performance.now() - asked)
          } else errors++
        } catch {
          errors++
        }
      }
    }),
  )
  const elapsedMs = performance.now() - start
  const cpu = process.cpuUsage(cpuBefore)
  const ops = perContender.reduce((a, b) => a + b, 0)
  latencies.sort((a, b) => a - b)
  return {
    ops,
    errors,
    elapsedMs,
    opsPerSec: (ops * 1000) / elapsedMs,
    p50Ms: quantile(latencies, 0.5),
    p99Ms: quantile(latencies, 0.99),
    clientCpuUsPerOp: ops > 0 ? (cpu.user + cpu.system) / ops : undefined,
    serverCpuUsPerOp: undefined,
    perContender,
    jain: jainIndex(perContender),
    neverGranted: perContender.filter((n) => n === 0).length,
    overlaps,
  }
}
