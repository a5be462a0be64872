/**
 * A wait for another instance's loader: woken by the message that announces the key's write or
 * the lease's release. Made before the lease is asked for, so a message that arrives before the
 * answer is not missed.
 *
 * @internal
 */
export class Watch {
  fired = false
  #wake: (() => void) | null = null
  constructor(private readonly dispose: (watch: Watch) => void) {}

  fire(): void {
    this.fired = true
    this.#wake?.()
  }

  /** Resolves when fired (at once if it already was) or after `ms`. */
  wait(ms: number): Promise<void> {
    if (this.fired) return Promise.resolve()
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer)
        this.#wake = null
        resolve()
      }
      const timer = setTimeout(done, ms)
      this.#wake = done
    })
  }

  /** Fired state cleared, for the next wait. */
  rearm(): void {
    this.fired = false
  }

  close(): void {
    this.#wake?.()
    this.dispose(this)
  }
}
