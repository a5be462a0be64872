/**
 * Per-command deadlines at a cost far below an AbortSignal per command.
 *
 * Commands with the same timeout expire in the order they were sent, so each distinct timeout
 * gets a FIFO queue. No clock is read per command: while a queue holds entries, a timer ticks
 * every `timeout / 8` and bumps the queue's generation; an entry remembers the generation it
 * was added in and expires once eight or nine ticks have passed, that is between `timeout` and
 * `timeout * 9/8` after it was sent. Finishing a command flips a flag; finished entries leave
 * the head of the queue at once (replies come back in order on one connection), so entries
 * stay short-lived and cheap for the garbage collector.
 */

/** What the hot path hands in: one object per command, no closure. */
export interface DeadlineEntry {
  /** Set by `Deadlines.add` (the generation the entry was added in). */
  deadline: number
  /** Set by the owner when the work settled; set by `Deadlines` before `expire()`. */
  done: boolean
  /** Called once when the deadline passes first. */
  expire(): void
}

/** Ticks per timeout: the deadline fires between `timeout` and `timeout * (1 + 1/TICKS)`. */
const TICKS = 8

/** The entries of one timeout, oldest first. Hold on to it to skip a lookup per command. */
export class DeadlineQueue {
  items: DeadlineEntry[] = []
  head = 0
  generation = 0
  timer: NodeJS.Timeout | null = null

  constructor(
    readonly tickMs: number,
    private readonly start: (queue: DeadlineQueue) => void,
  ) {}

  /** Tracks `entry` from now. The owner sets `entry.done` when the work settles, then calls `settled()`. */
  add(entry: DeadlineEntry): void {
    entry.deadline = this.generation
    this.items.push(entry)
    if (this.timer === null) this.start(this)
  }

  /** Drops finished entries from the head now (cheap when the head is still pending). */
  settled(): void {
    if (this.items[this.head]?.done === true) this.peekLive()
  }

  /** Drops finished entries at the head; returns the first live one. */
  peekLive(): DeadlineEntry | undefined {
    const items = this.items
    let head = this.head
    while (head < items.length && items[head]!.done) head++
    if (head === items.length) {
      // Everything finished: reuse the array from the start.
      items.length = 0
      head = 0
    } else if (head > 1024) {
      items.splice(0, head)
      head = 0
    }
    this.head = head
    return items[head]
  }
}

class ClosureEntry implements DeadlineEntry {
  deadline = 0
  done = false
  constructor(private readonly onExpire: () => void) {}
  expire(): void {
    this.onExpire()
  }
}

export class Deadlines {
  readonly #queues = new Map<number, DeadlineQueue>()
  #closed = false

  /** The queue of one timeout (created on first use). */
  queue(timeoutMs: number): DeadlineQueue {
    let queue = this.#queues.get(timeoutMs)
    if (queue === undefined) {
      queue = new DeadlineQueue(Math.max(1, Math.ceil(timeoutMs / TICKS)), (q) => this.#start(q))
      this.#queues.set(timeoutMs, queue)
    }
    return queue
  }

  /** Tracks `entry` for `timeoutMs` from now. */
  add(entry: DeadlineEntry, timeoutMs: number): void {
    this.queue(timeoutMs).add(entry)
  }

  /** Lets the queue of `timeoutMs` drop finished entries from its head now. */
  settled(timeoutMs: number): void {
    this.#queues.get(timeoutMs)?.settled()
  }

  /**
   * Convenience for cold paths: runs `onExpire` once when `timeoutMs` pass first.
   * Returns the function to call when the work settles first.
   */
  track(timeoutMs: number, onExpire: () => void): () => void {
    const entry = new ClosureEntry(onExpire)
    this.add(entry, timeoutMs)
    return () => {
      entry.done = true
      this.settled(timeoutMs)
    }
  }

  #start(queue: DeadlineQueue): void {
    if (this.#closed) return
    queue.timer = setInterval(() => this.#tick(queue), queue.tickMs)
    queue.timer.unref()
  }

  #tick(queue: DeadlineQueue): void {
    queue.generation++
    // An entry added in generation g has seen TICKS full ticks once the generation is g + TICKS + 1.
    const expiredBefore = queue.generation - TICKS
    for (let entry = queue.peekLive(); entry !== undefined; entry = queue.peekLive()) {
      if (entry.deadline >= expiredBefore) break
      entry.done = true
      queue.head++
      entry.expire()
    }
    if (queue.peekLive() === undefined && queue.timer !== null) {
      clearInterval(queue.timer)
      queue.timer = null
    }
  }

  /** Number of commands still waiting, for metrics. */
  get pending(): number {
    let n = 0
    for (const q of this.#queues.values()) {
      for (let i = q.head; i < q.items.length; i++) if (!q.items[i]!.done) n++
    }
    return n
  }

  /** Stops every timer. Work still pending settles through its own rejection (the driver's close). */
  close(): void {
    this.#closed = true
    for (const queue of this.#queues.values()) {
      if (queue.timer) clearInterval(queue.timer)
      queue.timer = null
    }
    this.#queues.clear()
  }
}
