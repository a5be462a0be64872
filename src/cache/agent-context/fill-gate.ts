/**
 * Decides whether an operation may keep a copy in process memory. Not while the invalidation
 * channel is not confirmed to deliver (a change announced meanwhile would be missed), and not
 * when messages may have been lost while the operation ran (a reconnection, or the subscriber
 * connection alone came back): each operation takes a ticket when it starts and checks it when
 * it is about to fill.
 *
 * @internal
 */
export class FillGate {
  private generation = 0

  /** `live()`: the channel delivers (always true without a channel: nothing to miss). */
  constructor(private readonly live: () => boolean) {}

  /** Taken when an operation starts: `null` while the channel is not confirmed. */
  ticket(): number | null {
    return this.live() ? this.generation : null
  }

  /** Whether the operation that took `ticket` may keep a copy now. */
  allows(ticket: number | null): boolean {
    return ticket !== null && ticket === this.generation && this.live()
  }

  /** Messages may have been missed: operations in flight keep no copy. */
  missed(): void {
    this.generation++
  }
}
