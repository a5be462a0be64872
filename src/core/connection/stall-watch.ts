/**
 * Deadlines for the lean command path, with no entry per command.
 *
 * On one connection replies come back in the order the commands were sent. So "the oldest
 * command still waiting" is a sequence number: the count of commands settled so far. If that
 * command has passed its deadline, the connection is stalled. Every command sent after it is
 * waiting behind it in the same pipe.
 *
 * The watch does not reject anyone itself: it asks the owner to replace the connection. The
 * driver then rejects everything still in flight, and each caller learns from its own
 * sequence number whether it passed its deadline (below `expiredBelow`) or was only queued
 * behind one that did (below `resetBelow`).
 *
 * Like `Deadlines`, no clock is read per command. While commands are in flight a timer ticks
 * every `timeout / 8` and records where each generation's sequence numbers start. A command
 * sent in generation g has passed its deadline once the generation reaches g + 9: between
 * `timeout` and `timeout * 9/8` after it was sent.
 */

/** Ticks per timeout, as in `Deadlines`. */
const TICKS = 8
const SLOTS = TICKS + 1

export class StallWatch {
  /** Sequence number of the next command. */
  sent = 0
  /** Commands settled so far: the sequence number of the oldest one in flight. */
  settled = 0
  /** Commands below this sequence number were in flight past their deadline when the connection was last replaced. */
  expiredBelow = 0
  /** Commands below this sequence number were sent before the connection was last replaced. */
  resetBelow = 0
  readonly #starts = new Array<number>(SLOTS).fill(0)
  readonly #tickMs: number
  readonly #onStall: () => void
  #generation = 0
  #timer: NodeJS.Timeout | null = null
  #closed = false

  constructor(timeoutMs: number, onStall: () => void) {
    this.#tickMs = Math.max(1, Math.ceil(timeoutMs / TICKS))
    this.#onStall = onStall
  }

  /** The sequence number of a command about to be sent. */
  next(): number {
    if (this.#timer === null && !this.#closed) this.#start()
    return this.sent++
  }

  #start(): void {
    this.#timer = setInterval(() => this.#tick(), this.#tickMs)
    this.#timer.unref()
  }

  #tick(): void {
    const generation = ++this.#generation
    this.#starts[generation % SLOTS] = this.sent
    if (this.settled >= this.sent) {
      // Nothing in flight: stop until the next command.
      clearInterval(this.#timer!)
      this.#timer = null
      return
    }
    if (generation < TICKS) return
    // Commands sent before generation g - 8 began have waited at least eight ticks.
    const expiredBelow = this.#starts[(generation - TICKS) % SLOTS]!
    if (this.settled < expiredBelow && expiredBelow > this.expiredBelow) {
      this.expiredBelow = expiredBelow
      this.resetBelow = this.sent
      this.#onStall()
    }
  }

  /**
   * About how long ago command `seq` was sent: whole ticks since its generation began (so at
   * most one tick short), or the full timeout once its generation has left the record.
   */
  ageMs(seq: number): number {
    const generation = this.#generation
    for (let back = 0; back < TICKS && back <= generation; back++) {
      if (this.#starts[(generation - back) % SLOTS]! <= seq) return back * this.#tickMs
    }
    return TICKS * this.#tickMs
  }

  close(): void {
    this.#closed = true
    if (this.#timer !== null) clearInterval(this.#timer)
    this.#timer = null
  }
}
