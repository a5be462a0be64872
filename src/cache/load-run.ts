import { performance } from 'node:perf_hooks'
import { ValkitError } from '../core/index.js'
import { closedError } from './cache-arguments.js'
import type { CacheRuntime } from './cache-runtime.js'
import type { L1Entry } from './l1-entry.js'
import type { LoadState } from './load-state.js'
import type { LoadPlan } from './load-plan.js'
import type { LoaderContext } from './cache-types.js'

/** What a load needs from its namespace: L2 reads, the lease and the store. @internal */
export interface LoadHost {
  readonly rt: CacheRuntime
  /** Reads L2: the entry, `null` for a miss, `undefined` when L2 did not answer. */
  fetch(full: string, plan: LoadPlan): Promise<L1Entry | null | undefined>
  beginLoad(full: string, leaseTtlMs: number): Promise<BeginReply>
  /** Decodes a frame that begin-load returned (fills L1 unless a change happened since `seq`). */
  acceptFrame(full: string, frame: Buffer | string, plan: LoadPlan, seq: number): L1Entry | null
  /** Stores a loaded value; `true` when it is in the cache now. */
  storeLoaded(key: string, state: LoadState, value: unknown, plan: LoadPlan, lease: Lease): Promise<boolean>
  releaseLease(full: string, token: string): Promise<void>
  /** Extends a lease still held with `token`; `false` when it is not held any more. */
  extendLease(full: string, token: string, ttlMs: number): Promise<boolean>
  /** Drops a suspect L1 entry that L2 no longer has. */
  dropSuspect(full: string, entry: L1Entry): void
}

/** The begin-load script's answer. @internal */
export type BeginReply =
  | { readonly kind: 'value'; readonly frame: Buffer | string }
  | { readonly kind: 'granted'; readonly now: number; readonly token: string }
  | { readonly kind: 'held'; readonly now: number; readonly leftMs: number }

/** The lease a load holds (`token` `'0'`: none) and when it began by the server's clock (`0`: unknown). @internal */
export interface Lease {
  readonly token: string
  readonly began: number
}

const NO_LEASE: Lease = Object.freeze({ token: '0', began: 0 })

/** A stale entry can stand in for a fresh one for `windowMs` after its TTL (a suspect one while its TTL runs). */
export function usableStale(entry: L1Entry | undefined, windowMs: number): entry is L1Entry {
  if (entry === undefined || entry.negative) return false
  const now = Date.now()
  return (
    entry.freshUntil === 0 || entry.freshUntil > now || (windowMs > 0 && entry.freshUntil + windowMs > now)
  )
}

/** Whether an entry is past its TTL but inside the stale-while-revalidate window. */
export function revalidatable(entry: L1Entry, plan: LoadPlan): boolean {
  return (
    !entry.negative &&
    entry.freshUntil !== 0 &&
    plan.staleWhileRevalidateMs > 0 &&
    entry.freshUntil + plan.staleWhileRevalidateMs > Date.now()
  )
}

/** What a load that did not end with a value stored returns (see {@link LoadState.final}). @internal */
export const NOTHING_STORED: unique symbol = Symbol('nothing stored')

/**
 * The body of one `getOrSet` load (or background refresh): L2 read, lease, loader with its
 * deadlines, store. It settles `state` as soon as the caller's answer is known (a stale value
 * under stale-while-revalidate settles early and the load goes on in the background) and
 * always settles it. Resolves with the value the load stored, or {@link NOTHING_STORED}.
 *
 * @internal
 */
export async function runLoad(
  host: LoadHost,
  state: LoadState,
  key: string,
  loader: (context: LoaderContext<unknown>) => unknown,
  plan: LoadPlan,
  refresh: boolean,
): Promise<unknown> {
  const rt = host.rt
  const full = state.full
  let lease = NO_LEASE
  let renewal: NodeJS.Timeout | undefined
  state.refreshing = refresh
  try {
    if (rt.l2Usable()) {
      const found = await host.fetch(full, plan)
      if (found != null) {
        if (rt.trusted(found)) {
          state.settle(found.value)
          return NOTHING_STORED
        }
        if (!found.negative) state.stale = found
      } else if (found === null && state.stale !== undefined && state.stale.epoch !== rt.epoch) {
        // A suspect L1 entry (from before an outage) that L2 no longer has was deleted elsewhere:
        // it must not come back as a stale answer.
        host.dropSuspect(full, state.stale)
        state.stale = undefined
      }
      if (found === undefined && usableStale(state.stale, plan.keepMs)) {
        // L2 did not answer: what L1 holds is the best answer there is.
        rt.hitL1()
        state.settle(state.stale.value)
        return NOTHING_STORED
      }
      if (!refresh && state.stale !== undefined && revalidatable(state.stale, plan)) {
        rt.servedStale()
        rt.refreshes++
        state.settle(state.stale.value)
        refresh = state.refreshing = true
      }
      if (found !== undefined) {
        const begun = await begin(host, state, plan, refresh)
        if (begun === 'skip') {
          state.settle(state.stale?.value)
          return NOTHING_STORED
        }
        if ('entry' in begun) {
          state.settle(begun.entry.value)
          return NOTHING_STORED
        }
        lease = begun
        if (lease.token !== '0') renewal = renewLease(host, full, lease.token)
      }
    }
    if (rt.closed) throw closedError()
    if (!refresh) rt.missed()
    rt.loaderRan()
    let value: unknown
    try {
      value = await callLoader(host, state, key, loader, plan)
    } catch (err) {
      clearInterval(renewal)
      if (lease.token !== '0') void host.releaseLease(full, lease.token)
      const stale = state.stale
      if (!rt.closed && usableStale(stale, plan.graceMs)) {
        rt.servedStale()
        rt.valkit.logger.debug('cache: loader failed; serving the stale value (grace)', {
          namespace: rt.options.namespace,
          error: err instanceof Error ? err.message : String(err),
        })
        state.settle(stale.value)
        return NOTHING_STORED
      }
      state.fail(err)
      return NOTHING_STORED
    }
    clearInterval(renewal)
    const stored = rt.closed ? false : await host.storeLoaded(key, state, value, plan, lease)
    state.settle(value)
    return stored ? value : NOTHING_STORED
  } catch (err) {
    clearInterval(renewal)
    if (lease.token !== '0') void host.releaseLease(full, lease.token)
    state.fail(err)
    return NOTHING_STORED
  }
}

