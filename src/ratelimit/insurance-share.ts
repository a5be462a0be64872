import { runScript, type Valkit } from '../core/index.js'
import { ANNOUNCE_INSTANCE } from './ratelimit-scripts.js'

const ANNOUNCE_EVERY_MS = 2000
const ALIVE_FOR_MS = 10_000
/** The share follows the largest count seen this long: a restarted server forgets its set. */
const REMEMBER_MS = 30_000

/**
 * This instance's share of each limit while Redis/Valkey is down. A fixed share, or `'auto'`:
 * every 2 s (while Redis answers) the instance announces itself in the limiter's instance set
 * and reads how many instances announced themselves in the last 10 s; the share is one over
 * the largest count read in the last 30 s (a server that restarted has forgotten the others
 * until they announce themselves again; a share must not jump up meanwhile).
 *
 * @internal
 */
export class InsuranceShare {
  #share: number
  #instances = 1
  readonly #seen: { at: number; count: number }[] = []
  #timer: NodeJS.Timeout | null = null

  constructor(
    private readonly valkit: Valkit,
    private readonly key: string,
    private readonly instanceId: string,
    share: number | 'auto',
  ) {
    this.#share = share === 'auto' ? 1 : share
    if (share !== 'auto' || valkit.config.topology.kind === 'memory') return
    this.#timer = setInterval(() => void this.announce(), ANNOUNCE_EVERY_MS)
    this.#timer.unref()
    void this.announce()
  }

  get share(): number {
    return this.#share
  }

  /** Instances counted at the last announcement. */
  get instances(): number {
    return this.#instances
  }

  /** Announces this instance and updates the share (skipped while Redis is not in use). */
  async announce(): Promise<void> {
    if (this.#timer === null || this.valkit.supervisor.backend !== 'redis') return
    try {
      const count = Number(
        await runScript(
          this.valkit.connection,
          ANNOUNCE_INSTANCE,
          [this.key],
          [this.instanceId, ALIVE_FOR_MS],
        ),
      )
      if (Number.isSafeInteger(count) && count >= 1) {
        const now = Date.now()
        this.#seen.push({ at: now, count })
        while (this.#seen[0]!.at < now - REMEMBER_MS) this.#seen.shift()
        this.#instances = Math.max(...this.#seen.map((s) => s.count))
        this.#share = 1 / this.#instances
      }
    } catch {
      // Keep the last share: this is exactly the situation it is kept for.
    }
  }

  close(): void {
    if (this.#timer !== null) clearInterval(this.#timer)
    this.#timer = null
  }
}
