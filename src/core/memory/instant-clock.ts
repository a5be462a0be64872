/**
 * A clock that holds still while one operation runs. An in-process engine reads the clock once
 * per operation and decides with that reading; the memory store it keeps state in must judge
 * expiry at the same reading. A second reading could be milliseconds later (a GC pause, a busy
 * machine) and drop state the operation still counts as live.
 *
 * @example
 * ```ts
 * const clock = createInstantClock(Date.now)
 * const store = createMemoryStore({ now: clock.now })
 * clock.at((now) => decide(store, now)) // store.get inside sees `now`
 * ```
 *
 * @internal
 */
export interface InstantClock {
  /** The running operation's reading, or a fresh one between operations. */
  readonly now: () => number
  /** Reads the clock once and runs `fn` at that instant. */
  at<T>(fn: (now: number) => T): T
}

/** An {@link InstantClock} over `read`. @internal */
export function createInstantClock(read: () => number): InstantClock {
  let instant: number | undefined
  return {
    now: () => instant ?? read(),
    at(fn) {
      const now = read()
      instant = now
      try {
        return fn(now)
      } finally {
        instant = undefined
      }
    },
  }
}
