import { median, quantile, runClosedLoop } from './closed-loop.js'
import type { Operation } from './closed-loop.js'
import type { ServerCpuProbe } from './server.js'
import type { BenchOptions, BenchRow, Measurement } from './types.js'

/** What a subject gets for one measured round. */
export interface MeasureSettings {
  readonly inflight: number
  readonly durationMs: number
  readonly warmupMs: number
  /** Reads the server's CPU time; present when the server is only used by this benchmark. */
  readonly serverCpu: ServerCpuProbe | undefined
}

/** A library (or tool) compared side by side with others. */
export interface Subject {
  readonly name: string
  /** Measured by an external tool: shown for reference. */
  readonly reference?: boolean
  /** One warmed-up measured round; `undefined` when the subject does not take part in `scenario`. */
  measure(scenario: string, settings: MeasureSettings): Promise<Measurement | undefined>
}

/** Warm-up, then one measured closed-loop round of `op`, with client and server CPU per operation. */
export async function measureClosedLoop(op: Operation, settings: MeasureSettings): Promise<Measurement> {
  if (settings.warmupMs > 0) {
    await runClosedLoop(op, {
      inflight: settings.inflight,
      durationMs: settings.warmupMs,
      recordLatency: false,
    })
  }
  const serverBefore = await settings.serverCpu?.read()
  const cpuBefore = process.cpuUsage()
  const result = await runClosedLoop(op, { inflight: settings.inflight, durationMs: settings.durationMs })
  const cpu = process.cpuUsage(cpuBefore)
  const serverAfter = await settings.serverCpu?.read()
  if (result.ops === 0) {
    const reason = result.firstError instanceof Error ? result.firstError.message : String(result.firstError)
    throw new Error(`every operation failed (${result.errors}): ${reason}`)
  }
  const sorted = result.latenciesMs.slice().sort()
  return {
    ops: result.ops,
    errors: result.errors,
    elapsedMs: result.elapsedMs,
    opsPerSec: (result.ops * 1000) / result.elapsedMs,
    p50Ms: quantile(sorted, 0.5),
    p99Ms: quantile(sorted, 0.99),
    clientCpuUsPerOp: (cpu.user + cpu.system) / result.ops,
    serverCpuUsPerOp:
      serverBefore === undefined || serverAfter === undefined
        ? undefined
        : ((serverAfter - serverBefore) * 1e6) / result.ops,
  }
}

/** A subject driven by the closed loop: one operation per scenario it takes part in. */
export function loopSubject(
  name: string,
  operations: Readonly<Record<string, Operation | undefined>>,
): Subject {
  return {
    name,
    async measure(scenario, settings) {
      const op = operations[scenario]
      return op === undefined ? undefined : measureClosedLoop(op, settings)
    },
  }
}

/** Input of {@link compareSubjects}. */
export interface CompareSettings {
  readonly scenarios: readonly string[]
  readonly subjects: readonly Subject[]
  /** Name of the subject every ratio is relative to. */
  readonly anchor: string
  readonly options: BenchOptions
  readonly serverCpu: ServerCpuProbe | undefined
  log(message: string): void
}

/**
 * Measures every subject in every scenario for `options.rounds` rounds. Rounds are the outer
 * loop and the subjects' order rotates each round, so machine noise (and warm caches) hit every
 * library alike; an unrecorded warm-up pass precedes round 1. A subject that throws is reported in the row's note instead of aborting the run.
 */
export async function compareSubjects(settings: CompareSettings): Promise<BenchRow[]> {
  const { scenarios, subjects, options } = settings
  // Per (scenario, subject): the measurement of each round, by round index (holes where it failed).
  const measurements = new Map<string, (Measurement | undefined)[]>()
  const failures = new Map<string, string>()
  const key = (scenario: string, subject: string): string => `${scenario}\u0000${subject}`
  const measureSettings: MeasureSettings = {
    inflight: options.inflight,
    durationMs: options.durationMs,
    warmupMs: options.warmupMs,
    serverCpu: settings.serverCpu,
  }
  // One unrecorded pass over every library first, so the first measured round does not pay for
  // JIT compilation and connection warm-up (reference tools run outside this process: skipped).
  if (options.warmupMs > 0) {
    for (const scenario of scenarios) {
      for (const subject of subjects) {
        if (subject.reference) continue
        await subject
          .measure(scenario, { ...measureSettings, durationMs: options.warmupMs, serverCpu: undefined })
          .catch(() => undefined)
      }
    }
  }
  for (let round = 0; round < options.rounds; round++) {
    for (const scenario of scenarios) {
      const order = subjects.map((_, i) => subjects[(i + round) % subjects.length]!)
      for (const subject of order) {
        const k = key(scenario, subject.name)
        if (failures.has(k)) continue
        try {
          const m = await subject.measure(scenario, measureSettings)
          if (m === undefined) continue
          const list = measurements.get(k) ?? []
          list[round] = m
          measurements.set(k, list)
          settings.log(
            `  round ${round + 1}/${options.rounds}  ${scenario}  ${subject.name}: ${Math.round(m.opsPerSec)} ops/s`,
          )
        } catch (err) {
          failures.set(k, err instanceof Error ? err.message : String(err))
          settings.log(`  ${scenario}  ${subject.name}: FAILED ${failures.get(k)}`)
        }
      }
    }
  }

  const rows: BenchRow[] = []
  for (const scenario of scenarios) {
    const anchorRounds = measurements.get(key(scenario, settings.anchor))
    for (const subject of subjects) {
      const rounds = measurements.get(key(scenario, subject.name))
      const failure = failures.get(key(scenario, subject.name))
      if (!rounds && failure === undefined) continue
      const list = (rounds ?? []).filter((m): m is Measurement => m !== undefined)
      // Paired ratio: each round against the anchor's measurement in the same round (close in
      // time, so a burst of machine noise affects both), then the median over rounds.
      const ratio = anchorRounds
        ? median(
            (rounds ?? []).map((m, r) => {
              const a = anchorRounds[r]
              return m && a ? m.opsPerSec / a.opsPerSec : undefined
            }),
          )
        : undefined
      const opsPerSec = median(list.map((m) => m.opsPerSec)) ?? 0
      const errors = list.reduce((sum, m) => sum + m.errors, 0)
      const note = failure ?? (errors > 0 ? `${errors} operations failed` : undefined)
      rows.push({
        scenario,
        library: subject.name,
        opsPerSec,
        ratio,
        p50Ms: median(list.map((m) => m.p50Ms)),
        p99Ms: median(list.map((m) => m.p99Ms)),
        clientCpuUsPerOp: median(list.map((m) => m.clientCpuUsPerOp)),
        serverCpuUsPerOp: median(list.map((m) => m.serverCpuUsPerOp)),
        ...(subject.reference ? { reference: true } : {}),
        ...(note !== undefined ? { note } : {}),
        rounds: list,
      })
    }
  }
  return rows
}
