/**
 * Scenarios 3 and 4: many concurrent getOrSet callers on a key nobody has cached yet, with a
 * loader that takes {@link LOADER_MS}. Counts how often the loader ran per key: 1 means the
 * library let one caller load and the others wait for it.
 */
import type { CacheAdapter, CacheLibrary } from './libraries.js'
import type { EventOutcome } from './rows.js'
import { errorText } from './rows.js'
import { LOADER_MS, STAMPEDE_KEYS, VALUE, delay } from './workload.js'

/** How a stampede is laid out: cache objects (each with its own connection) × callers on each. */
export interface StampedeShape {
  readonly instances: number
  readonly callersPerInstance: number
}

let runId = 0

/**
 * Opens `shape.instances` cache objects of `library` (L1 + L2), then for each of
 * {@link STAMPEDE_KEYS} fresh keys (after one unmeasured warm-up key) starts every caller at
 * once and waits for all of them.
 */
export async function runStampede(
  library: CacheLibrary,
  url: string,
  shape: StampedeShape,
): Promise<EventOutcome> {
  const caches: CacheAdapter[] = []
  try {
    for (let n = 0; n < shape.instances; n++) caches.push(await library.open(url, 'l1+l2'))
    const prefix = `stampede:${library.name}:${process.pid}:${Date.now()}:${runId++}`
    const latenciesMs: number[] = []
    let totalMs = 0
    let loaderRuns = 0
    let errors = 0
    let firstError: string | undefined
    for (let k = -1; k < STAMPEDE_KEYS; k++) {
      const key = `${prefix}:${k < 0 ? 'warmup' : k}`
      let runs = 0
      const loader = async (): Promise<unknown> => {
        runs++
        await delay(LOADER_MS)
        return VALUE
      }
      const start = performance.now()
      const calls = caches.flatMap((cache) =>
        Array.from({ length: shape.callersPerInstance }, () =>
          cache.getOrSet(key, loader).then(
            () => performance.now() - start,
            (err: unknown) => {
              errors++
              firstError ??= errorText(err)
              return undefined
            },
          ),
        ),
      )
      const settled = await Promise.all(calls)
      const elapsed = performance.now() - start
      if (k < 0) {
        errors = 0
        firstError = undefined
        continue
      }
      totalMs += elapsed
      loaderRuns += runs
      for (const ms of settled) if (ms !== undefined) latenciesMs.push(ms)
    }
    return {
      latenciesMs,
      errors,
      totalMs,
      keys: STAMPEDE_KEYS,
      loaderRuns,
      note: stampedeNote(loaderRuns / STAMPEDE_KEYS, totalMs / STAMPEDE_KEYS, shape, errors, firstError),
    }
  } finally {
    for (const cache of caches) await cache.close().catch(() => {})
  }
}

function stampedeNote(
  runsPerKey: number,
  meanTotalMs: number,
  shape: StampedeShape,
  errors: number,
  firstError: string | undefined,
): string {
  const callers = shape.instances * shape.callersPerInstance
  const layout =
    shape.instances === 1
      ? `${callers} callers`
      : `${shape.instances} instances × ${shape.callersPerInstance} callers`
  return (
    `loader ran ${runsPerKey.toFixed(2)}× per key (mean of ${STAMPEDE_KEYS} fresh keys, ${layout}, loader ${LOADER_MS} ms); ` +
    `all callers answered in ${meanTotalMs.toFixed(1)} ms per key` +
    (errors > 0 ? `; ${errors} calls rejected (${firstError ?? '?'})` : '')
  )
}
