/**
 * A writer that keeps setting `prefix:i = i` and remembers which writes the server
 * acknowledged, so a chaos test can check afterwards that none of them was lost.
 */
import type { Valkit } from '../../src/index.js'

export interface WriteLog {
  readonly acked: number[]
  readonly failed: number
  /** Acked writes since `mark()`. */
  ackedSince(mark: number): number
  mark(): number
  stop(): Promise<void>
}

export function startWriter(
  valkit: Valkit,
  prefix: string,
  options: { concurrency?: number } = {},
): WriteLog {
  const acked: number[] = []
  let failed = 0
  let next = 0
  let running = true
  const worker = async (): Promise<void> => {
    while (running) {
      const i = next++
      try {
        await valkit.connection.command(['SET', `${prefix}:${i}`, String(i)], { key: `${prefix}:${i}` })
        acked.push(i)
      } catch {
        failed++
        // Fail-fast errors come back at once: give the failover a moment instead of spinning.
        await new Promise((r) => setTimeout(r, 5))
      }
    }
  }
  const workers = Array.from({ length: options.concurrency ?? 4 }, () => worker())
  return {
    acked,
    get failed() {
      return failed
    },
    mark: () => acked.length,
    ackedSince: (mark) => acked.length - mark,
    stop: async () => {
      running = false
      await Promise.all(workers)
    },
  }
}

/** Reads back every acknowledged write; returns the indexes whose value is missing or wrong. */
export async function findLost(valkit: Valkit, prefix: string, acked: readonly number[]): Promise<number[]> {
  const lost: number[] = []
  for (let start = 0; start < acked.length; start += 500) {
    const batch = acked.slice(start, start + 500)
    const replies = await Promise.all(
      batch.map((i) =>
        valkit.connection.command(['GET', `${prefix}:${i}`], { key: `${prefix}:${i}`, timeoutMs: 5000 }),
      ),
    )
    replies.forEach((reply, k) => {
      if (reply !== String(batch[k])) lost.push(batch[k]!)
    })
  }
  return lost
}

/** Resolves once `count` more writes were acknowledged. */
export async function waitForWrites(log: WriteLog, count: number, timeoutMs: number): Promise<void> {
  const mark = log.mark()
  const deadline = Date.now() + timeoutMs
  while (log.ackedSince(mark) < count) {
    if (Date.now() > deadline)
      throw new Error(`only ${log.ackedSince(mark)} of ${count} writes acknowledged within ${timeoutMs} ms`)
    await new Promise((r) => setTimeout(r, 20))
  }
}
