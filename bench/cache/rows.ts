import { quantile } from '../lib/closed-loop.js'
import type { BenchRow } from '../lib/types.js'

/** A row of the cache report: a {@link BenchRow} plus the scenario's own figures (kept in the JSON). */
export interface CacheRow extends BenchRow {
  /** Scenarios 3 and 4: mean loader runs per fresh key. */
  readonly loaderRunsPerKey?: number
  /** Scenarios 3 and 4: mean time from the first call to the last answer, per key. */
  readonly totalMs?: number
  /** Scenario 5: calls still pending at the cap. */
  readonly cappedCalls?: number
}

/** What one library did in an event scenario (3-5): every call's latency and the totals. */
export interface EventOutcome {
  readonly latenciesMs: readonly number[]
  /** Calls that rejected. */
  readonly errors: number
  /** Sum over keys of (first call → last answer), with the number of keys. */
  readonly totalMs?: number
  readonly keys?: number
  readonly loaderRuns?: number
  readonly cappedCalls?: number
  readonly note?: string
}

/** A row for an event scenario: ops/s is calls ÷ total time (0, shown as '-', when there is no total). */
export function eventRow(
  scenario: string,
  library: string,
  outcome: EventOutcome,
  anchor: EventOutcome | undefined,
): CacheRow {
  const sorted = [...outcome.latenciesMs].sort((a, b) => a - b)
  const calls = outcome.latenciesMs.length
  const opsPerSec =
    outcome.totalMs !== undefined && outcome.totalMs > 0 ? (calls * 1000) / outcome.totalMs : 0
  const anchorOps =
    anchor?.totalMs !== undefined && anchor.totalMs > 0
      ? (anchor.latenciesMs.length * 1000) / anchor.totalMs
      : 0
  const keys = outcome.keys ?? 0
  return {
    scenario,
    library,
    opsPerSec,
    ratio: opsPerSec > 0 && anchorOps > 0 ? opsPerSec / anchorOps : undefined,
    p50Ms: quantile(sorted, 0.5),
    p99Ms: quantile(sorted, 0.99),
    clientCpuUsPerOp: undefined,
    serverCpuUsPerOp: undefined,
    rounds: [],
    ...(outcome.loaderRuns !== undefined && keys > 0 ? { loaderRunsPerKey: outcome.loaderRuns / keys } : {}),
    ...(outcome.totalMs !== undefined && keys > 0 ? { totalMs: outcome.totalMs / keys } : {}),
    ...(outcome.cappedCalls !== undefined ? { cappedCalls: outcome.cappedCalls } : {}),
    ...(outcome.note !== undefined ? { note: outcome.note } : {}),
  }
}

export { placeholderRow } from '../lib/placeholder-row.js'

/** The error of a rejected call, as one line. */
export function errorText(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err)
}
