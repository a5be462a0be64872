/**
 * Collects table tags and hands them over together once `windowMs` has passed since the first
 * of a burst, so a burst of statements (one NOTIFY each) costs one invalidation. A window of 0
 * still batches what arrives in the same tick.
 *
 * @internal
 */
export class InvalidationBatcher {
  private pending = new Set<string>()
  private timer: NodeJS.Timeout | undefined
  private readonly inFlight = new Set<Promise<void>>()

  constructor(
    private readonly windowMs: number,
    private readonly flushTags: (tags: string[]) => Promise<void>,
  ) {}

  add(tag: string): void {
    this.pending.add(tag)
    if (this.timer === undefined) this.timer = setTimeout(() => void this.flush(), this.windowMs)
  }

  /** Sends what is pending now and waits for every batch still in flight. */
  async flush(): Promise<void> {
    if (this.timer !== undefined) {
      clearTimeout(this.timer)
      this.timer = undefined
    }
    if (this.pending.size > 0) {
      const tags = [...this.pending]
      this.pending = new Set()
      const run = this.flushTags(tags).finally(() => this.inFlight.delete(run))
      this.inFlight.add(run)
    }
    await Promise.all(this.inFlight)
  }
}
