/**
 * Follows a Sentinel-managed master: answers "where is the master now" and announces a
 * switch the moment a sentinel publishes `+switch-master`, with a periodic check as a
 * safety net for a missed message. This is what keeps valkit off a frozen-then-resumed
 * old master (the split-brain case): valkit only ever connects where the sentinels point.
 */
import { createClient, type RedisClientOptions } from '@redis/client'
import { classifyConnectError } from '../connection/classify-error.js'
import { withTimeout } from '../connection/with-timeout.js'
import type { BackoffPolicy } from '../connection/backoff.js'
import { ValkitError } from '../errors.js'
import { ManagedClient } from './managed-client.js'
import type { NodeAddress } from './port.js'

export interface SentinelWatcherOptions {
  readonly sentinels: readonly NodeAddress[]
  readonly masterName: string
  /** node-redis options for talking to a sentinel (credentials, TLS). */
  readonly clientOptions: (target: NodeAddress) => RedisClientOptions
  readonly connectTimeoutMs: number
  readonly reconnect: BackoffPolicy
  readonly tls: boolean
  /** How often to re-ask where the master is, in case a `+switch-master` message was missed. */
  readonly checkIntervalMs: number
  readonly onSwitch: (from: string | null, to: NodeAddress) => void
}

const addr = (a: NodeAddress): string => `${a.host}:${a.port}`

export class SentinelWatcher {
  readonly #options: SentinelWatcherOptions
  #order: NodeAddress[]
  #master: NodeAddress | null = null
  #failovers = 0
  #events: ManagedClient | null = null
  #timer: NodeJS.Timeout | null = null
  #closed = false

  constructor(options: SentinelWatcherOptions) {
    this.#options = options
    this.#order = [...options.sentinels]
  }

  get master(): string | null {
    return this.#master ? addr(this.#master) : null
  }

  get failovers(): number {
    return this.#failovers
  }

  get sentinelCount(): number {
    return this.#options.sentinels.length
  }

  /** Asks the sentinels in turn (the last one that answered first) where the master is. */
  async currentMaster(): Promise<NodeAddress> {
    const errors: string[] = []
    const refusals: ValkitError[] = []
    for (const sentinel of [...this.#order]) {
      const client = createClient({
        ...this.#options.clientOptions(sentinel),
        commandOptions: { timeout: 0 },
      })
      client.on('error', () => {})
      try {
        const reply = await withTimeout(
          (async () => {
            await client.connect()
            return await client.sendCommand<[string, string] | null>([
              'SENTINEL',
              'GET-MASTER-ADDR-BY-NAME',
              this.#options.masterName,
            ])
          })(),
          this.#options.connectTimeoutMs,
          `sentinel ${addr(sentinel)}`,
        )
        if (reply === null) {
          errors.push(`${addr(sentinel)}: does not know master "${this.#options.masterName}"`)
          continue
        }
        // Prefer this sentinel next time.
        this.#order = [sentinel, ...this.#order.filter((s) => s !== sentinel)]
        const master = { host: reply[0], port: Number(reply[1]) }
        this.#noteMaster(master)
        return master
      } catch (err) {
        const classified = classifyConnectError(err, `sentinel ${addr(sentinel)}`, this.#options.tls)
        refusals.push(classified)
        errors.push(classified.message)
      } finally {
        client.destroy()
      }
    }
    // Every sentinel refused the handshake or the credentials: that is the error to show.
    const first = refusals[0]
    if (
      first &&
      refusals.length === errors.length &&
      refusals.every((r) => r.code === first.code) &&
      first.code !== 'VALKIT_UNAVAILABLE'
    ) {
      throw new ValkitError(
        first.code,
        `No sentinel of "${this.#options.masterName}" accepted the connection. ${first.message}`,
        {
          cause: first,
          details: { masterName: this.#options.masterName },
        },
      )
    }
    throw new ValkitError(
      'VALKIT_UNAVAILABLE',
      `No sentinel could name the master "${this.#options.masterName}" (${errors.join('; ')}).`,
      { details: { masterName: this.#options.masterName } },
    )
  }

  #noteMaster(master: NodeAddress): void {
    const previous = this.#master
    this.#master = master
    if (previous !== null && addr(previous) !== addr(master)) {
      this.#failovers++
      this.#options.onSwitch(addr(previous), master)
    }
  }

  /** Subscribes to `+switch-master` and starts the periodic check. */
  start(): void {
    let index = 0
    this.#events = new ManagedClient({
      resolveTarget: async () => this.#order[index++ % this.#order.length]!,
      clientOptions: (target) => this.#options.clientOptions(target),
      reconnect: this.#options.reconnect,
      connectTimeoutMs: this.#options.connectTimeoutMs,
      requireMaster: false,
      tls: this.#options.tls,
      onEvent: () => {},
      onConnected: async (client) => {
        await client.subscribe('+switch-master', (message: string) => {
          // "<name> <old-ip> <old-port> <new-ip> <new-port>"
          const [name, , , host, port] = message.split(' ')
          if (name === this.#options.masterName && host && port)
            this.#noteMaster({ host, port: Number(port) })
        })
      },
    })
    this.#events.start().catch(() => {})
    this.#timer = setInterval(() => {
      if (!this.#closed) this.currentMaster().catch(() => {})
    }, this.#options.checkIntervalMs)
    this.#timer.unref()
  }

  async close(): Promise<void> {
    this.#closed = true
    if (this.#timer) clearInterval(this.#timer)
    await this.#events?.close()
  }
}