/** Keeps a lease alive while its loader runs (every third of its TTL); stops on its own if lost. */
function renewLease(host: LoadHost, full: string, token: string): NodeJS.Timeout | undefined {
  const options = host.rt.options.lease
  if (options === false) return undefined
  const timer = setInterval(
    () => {
      host.extendLease(full, token, options.ttlMs).then(
        (held) => {
          if (!held) clearInterval(timer)
        },
        () => {},
      )
    },
    Math.max(1, Math.floor(options.ttlMs / 3)),
  )
  timer.unref()
  return timer
}

/**
 * After an L2 miss: the lease (or the server time alone when the load has tags to check), or
 * the value another instance stored meanwhile. While another instance holds the lease, waits for
 * its announcement (or the lease's expiry) and asks again, up to the lease's `wait`; then loads
 * without a lease. A refresh does not wait: it leaves the load to the holder (`'skip'`).
 */
async function begin(
  host: LoadHost,
  state: LoadState,
  plan: LoadPlan,
  refresh: boolean,
): Promise<Lease | { entry: L1Entry } | 'skip'> {
  const rt = host.rt
  const leaseOptions = rt.options.lease
  const leaseMs = plan.lease && leaseOptions !== false ? leaseOptions.ttlMs : 0
  if (leaseMs === 0 && plan.tags === null) return NO_LEASE
  const full = state.full
  // Watch before asking, so an announcement that arrives before the answer is not missed.
  const watch = leaseMs > 0 ? rt.watch(full) : null
  const waitUntil = performance.now() + (leaseOptions === false ? 0 : leaseOptions.waitMs)
  try {
    for (;;) {
      watch?.rearm()
      // Taken before asking: an invalidation handled before the answer keeps it out of L1.
      const seq = rt.seq
      const reply = await host.beginLoad(full, leaseMs)
      if (reply.kind === 'value') {
        const entry = host.acceptFrame(full, reply.frame, plan, seq)
        return entry !== null ? { entry } : NO_LEASE
      }
      if (reply.kind === 'granted') return { token: reply.token, began: reply.now }
      if (refresh) return 'skip'
      const left = waitUntil - performance.now()
      if (left <= 0) return { token: '0', began: reply.now }
      rt.leaseWaited()
      await watch!.wait(Math.min(reply.leftMs + 2, left))
      if (rt.closed) throw closedError()
    }
  } catch (err) {
    if (rt.closed) throw err
    rt.l2Failed(err)
    return NO_LEASE
  } finally {
    watch?.close()
  }
}

/** Runs the loader under the plan's hard deadline (its signal is aborted then). */
function callLoader(
  host: LoadHost,
  state: LoadState,
  key: string,
  loader: (context: LoaderContext<unknown>) => unknown,
  plan: LoadPlan,
): Promise<unknown> {
  const controller = new AbortController()
  state.controller = controller
  const context: LoaderContext<unknown> = {
    key,
    signal: controller.signal,
    stale: state.stale?.negative === false ? state.stale.value : undefined,
  }
  const result = new Promise<unknown>((resolve) => resolve(loader(context)))
  const hardMs = plan.hardTimeoutMs
  if (hardMs === 0) return result
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      host.rt.loaderTimedOut()
      const error = new ValkitError(
        'VALKIT_TIMEOUT',
        `The loader of cache key "${key.slice(0, 100)}" did not answer within ${hardMs} ms (loaderTimeout.hard); its result will not be used.`,
        { details: { namespace: host.rt.options.namespace, timeoutMs: hardMs } },
      )
      controller.abort(error)
      reject(error)
    }, hardMs)
    result.then(
      (value) => {
        clearTimeout(timer)
        resolve(value)
      },
      (err: unknown) => {
        clearTimeout(timer)
        reject(err instanceof Error ? err : new Error(String(err)))
      },
    )
  })
}

/**
 * A caller's answer under a soft deadline: the load's result, or the stale value known by then
 * if the load has not finished within `softMs` (it goes on and stores its result).
 *
 * @internal
 */
export function softly(state: LoadState, softMs: number, onStale: () => void): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      const stale = state.stale
      if (stale !== undefined && !stale.negative) {
        onStale()
        resolve(stale.value)
      }
    }, softMs)
    state.promise.then(
      (value) => {
        clearTimeout(timer)
        resolve(value)
      },
      (err: unknown) => {
        clearTimeout(timer)
        reject(err instanceof Error ? err : new Error(String(err)))
      },
    )
  })
}
