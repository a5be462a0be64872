/**
 * Per-command deadlines at a cost far below an AbortSignal per command.
 *
 * Commands with the same timeout expire in the order they were sent, so each distinct timeout
 * gets a FIFO queue and one timer armed for its oldest entry. Finishing a command flips a
 * flag and drops finished entries from the head of its queue at once (replies come back in
 * order on one connection), so entries stay short-lived and cheap for the garbage collector.
 */
import { performance } from 'node:perf_hooks'

/** What the hot path hands in: one object per command, no closure. */
export interface DeadlineEntry {
  /** Set by `Deadlines.add`. */
  deadline: number
  /** Set by the owner when the work settled; set by `Deadlines` before `expire()`. */
  done: boolean
  /** Called once when the deadline passes first. */
  expire(): void
}

class FifoQueue {
  items: DeadlineEntry[] = []
  head = 0
  timer: NodeJS.Timeout | null = null

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
  readonly #queues = new Map<number, FifoQueue>()
  #closed = false

  /** Tracks `entry` for `timeoutMs` from now. The owner sets `entry.done` when the work settles, then calls `settled(timeoutMs)`. */
  add(entry: DeadlineEntry, timeoutMs: number): void {
    entry.deadline = performance.now() + timeoutMs
    let queue = this.#queues.get(timeoutMs)
    if (queue === undefined) {
      queue = new FifoQueue()
      this.#queues.set(timeoutMs, queue)
    }
    queue.items.push(entry)
    if (queue.timer === null && !this.#closed) this.#arm(queue)
  }

  /** Lets the queue of `timeoutMs` drop finished entries from its head now. */
  settled(timeoutMs: number): void {
    const queue = this.#queues.get(timeoutMs)
    if (queue !== undefined && queue.items[queue.head]?.done === true) queue.peekLive()
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

  #arm(queue: FifoQueue): void {
    const first = queue.peekLive()
    if (first === undefined) return
    const delay = Math.max(1, Math.ceil(first.deadline - performance.now()))
    queue.timer = setTimeout(() => this.#fire(queue), delay)
    queue.timer.unref()
  }

  #fire(queue: FifoQueue): void {
    queue.timer = null
    const now = performance.now()
    for (let entry = queue.peekLive(); entry !== undefined; entry = queue.peekLive()) {
      if (entry.deadline > now) break
      entry.done = true
      queue.head++
      entry.expire()
    }
    if (!this.#closed && queue.peekLive() !== undefined) this.#arm(queue)
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
      if (queue.timer) clearTimeout(queue.timer)
      queue.timer = null
    }
    this.#queues.clear()
  }
}
