import type { StoredResponse } from './stored-response.js'

/** What a finished miss hands the requests that waited for it. */
export interface FlightResult {
  readonly entry: StoredResponse
  /** The key it is stored under: a waiter is served only if its own key for `entry.vary` is this one. */
  readonly key: string
}

/** Orders lookups and flight settlements: see {@link ResponseFlight.servable}. */
let clock = 0

/** A point in that order, taken by a lookup before it reads the cache. */
export function tick(): number {
  return ++clock
}

/**
 * One miss in progress, that concurrent requests of the same key wait for. It settles with the
 * stored response, or `undefined` when the response was not stored, was abandoned, or took longer
 * than the timeout (then the flight leaves the map, and the next miss starts a new one).
 *
 * @internal
 */
export class ResponseFlight {
  readonly result: Promise<FlightResult | undefined>
  private settle!: (result: FlightResult | undefined) => void
  /** When it settled (see {@link tick}); `Infinity` while running. */
  private settledAt = Infinity
  private readonly timer: NodeJS.Timeout

  constructor(
    private readonly flights: Map<string, ResponseFlight>,
    private readonly key: string,
    timeoutMs: number,
  ) {
    this.result = new Promise((resolve) => {
      this.settle = resolve
    })
    flights.set(key, this)
    this.timer = setTimeout(() => this.end(undefined), timeoutMs)
    this.timer.unref()
  }

  /**
   * Settles the flight (the first call wins) and removes it from the map, unless `linger`: then it
   * stays there, settled, until {@link release} (while the response is being written to the cache,
   * a request whose read missed just before is still handed this result instead of running the
   * handler again).
   */
  end(result: FlightResult | undefined, linger = false): void {
    clearTimeout(this.timer)
    if (this.settledAt === Infinity) this.settledAt = tick()
    this.settle(result)
    if (!linger) this.release()
  }

  /** Removes the flight from the map. */
  release(): void {
    if (this.flights.get(this.key) === this) this.flights.delete(this.key)
  }

  /**
   * Whether a lookup that started reading at `startedAt` may use this flight: always while it runs;
   * once settled (lingering), only if the lookup's read began before, so it may have missed the
   * write. A later lookup read the cache after the write, and a miss then means the entry is gone
   * (invalidated): it must not be served from here.
   */
  servable(startedAt: number): boolean {
    return startedAt < this.settledAt
  }

  /** Waits for the flight, at most `timeoutMs`. */
  wait(timeoutMs: number): Promise<FlightResult | undefined> {
    return new Promise((resolve) => {
      // Not unref'd: a request is waiting on it.
      const timer = setTimeout(() => resolve(undefined), timeoutMs)
      void this.result.then((result) => {
        clearTimeout(timer)
        resolve(result)
      })
    })
  }
}
