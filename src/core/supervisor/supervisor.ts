/**
 * Watches the connection and decides whether capabilities use Redis/Valkey (`ready`) or
 * their in-process fallback (`degraded`), with `recovering` in between while valkit
 * re-establishes what a fresh connection needs (scripts, subscriptions).
 *
 * Detection: a dropped socket degrades at once; a server that stops answering (frozen,
 * partitioned) degrades after `failuresToDegrade` consecutive PINGs miss `pingTimeoutMs`
 * (pings are sent every `intervalMs` without waiting for the previous one). Recovery: the
 * driver reconnects with capped backoff; the first PING answered moves to `recovering`,
 * recovery hooks run, then `ready`.
 */
import { performance } from 'node:perf_hooks'
import diagnostics from 'node:diagnostics_channel'
import type { Supervisor } from '../api-types.js'
import type { DriverPort } from '../driver/port.js'
import { ValkitError } from '../errors.js'
import type { LatencySummary, StateChange, SupervisorState } from '../health-types.js'
import { LatencyWindow } from './latency-window.js'

export interface SupervisorOptions {
  readonly intervalMs: number
  readonly pingTimeoutMs: number
  readonly failuresToDegrade: number
  /** Memory topology: no server at all; the state is `ready` on the memory backend. */
  readonly memoryOnly: boolean
  /** How long recovery hooks may take before `ready` is declared anyway (they keep running). */
  readonly recoveryTimeoutMs?: number
  readonly historySize?: number
}

export type RecoveryHook = () => Promise<void>

const stateChannel = diagnostics.channel('valkit:core:state')

export class ConnectionSupervisor implements Supervisor {
  readonly #driver: DriverPort | null
  readonly #options: SupervisorOptions
  readonly #listeners = new Set<(change: StateChange) => void>()
  readonly #history: StateChange[] = []
  readonly #latency = new LatencyWindow()
  readonly #hooks = new Set<RecoveryHook>()
  #state: SupervisorState
  #timer: NodeJS.Timeout | null = null
  #consecutiveFailures = 0
  #pingsInFlight = 0
  #recovering = false
  #closed = false
  /** Counters for metrics. */
  readonly counters = { transitions: 0, pings: 0, pingFailures: 0, recoveries: 0 }

  constructor(driver: DriverPort | null, options: SupervisorOptions) {
    this.#driver = driver
    this.#options = options
    // Starts `degraded` (not connected yet) and records only real changes from there.
    this.#state = options.memoryOnly ? 'ready' : 'degraded'
    if (driver === null) return
    driver.onEvent((event) => {
      if (event.type === 'close') this.#transition('degraded', 'connection closed')
      else if (event.type === 'error' && !driver.isReady)
        this.#transition('degraded', `connection error: ${event.error.message}`)
      else if (event.type === 'ready') this.#beginRecovery('connected')
      else if (event.type === 'failover')
        this.#transition('degraded', `failover: master moved ${event.from ?? '?'} -> ${event.to}`)
    })
    this.#timer = setInterval(() => this.#ping(), options.intervalMs)
    this.#timer.unref()
  }

  get state(): SupervisorState {
    return this.#state
  }

  get backend(): 'redis' | 'memory' {
    return this.#driver !== null && this.#state === 'ready' ? 'redis' : 'memory'
  }

  history(): readonly StateChange[] {
    return this.#history.slice()
  }

  latency(): LatencySummary {
    return this.#latency.summary()
  }

  onChange(listener: (change: StateChange) => void): () => void {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }

  /** Registers work to redo on every fresh connection (load scripts, resubscribe, mark caches suspect). */
  onRecover(hook: RecoveryHook): () => void {
    this.#hooks.add(hook)
    return () => this.#hooks.delete(hook)
  }

  waitFor(state: SupervisorState, timeoutMs = 10_000): Promise<void> {
    if (this.#state === state) return Promise.resolve()
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        off()
        reject(
          new ValkitError(
            'VALKIT_TIMEOUT',
            `The supervisor did not reach \`${state}\` within ${timeoutMs} ms (it is \`${this.#state}\`).`,
          ),
        )
      }, timeoutMs)
      const off = this.onChange((change) => {
        if (change.to !== state) return
        clearTimeout(timer)
        off()
        resolve()
      })
    })
  }

  #ping(): void {
    const driver = this.#driver
    if (driver === null || this.#closed || !driver.isReady) return
    // Never more than a few pings outstanding against a frozen server.
    if (this.#pingsInFlight >= Math.max(2, this.#options.failuresToDegrade + 1)) return
    this.#pingsInFlight++
    this.counters.pings++
    const started = performance.now()
    let settled = false
    const timer = setTimeout(() => {
      if (settled) return
      settled = true
      this.#pingsInFlight--
      this.#pingFailed(`no PING reply within ${this.#options.pingTimeoutMs} ms`)
    }, this.#options.pingTimeoutMs)
    timer.unref()
    driver.command(['PING']).then(
      () => {
        if (settled) return
        settled = true
        clearTimeout(timer)
        this.#pingsInFlight--
        this.#latency.add(performance.now() - started)
        this.#consecutiveFailures = 0
        if (this.#state === 'degraded') this.#beginRecovery('PING answered')
      },
      (err: unknown) => {
        if (settled) return
        settled = true
        clearTimeout(timer)
        this.#pingsInFlight--
        this.#pingFailed(`PING failed: ${err instanceof Error ? err.message : String(err)}`)
      },
    )
  }

  #pingFailed(reason: string): void {
    this.counters.pingFailures++
    this.#consecutiveFailures++
    if (this.#consecutiveFailures >= this.#options.failuresToDegrade) this.#transition('degraded', reason)
  }

  #beginRecovery(reason: string): void {
    if (this.#recovering || this.#closed || this.#state === 'ready') return
    this.#recovering = true
    this.#consecutiveFailures = 0
    this.#transition('recovering', reason)
    const hooks = [...this.#hooks].map((hook) => hook().catch(() => {}))
    const limit = this.#options.recoveryTimeoutMs ?? 2000
    const timeout = new Promise<void>((resolve) => setTimeout(resolve, limit).unref())
    void Promise.race([Promise.all(hooks), timeout]).then(() => {
      this.#recovering = false
      if (this.#state !== 'recovering') return
      if (this.#driver?.isReady) {
        this.counters.recoveries++
        this.#transition('ready', 'recovered')
      } else this.#transition('degraded', 'connection lost while recovering')
    })
  }

  #transition(to: SupervisorState, reason: string): void {
    if (this.#closed || this.#options.memoryOnly || this.#state === to) return
    const change: StateChange = { from: this.#state, to, at: Date.now(), reason }
    this.#state = to
    this.counters.transitions++
    this.#history.push(change)
    const max = this.#options.historySize ?? 100
    if (this.#history.length > max) this.#history.splice(0, this.#history.length - max)
    if (stateChannel.hasSubscribers) stateChannel.publish(change)
    for (const listener of this.#listeners) {
      try {
        listener(change)
      } catch {
        // A listener's bug must not stop the supervisor.
      }
    }
  }

  close(): void {
    this.#closed = true
    if (this.#timer) clearInterval(this.#timer)
    this.#timer = null
  }
}
