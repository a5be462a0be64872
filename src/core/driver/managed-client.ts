/**
 * One node-redis connection that valkit keeps alive itself: node-redis's own reconnect is off,
 * so every (re)connect asks `resolveTarget()` where to go (the Sentinel's current master) and
 * may verify the node's role before any command is written to it.
 */
import { createClient, RESP_TYPES } from '@redis/client'
import type { RedisClientOptions } from '@redis/client'
import { backoffDelay, type BackoffPolicy } from '../connection/backoff.js'
import { classifyConnectError } from '../connection/classify-error.js'
import { withTimeout } from '../connection/with-timeout.js'
import type { NodeAddress } from './port.js'

// node-redis's client type is deeply generic; valkit only uses a handful of its methods.
type RawClient = ReturnType<typeof createClient>

/** Where and how to connect: shared by every connection an adapter keeps. */
export interface ConnectionTarget {
  /** Where to connect; called before every (re)connect. */
  readonly resolveTarget: () => Promise<NodeAddress>
  /** node-redis options for a target (socket, TLS, credentials, database, name). */
  readonly clientOptions: (target: NodeAddress) => RedisClientOptions
  readonly reconnect: BackoffPolicy
  readonly connectTimeoutMs: number
  /** Refuse a node whose ROLE is not master (Sentinel: a stale or demoted master). */
  readonly requireMaster: boolean
  readonly tls: boolean
}

export interface ManagedClientOptions extends ConnectionTarget {
  /** Runs on every fresh connection before it counts as ready (resubscribe, ...). */
  readonly onConnected?: (client: RawClient) => Promise<void>
  readonly onEvent: (event: ManagedClientEvent) => void
}

export type ManagedClientEvent =
  | { readonly type: 'ready'; readonly endpoint: string }
  | { readonly type: 'close'; readonly endpoint: string }
  | { readonly type: 'error'; readonly error: Error }
  | { readonly type: 'reconnecting'; readonly attempt: number; readonly delayMs: number }

export const BUFFER_REPLIES = { typeMapping: { [RESP_TYPES.BLOB_STRING]: Buffer } } as const

export class ManagedClient {
  readonly #options: ManagedClientOptions
  #client: RawClient | null = null
  #endpoint: string | null = null
  #closed = false
  #running = false
  #lastError: Error | null = null
  #wakeUp: (() => void) | null = null
  #firstAttempt: { resolve: () => void; reject: (err: Error) => void } | null = null

  constructor(options: ManagedClientOptions) {
    this.#options = options
  }

  get client(): RawClient | null {
    return this.#client !== null && this.#client.isReady ? this.#client : null
  }

  get endpoint(): string | null {
    return this.#endpoint
  }

  get lastError(): Error | null {
    return this.#lastError
  }

  /** Starts the connect loop; resolves on the first ready connection, rejects if the first attempt fails. */
  start(): Promise<void> {
    if (this.#running) return this.#client?.isReady ? Promise.resolve() : this.#waitReady()
    this.#running = true
    const first = this.#waitReady()
    void this.#loop()
    return first
  }

  #waitReady(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#firstAttempt = { resolve, reject }
    })
  }

  async #loop(): Promise<void> {
    let attempt = 0
    while (!this.#closed) {
      let connected = false
      try {
        const client = await this.#connectOnce()
        connected = true
        attempt = 0
        this.#firstAttempt?.resolve()
        this.#firstAttempt = null
        // With node-redis's reconnect off, a dropped socket emits `terminated`; destroy() emits `end`.
        await new Promise<void>((resolve) => {
          client.once('end', () => resolve())
          client.once('terminated', () => resolve())
        })
        this.#client = null
        if (!this.#closed) this.#options.onEvent({ type: 'close', endpoint: this.#endpoint ?? '?' })
      } catch (err) {
        const error = err instanceof Error ? err : new Error(String(err))
        this.#lastError = error
        if (this.#firstAttempt) {
          this.#firstAttempt.reject(error)
          this.#firstAttempt = null
        }
        if (!this.#closed) this.#options.onEvent({ type: 'error', error })
      }
      if (this.#closed) break
      attempt = connected ? 1 : attempt + 1
      const delayMs = backoffDelay(this.#options.reconnect, attempt)
      this.#options.onEvent({ type: 'reconnecting', attempt, delayMs })
      await this.#sleep(delayMs)
    }
  }

  #sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.#wakeUp = null
        resolve()
      }, ms)
      this.#wakeUp = () => {
        clearTimeout(timer)
        this.#wakeUp = null
        resolve()
      }
    })
  }

  async #connectOnce(): Promise<RawClient> {
    const target = await this.#options.resolveTarget()
    const endpoint = `${target.host}:${target.port}`
    this.#endpoint = endpoint
    const client = createClient(this.#options.clientOptions(target))
    client.on('error', (err: unknown) => {
      this.#lastError = classifyConnectError(err, endpoint, this.#options.tls)
    })
    try {
      await withTimeout(client.connect(), this.#options.connectTimeoutMs, `connect to ${endpoint}`)
      if (this.#options.requireMaster) {
        const role = await withTimeout(
          client.sendCommand<unknown[]>(['ROLE']),
          this.#options.connectTimeoutMs,
          `ROLE on ${endpoint}`,
        )
        if (role[0] !== 'master') throw new Error(`${endpoint} is a ${String(role[0])}, not the master`)
      }
      await this.#options.onConnected?.(client)
    } catch (err) {
      client.destroy()
      throw classifyConnectError(this.#lastError ?? err, endpoint, this.#options.tls)
    }
    if (this.#closed) {
      client.destroy()
      throw new Error('closed')
    }
    this.#client = client
    this.#lastError = null
    this.#options.onEvent({ type: 'ready', endpoint })
    return client
  }

  /** Drops the connection now; the loop reconnects (after re-resolving the target). */
  reconnect(): void {
    const client = this.#client
    this.#client = null
    if (client !== null && client.isOpen) client.destroy()
    this.#wakeUp?.()
  }

  async close(): Promise<void> {
    this.#closed = true
    this.#wakeUp?.()
    const client = this.#client
    this.#client = null
    if (this.#firstAttempt) {
      this.#firstAttempt.reject(new Error('closed before the first connection'))
      this.#firstAttempt = null
    }
    if (client !== null && client.isOpen) {
      try {
        await withTimeout(client.close(), 1000, 'close')
      } catch {
        client.destroy()
      }
    }
  }
}
