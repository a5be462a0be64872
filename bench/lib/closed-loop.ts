/** One operation under test; `i` counts calls from 0 so operations can pick keys without `Math.random`. */
export type Operation = (i: number) => Promise<unknown>

/** How {@link runClosedLoop} drives an operation. */
export interface ClosedLoopSettings {
  /** Requests kept outstanding: each completion issues the next one until the deadline. */
  readonly inflight: number
  readonly durationMs: number
  /** Keep per-operation latencies (skipped during warm-up). @defaultValue true */
  readonly recordLatency?: boolean
}

/** What one closed-loop run produced. */
export interface ClosedLoopResult {
  /** Successful completions, including those that finished after the deadline while draining. */
  readonly ops: number
  readonly errors: number
  /** From the first request to the last completion. */
  readonly elapsedMs: number
  /** Latency of every successful operation, in milliseconds (empty when not recorded). */
  readonly latenciesMs: Float64Array
  readonly firstError: unknown
}

/**
 * Runs `op` in a closed loop: exactly `inflight` requests outstanding until the deadline, then
 * waits for the outstanding ones (so nothing is left running into the next measurement).
 */
export function runClosedLoop(op: Operation, settings: ClosedLoopSettings): Promise<ClosedLoopResult> {
  const record = settings.recordLatency ?? true
  return new Promise((resolve) => {
    let issued = 0
    let ok = 0
    let errors = 0
    let outstanding = 0
    let firstError: unknown
    let latencies = new Float64Array(record ? 1 << 16 : 0)
    const start = performance.now()
    const deadline = start + settings.durationMs

    const complete = (startedAt: number, failed: boolean, error?: unknown): void => {
      const now = performance.now()
      outstanding--
      if (failed) {
        errors++
        if (firstError === undefined) firstError = error
      } else {
        if (record) {
          if (ok === latencies.length) {
            const grown = new Float64Array(latencies.length * 2)
            grown.set(latencies)
            latencies = grown
          }
          latencies[ok] = now - startedAt
        }
        ok++
      }
      if (now < deadline) issue()
      else if (outstanding === 0) {
        resolve({
          ops: ok,
          errors,
          elapsedMs: now - start,
          latenciesMs: latencies.subarray(0, record ? ok : 0),
          firstError,
        })
      }
    }

    const issue = (): void => {
      const i = issued++
      outstanding++
      const startedAt = performance.now()
      let pending: Promise<unknown>
      try {
        pending = op(i)
      } catch (err) {
        pending = Promise.reject(err instanceof Error ? err : new Error(String(err)))
      }
      pending.then(
        () => complete(startedAt, false),
        (err: unknown) => complete(startedAt, true, err),
      )
    }

    for (let n = 0; n < settings.inflight; n++) issue()
  })
}

/** The `q`-quantile (0..1) of already sorted values, nearest-rank. */
export function quantile(sorted: Float64Array | readonly number[], q: number): number | undefined {
  if (sorted.length === 0) return undefined
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))
  return sorted[rank]
}

/** Median of defined values; `undefined` when there are none. */
export function median(values: readonly (number | undefined)[]): number | undefined {
  const defined = values
    .filter((v): v is number => v !== undefined && Number.isFinite(v))
    .sort((a, b) => a - b)
  if (defined.length === 0) return undefined
  const mid = defined.length >> 1
  return defined.length % 2 === 1 ? defined[mid] : (defined[mid - 1]! + defined[mid]!) / 2
}
