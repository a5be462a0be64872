import { escapeGlob, type NodeCommander, type RedisReply, type Valkit } from '../core/index.js'
import { withTimeout } from '../core/connection/with-timeout.js'

/** SCAN pages read per step, and keys asked per page. */
const PAGES_PER_STEP = 10
const SCAN_COUNT = 1000

/**
 * Counts a root namespace's values in L2 (its sub-namespaces included) with an incremental
 * SCAN: a few pages per step, one step per interval, so a large keyspace costs the server a
 * little at a time. `entries` is the count of the last completed pass (`undefined` before the
 * first one); a pass takes about keyspace size ÷ (10 × 1000) intervals.
 *
 * @internal
 */
export class L2SizeCounter {
  entries: number | undefined
  private readonly patterns: readonly string[]
  private pass: {
    nodes: NodeCommander[]
    node: number
    pattern: number
    cursor: string
    count: number
  } | null = null
  private timer: NodeJS.Timeout | undefined
  private running = false

  constructor(
    private readonly valkit: Valkit,
    namespace: string,
    intervalMs: number,
  ) {
    const base = valkit.keys.key('cache', namespace).slice(0, -1) // '...:cache:{name'
    // The root's values, then its sub-namespaces' ({name:child}).
    this.patterns = [`${escapeGlob(base)}}:v:*`, `${escapeGlob(base)}:*}:v:*`]
    this.timer = setInterval(() => void this.step(), intervalMs)
    this.timer.unref()
  }

  /** Advances the count by up to a few SCAN pages (skipped while Redis is away or a step runs). */
  async step(): Promise<void> {
    const { valkit } = this
    if (this.running || valkit.supervisor.backend !== 'redis' || !valkit.connection.isReady) return
    this.running = true
    try {
      if (this.pass === null) {
        this.pass = { nodes: await valkit.driver.masters(), node: 0, pattern: 0, cursor: '0', count: 0 }
      }
      const pass = this.pass
      const timeoutMs = Math.max(valkit.config.commandTimeoutMs, 1000)
      for (let page = 0; page < PAGES_PER_STEP; page++) {
        const node = pass.nodes[pass.node]
        if (node === undefined) {
          this.entries = pass.count
          this.pass = null
          return
        }
        const reply = (await withTimeout(
          node.command(['SCAN', pass.cursor, 'MATCH', this.patterns[pass.pattern]!, 'COUNT', SCAN_COUNT]),
          timeoutMs,
          `SCAN on ${node.address}`,
        )) as [string | Buffer, RedisReply[]]
        pass.cursor = reply[0].toString()
        pass.count += reply[1].length
        if (pass.cursor === '0') {
          if (++pass.pattern === this.patterns.length) {
            pass.pattern = 0
            pass.node++
          }
        }
      }
    } catch {
      // A failed page restarts the pass next time: a count is never made of two topologies.
      this.pass = null
    } finally {
      this.running = false
    }
  }

  close(): void {
    clearInterval(this.timer)
    this.timer = undefined
  }
}
