/**
 * Per-command deadlines at a cost far below an AbortSignal per command.
 *
 * Commands with the same timeout expire in the order they were sent, so each distinct timeout
 * gets a FIFO queue and one timer armed for its oldest entry. Finishing a command only flips a
 * flag; expired and finished entries are dropped from the head when the timer fires.
 */
import { performance } from 'node:perf_hooks'

interface Entry {
  readonly deadline: number
  done: boolean
  readonly onExpire: () => void
}

class FifoQueue {
  items: Entry[] = []
  head = 0
  timer: NodeJS.Timeout | null = null

  push(entry: Entry): void {
    this.items.push(entry)
  }

  /** Drops finished entries at the head; returns the first live one. */
  peekLive(): Entry | undefined {
    const items = this.items
    while (this.head < items.length && items[this.head]!.done) this.head++
    if (this.head > 1024 && this.head * 2 > items.length) {
      this.items = items.slice(this.head)
      this.head = 0
    }
    return this.items[this.head]
  }

  shift(): void {
    this.head++
  }

  get empty(): boolean {
    return this.peekLive() === undefined
  }
}

export class Deadlines {
  readonly #queues = new Map<number, FifoQueue>()
  #closed = false

  /**
   * Races `work` against a deadline `timeoutMs` from now. On expiry `onExpire` runs once and
   * must reject the caller's promise; a later settlement of `work` is ignored by the caller.
   * Returns a function to call when the work settles first.
   */
  track(timeoutMs: number, onExpire: () => void): () => void {
    const entry: Entry = { deadline: performance.now() + timeoutMs, done: false, onExpire }
    let queue = this.#queues.get(timeoutMs)
    if (queue === undefined) {
      queue = new FifoQueue()
      this.#queues.set(timeoutMs, queue)
    }
    queue.push(entry)
    if (queue.timer === null && !this.#closed) this.#arm(queue, timeoutMs)
    return () => {
      entry.done = true
    }
  }

  #arm(queue: FifoQueue, timeoutMs: number): void {
    const first = queue.peekLive()
    if (first === undefined) return
    const delay = Math.max(1, Math.ceil(first.deadline - performance.now()))
    queue.timer = setTimeout(() => this.#fire(queue, timeoutMs), delay)
    queue.timer.unref()
  }

  #fire(queue: FifoQueue, timeoutMs: number): void {
    queue.timer = null
    const now = performance.now()
    for (let entry = queue.peekLive(); entry !== undefined; entry = queue.peekLive()) {
      if (entry.deadline > now) break
      entry.done = true
      queue.shift()
      entry.onExpire()
    }
    if (!queue.empty) this.#arm(queue, timeoutMs)
    else {
      queue.items = []
      queue.head = 0
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
      if (queue.timer) clearTimeout(queue.timer)
      queue.timer = null
    }
    this.#queues.clear()
  }
}
