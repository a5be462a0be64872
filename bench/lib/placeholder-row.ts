import type { BenchRow } from './types.js'

/** A row with no numbers: a library that could not be measured in a scenario, and why. */
export function placeholderRow(
  scenario: string,
  library: string,
  note?: string,
): BenchRow & { readonly note?: string } {
  return {
    scenario,
    library,
    opsPerSec: 0,
    ratio: undefined,
    p50Ms: undefined,
    p99Ms: undefined,
    clientCpuUsPerOp: undefined,
    serverCpuUsPerOp: undefined,
    rounds: [],
    ...(note !== undefined ? { note } : {}),
  }
}
