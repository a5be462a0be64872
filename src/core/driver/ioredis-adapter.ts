/**
 * Lets a user hand in an existing ioredis client (`driver: { ioredis: client }`). valkit
 * still enforces its own deadlines and supervision above the port; reconnecting stays
 * ioredis's job (its `retryStrategy`). Typed structurally so ioredis is not a dependency.
 */
import type {
  CommandOptions,
  DriverEvent,
  DriverPort,
  MessageListener,
  NodeCommander,
  RedisArg,
  RedisReply,
} from './port.js'
import { ChannelRegistry } from './channel-registry.js'
import { pipelineEach } from './pipeline-each.js'

function dispatch(registry: ChannelRegistry, channel: unknown, message: unknown): void {
  const name = Buffer.isBuffer(channel) ? channel : String(channel)
  registry.dispatch(name, Buffer.isBuffer(message) ? message : Buffer.from(String(message)))
}

type Listener = (...args: unknown[]) => void

/** The part of an ioredis `Redis` (or `Cluster`) client valkit uses. */
export interface IoredisLike {
  readonly status: string
  readonly options?: { host?: string; port?: number }
  call(command: string, ...args: (string | Buffer | number)[]): Promise<unknown>
  callBuffer(command: string, ...args: (string | Buffer | number)[]): Promise<unknown>
  duplicate(): IoredisLike
  on(event: string, listener: Listener): unknown
  off(event: string, listener: Listener): unknown
  subscribe(...channels: string[]): Promise<unknown>
  unsubscribe(...channels: string[]): Promise<unknown>
  ssubscribe?(...channels: string[]): Promise<unknown>
  sunsubscribe?(...channels: string[]): Promise<unknown>
  connect(): Promise<void>
  disconnect(reconnect?: boolean): void
  quit(): Promise<unknown>
  nodes?(role: 'master'): IoredisLike[]
}

export class IoredisAdapter implements DriverPort {
  readonly name = 'ioredis'
  readonly #client: IoredisLike
  readonly #listeners = new Set<(event: DriverEvent) => void>()
  readonly #channels = new ChannelRegistry()
  readonly #shardChannels = new ChannelRegistry()
  #sub: IoredisLike | null = null
  #lastError: Error | null = null
  #attempt = 0

  constructor(client: IoredisLike) {
    this.#client = client
    client.on('ready', () => {
      this.#attempt = 0
      this.#emit({ type: 'ready' })
    })
    client.on('close', () => this.#emit({ type: 'close' }))
    client.on('error', (err) => {
      this.#lastError = err instanceof Error ? err : new Error(String(err))
      this.#emit({ type: 'error', error: this.#lastError })
    })
    client.on('reconnecting', (delay) => {
      this.#attempt++
      this.#emit({ type: 'reconnecting', attempt: this.#attempt, delayMs: Number(delay) || 0 })
    })
  }

  #emit(event: DriverEvent): void {
    for (const listener of this.#listeners) listener(event)
  }

  get isReady(): boolean {
    return this.#client.status === 'ready'
  }

  get endpoint(): string | null {
    const o = this.#client.options
    return o?.host !== undefined ? `${o.host}:${o.port ?? 6379}` : null
  }

  get lastError(): Error | null {
    return this.#lastError
  }

  async connect(): Promise<void> {
    if (this.#client.status === 'wait') await this.#client.connect()
    else if (this.#client.status !== 'ready') {
      await new Promise<void>((resolve, reject) => {
        const onReady = (): void => {
          this.#client.off('error', onError)
          resolve()
        }
        const onError = (err: unknown): void => {
          this.#client.off('ready', onReady)
          reject(err instanceof Error ? err : new Error(String(err)))
        }
        this.#client.on('ready', onReady)
        this.#client.on('error', onError)
      })
    }
  }

  command(args: readonly RedisArg[], options?: CommandOptions): Promise<RedisReply> {
    const [name, ...rest] = args
    const sent = options?.buffers
      ? this.#client.callBuffer(String(name), ...rest)
      : this.#client.call(String(name), ...rest)
    return sent as Promise<RedisReply>
  }

  pipeline(
    commands: readonly (readonly RedisArg[])[],
    options?: CommandOptions,
  ): Promise<(RedisReply | Error)[]> {
    // ioredis writes commands issued in one tick together when auto-pipelining is on.
    return pipelineEach(commands, (args) => this.command(args, options))
  }

  #subscriber(): IoredisLike {
    if (this.#sub === null) {
      const sub = this.#client.duplicate()
      sub.on('messageBuffer', (channel, message) => dispatch(this.#channels, channel, message))
      sub.on('smessageBuffer', (channel, message) => dispatch(this.#shardChannels, channel, message))
      sub.on('error', () => {})
      // ioredis resubscribes its channels on reconnect before 'ready'; the first one is the first connect.
      let connectedBefore = false
      sub.on('ready', () => {
        if (connectedBefore) this.#emit({ type: 'resubscribed' })
        connectedBefore = true
      })
      this.#sub = sub
    }
    return this.#sub
  }

  async #add(
    registry: ChannelRegistry,
    channel: string,
    listener: MessageListener,
    sharded: boolean,
  ): Promise<void> {
    if (!registry.add(channel, listener)) return
    const sub = this.#subscriber()
    if (sharded) {
      if (!sub.ssubscribe)
        throw new Error('This ioredis version has no ssubscribe (sharded pub/sub needs ioredis >= 5.3).')
      await sub.ssubscribe(channel)
    } else await sub.subscribe(channel)
  }

  async #remove(
    registry: ChannelRegistry,
    channel: string,
    listener: MessageListener | undefined,
    sharded: boolean,
  ): Promise<void> {
    if (!registry.remove(channel, listener)) return
    const sub = this.#subscriber()
    await (sharded ? sub.sunsubscribe?.(channel) : sub.unsubscribe(channel))
  }

  subscribe(channel: string, listener: MessageListener): Promise<void> {
    return this.#add(this.#channels, channel, listener, false)
  }
  unsubscribe(channel: string, listener?: MessageListener): Promise<void> {
    return this.#remove(this.#channels, channel, listener, false)
  }
  ssubscribe(channel: string, listener: MessageListener): Promise<void> {
    return this.#add(this.#shardChannels, channel, listener, true)
  }
  sunsubscribe(channel: string, listener?: MessageListener): Promise<void> {
    return this.#remove(this.#shardChannels, channel, listener, true)
  }

  async duplicate(): Promise<DriverPort> {
    const copy = new IoredisAdapter(this.#client.duplicate())
    await copy.connect()
    return copy
  }

  async masters(): Promise<NodeCommander[]> {
    const nodes = this.#client.nodes ? this.#client.nodes('master') : [this.#client]
    return nodes.map((node) => {
      const adapter = node === this.#client ? this : new IoredisAdapter(node)
      return { address: adapter.endpoint ?? '?', command: (args, options) => adapter.command(args, options) }
    })
  }

  onEvent(listener: (event: DriverEvent) => void): () => void {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }

  reconnect(): void {
    this.#client.disconnect(true)
  }

  /** Closes valkit's subscriber copy only: the user's client belongs to the user. */
  async close(): Promise<void> {
    if (this.#sub) this.#sub.disconnect(false)
    this.#sub = null
  }
}
