/**
 * The default adapter: node-redis (`@redis/client`) behind valkit's driver port, for a
 * standalone server or a Sentinel-managed master. node-redis's own per-command timeout and
 * reconnect are off: valkit enforces deadlines above the port and reconnects here, asking
 * where the master is on every attempt.
 */
import {
  BUFFER_REPLIES,
  ManagedClient,
  type ConnectionTarget,
  type ManagedClientEvent,
} from './managed-client.js'
import { ChannelRegistry } from './channel-registry.js'
import { pipelineEach } from './pipeline-each.js'
import type {
  CommandOptions,
  DriverEvent,
  DriverPort,
  MessageListener,
  NodeCommander,
  RedisArg,
  RedisReply,
} from './port.js'

export type NodeRedisAdapterOptions = ConnectionTarget

type Raw = NonNullable<ManagedClient['client']>

/** node-redis takes strings and Buffers only; numbers become strings (no copy when there are none). */
export function toRedisArgs(args: readonly RedisArg[]): readonly (string | Buffer)[] {
  let i = 0
  while (i < args.length && typeof args[i] !== 'number') i++
  if (i === args.length) return args as readonly (string | Buffer)[]
  const out = new Array<string | Buffer>(args.length)
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!
    out[i] = typeof a === 'number' ? String(a) : a
  }
  return out
}

const NOT_CONNECTED = 'The client is offline'

export class NodeRedisAdapter implements DriverPort {
  readonly name = 'node-redis'
  readonly #options: NodeRedisAdapterOptions
  readonly #main: ManagedClient
  #sub: ManagedClient | null = null
  readonly #listeners = new Set<(event: DriverEvent) => void>()
  readonly #channels = new ChannelRegistry()
  readonly #shardChannels = new ChannelRegistry()

  constructor(options: NodeRedisAdapterOptions) {
    this.#options = options
    this.#main = this.#managed((event) => this.#forward(event))
  }

