/**
 * Where commands wait while the server is away, when the offline queue is on: bounded in
 * count (`maxSize`) and in time (`maxWait`, 0 = no limit); a command that waited too long
 * leaves the queue and frees its place.
 */
import type { ValkitError } from '../errors.js'
import type { Deadlines } from './deadlines.js'

interface Waiter {
  readonly run: () => void
  readonly fail: (err: ValkitError) => void
  done: boolean
}

export class OfflineQueue {
  readonly #waiters: Waiter[] = []

  constructor(
    private readonly deadlines: Deadlines,
    private readonly maxSize: number,
  ) {}

  get full(): boolean {
    return this.#waiters.length >= this.maxSize
  }

  /** Runs `send` at the next `flush()`, or rejects with `expired()` after `waitMs` (0 = never). */
  enqueue<T>(send: () => Promise<T>, waitMs: number, expired: () => ValkitError): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      let finish = (): void => {}
      const waiter: Waiter = {
        done: false,
        run: () => {
          finish()
          send().then(resolve, reject)
        },
        fail: (err) => {
          finish()
          reject(err)
        },
      }
      this.#waiters.push(waiter)
      if (waitMs > 0) {
        finish = this.deadlines.track(waitMs, () => {
          if (waiter.done) return
          waiter.done = true
          const at = this.#waiters.indexOf(waiter)
          if (at !== -1) this.#waiters.splice(at, 1)
          reject(expired())
        })
      }
    })
  }

  /** Sends everything waiting, in order. */
  flush(): void {
    for (const waiter of this.#waiters.splice(0)) {
      if (waiter.done) continue
      waiter.done = true
      waiter.run()
    }
  }

  /** Rejects everything waiting (on close). */
  rejectAll(err: ValkitError): void {
    for (const waiter of this.#waiters.splice(0)) {
      if (waiter.done) continue
      waiter.done = true
      waiter.fail(err)
    }
  }
}
