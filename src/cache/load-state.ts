import type { L1Entry } from './l1-entry.js'

/**
 * A `getOrSet` load in flight in this process; callers of its key share `promise`. It is
 * tainted when its key, one of its tags or its namespace is invalidated (here or by a message)
 * while it runs: its result is then returned but not stored. `tagKeys` `'derived'`: the tags
 * come from the value, so any tag invalidation taints it. `stale` is the value kept past its
 * TTL, once known (for grace and soft timeouts).
 *
 * @internal
 */
export class LoadState {
  tainted = false
  settled = false
  /** The caller's answer is out (or nobody waits) and the load goes on to refresh the value. */
  refreshing = false
  stale: L1Entry | undefined
  /** The loader's signal: aborted at the hard timeout or when the cache closes. */
  controller: AbortController | undefined
  /** What the callers get. */
  readonly promise: Promise<unknown>
  /**
   * What the load stored, once it is over (`NOTHING_STORED` otherwise): callers that arrive
   * after a refresh answered with the stale value wait for this instead.
   */
  final: Promise<unknown> = Promise.resolve(undefined)
  #resolve!: (value: unknown) => void
  #reject!: (err: unknown) => void

  constructor(
    readonly full: string,
    readonly tagKeys: readonly string[] | 'derived' | null,
    stale: L1Entry | undefined,
  ) {
    this.stale = stale
    this.promise = new Promise((resolve, reject) => {
      this.#resolve = resolve
      this.#reject = reject
    })
  }

  settle(value: unknown): void {
    if (this.settled) return
    this.settled = true
    this.#resolve(value)
  }

  fail(err: unknown): void {
    if (this.settled) return
    this.settled = true
    this.#reject(err)
  }
}