  #managed(
    onEvent: (event: ManagedClientEvent) => void,
    onConnected?: (client: Raw) => Promise<void>,
  ): ManagedClient {
    return new ManagedClient({
      resolveTarget: this.#options.resolveTarget,
      clientOptions: this.#options.clientOptions,
      reconnect: this.#options.reconnect,
      connectTimeoutMs: this.#options.connectTimeoutMs,
      requireMaster: this.#options.requireMaster,
      tls: this.#options.tls,
      onEvent,
      ...(onConnected ? { onConnected } : {}),
    })
  }

  #forward(event: ManagedClientEvent): void {
    let out: DriverEvent
    switch (event.type) {
      case 'ready':
        out = { type: 'ready' }
        break
      case 'close':
        out = { type: 'close' }
        break
      case 'error':
        out = { type: 'error', error: event.error }
        break
      case 'reconnecting':
        out = { type: 'reconnecting', attempt: event.attempt, delayMs: event.delayMs }
        break
    }
    for (const listener of this.#listeners) listener(out)
  }

  get isReady(): boolean {
    return this.#main.client !== null
  }

  get endpoint(): string | null {
    return this.#main.endpoint
  }

  get lastError(): Error | null {
    return this.#main.lastError
  }

  connect(): Promise<void> {
    return this.#main.start()
  }

  command(args: readonly RedisArg[], options?: CommandOptions): Promise<RedisReply> {
    const client = this.#main.client
    if (client === null) return Promise.reject(new Error(NOT_CONNECTED))
    return client.sendCommand<RedisReply>(toRedisArgs(args), options?.buffers ? BUFFER_REPLIES : undefined)
  }

  pipeline(
    commands: readonly (readonly RedisArg[])[],
    options?: CommandOptions,
  ): Promise<(RedisReply | Error)[]> {
    const client = this.#main.client
    if (client === null) return Promise.reject(new Error(NOT_CONNECTED))
    const typeMapping = options?.buffers ? BUFFER_REPLIES : undefined
    return pipelineEach(commands, (args) => client.sendCommand<RedisReply>(toRedisArgs(args), typeMapping))
  }

  async #subscriber(): Promise<Raw> {
    if (this.#sub === null) {
      let connectedBefore = false
      this.#sub = this.#managed(
        (event) => {
          // Every 'ready' after the first is a new subscriber connection, its channels restored.
          if (event.type !== 'ready') return
          if (connectedBefore) for (const listener of this.#listeners) listener({ type: 'resubscribed' })
          connectedBefore = true
        },
        async (client) => {
          for (const channel of this.#channels.channels()) await this.#rawSubscribe(client, channel, false)
          for (const channel of this.#shardChannels.channels())
            await this.#rawSubscribe(client, channel, true)
        },
      )
      await this.#sub.start()
    }
    const client = this.#sub.client
    if (client === null) throw new Error(NOT_CONNECTED)
    return client
  }

  /** Channels subscribed on each subscriber connection (a reconnect makes a new client with none). */
  readonly #live = new WeakMap<Raw, Set<string>>()

  #rawSubscribe(client: Raw, channel: string, sharded: boolean): Promise<void> {
    // The first subscription creates the connection, whose on-connect step subscribes every
    // registered channel, this one included: subscribing it again would add a second listener
    // on the client and deliver each message twice.
    let live = this.#live.get(client)
    if (live === undefined) this.#live.set(client, (live = new Set()))
    const id = subscriptionId(channel, sharded)
    if (live.has(id)) return Promise.resolve()
    live.add(id)
    const registry = sharded ? this.#shardChannels : this.#channels
    const dispatch = (message: Buffer, ch: Buffer | string): void => registry.dispatch(ch, message)
    const done = sharded
      ? client.sSubscribe(channel, dispatch, true)
      : client.subscribe(channel, dispatch, true)
    return done.catch((err: unknown) => {
      live.delete(id)
      throw err
    })
  }

  async #add(channel: string, listener: MessageListener, sharded: boolean): Promise<void> {
    const registry = sharded ? this.#shardChannels : this.#channels
    if (registry.add(channel, listener)) {
      try {
        await this.#rawSubscribe(await this.#subscriber(), channel, sharded)
      } catch (err) {
        // Kept in the registry: the subscriber connection subscribes it again when it is back.
        if (this.#sub?.client) throw err
      }
    }
  }

  async #remove(channel: string, listener: MessageListener | undefined, sharded: boolean): Promise<void> {
    const registry = sharded ? this.#shardChannels : this.#channels
    if (!registry.remove(channel, listener)) return
    const client = this.#sub?.client
    if (!client) return
    this.#live.get(client)?.delete(subscriptionId(channel, sharded))
    await (sharded ? client.sUnsubscribe(channel) : client.unsubscribe(channel))
  }

  subscribe(channel: string, listener: MessageListener): Promise<void> {
    return this.#add(channel, listener, false)
  }

  unsubscribe(channel: string, listener?: MessageListener): Promise<void> {
    return this.#remove(channel, listener, false)
  }

  ssubscribe(channel: string, listener: MessageListener): Promise<void> {
    return this.#add(channel, listener, true)
  }

  sunsubscribe(channel: string, listener?: MessageListener): Promise<void> {
    return this.#remove(channel, listener, true)
  }

  async duplicate(): Promise<DriverPort> {
    const copy = new NodeRedisAdapter(this.#options)
    await copy.connect()
    return copy
  }

  async masters(): Promise<NodeCommander[]> {
    return [{ address: this.endpoint ?? '?', command: (args, options) => this.command(args, options) }]
  }

  onEvent(listener: (event: DriverEvent) => void): () => void {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }

  resetCommandConnection(): void {
    this.#main.reconnect()
  }

  reconnect(): void {
    this.#main.reconnect()
    this.#sub?.reconnect()
  }

  async close(): Promise<void> {
    await Promise.all([this.#main.close(), this.#sub?.close()])
  }
}

/** A subscription's name in the per-connection set: plain and sharded channels apart. */
const subscriptionId = (channel: string, sharded: boolean): string => `${sharded ? 's' : 'c'}:${channel}`
