/**
 * node-redis's Cluster client behind valkit's driver port. Slot routing, MOVED/ASK and
 * topology refresh are node-redis's; deadlines, retries and the supervisor stay above the port.
 */
import { createCluster } from '@redis/client'
import { slotOf } from '../keys/slot.js'
import { BUFFER_REPLIES } from './managed-client.js'
import { pipelineEach } from './pipeline-each.js'
import { toRedisArgs } from './node-redis-adapter.js'
import type {
  CommandOptions,
  DriverEvent,
  DriverPort,
  MessageListener,
  NodeCommander,
  RedisArg,
  RedisReply,
} from './port.js'

type ClusterOptions = NonNullable<Parameters<typeof createCluster>[0]>
type RawCluster = ReturnType<typeof createCluster>

export class NodeRedisClusterAdapter implements DriverPort {
  readonly name = 'node-redis'
  readonly routesByKey = true
  readonly #options: ClusterOptions
  readonly #cluster: RawCluster
  readonly #listeners = new Set<(event: DriverEvent) => void>()
  #lastError: Error | null = null
  #connecting: Promise<void> | null = null
  readonly #seed: string

  constructor(options: ClusterOptions) {
    this.#options = options
    this.#cluster = createCluster(options)
    const first = options.rootNodes[0]?.socket
    this.#seed = `${first?.host ?? '?'}:${first?.port ?? '?'}`
    this.#cluster.on('error', (err: Error) => {
      this.#lastError = err
      this.#emit({ type: 'error', error: err })
    })
    this.#cluster.on('node-error', (err: Error) => {
      this.#lastError = err
    })
    this.#cluster.on('connect', () => this.#emit({ type: 'ready' }))
    this.#cluster.on('disconnect', () => this.#emit({ type: 'close' }))
  }

  #emit(event: DriverEvent): void {
    for (const listener of this.#listeners) listener(event)
  }

  get isReady(): boolean {
    return this.#cluster.isReady
  }

  get endpoint(): string | null {
    return this.#seed
  }

  get lastError(): Error | null {
    return this.#lastError
  }

  connect(): Promise<void> {
    this.#connecting ??= this.#cluster.connect().then(() => undefined)
    return this.#connecting
  }

  command(args: readonly RedisArg[], options?: CommandOptions): Promise<RedisReply> {
    return this.#cluster.sendCommand<RedisReply>(
      typeof options?.key === 'number' ? String(options.key) : options?.key,
      options?.readonly,
      [...toRedisArgs(args)],
      options?.buffers ? BUFFER_REPLIES : undefined,
    )
  }

  pipeline(
    commands: readonly (readonly RedisArg[])[],
    options?: CommandOptions,
  ): Promise<(RedisReply | Error)[]> {
    return pipelineEach(commands, (args) => this.command(args, options))
  }

  readonly #wrapped = new WeakMap<MessageListener, (message: Buffer, channel: Buffer | string) => void>()

  /** node-redis passes the channel as a Buffer in buffer mode; listeners get a string. One wrapper per listener, so unsubscribe finds it. */
  #listenerFor(listener: MessageListener): (message: Buffer, channel: Buffer | string) => void {
    let fn = this.#wrapped.get(listener)
    if (fn === undefined) {
      fn = (message, channel) => listener(message, typeof channel === 'string' ? channel : channel.toString())
      this.#wrapped.set(listener, fn)
    }
    return fn
  }

  subscribe(channel: string, listener: MessageListener): Promise<void> {
    return this.#cluster.subscribe(channel, this.#listenerFor(listener), true)
  }

  unsubscribe(channel: string, listener?: MessageListener): Promise<void> {
    return this.#cluster.unsubscribe(
      channel,
      listener ? (this.#listenerFor(listener) as never) : undefined,
      true,
    )
  }

  ssubscribe(channel: string, listener: MessageListener): Promise<void> {
    return this.#cluster.sSubscribe(channel, this.#listenerFor(listener), true)
  }

  sunsubscribe(channel: string, listener?: MessageListener): Promise<void> {
    return this.#cluster.sUnsubscribe(
      channel,
      listener ? (this.#listenerFor(listener) as never) : undefined,
      true,
    )
  }

  async duplicate(): Promise<DriverPort> {
    const copy = new NodeRedisClusterAdapter(this.#options)
    await copy.connect()
    return copy
  }

  async masters(): Promise<NodeCommander[]> {
    return Promise.all(
      this.#cluster.masters.map(async (master) => {
        const client = await this.#cluster.nodeClient(master)
        return {
          address: `${master.host}:${master.port}`,
          command: (args: readonly RedisArg[], options?: CommandOptions) =>
            client.sendCommand<RedisReply>(toRedisArgs(args), options?.buffers ? BUFFER_REPLIES : undefined),
        }
      }),
    )
  }

  onEvent(listener: (event: DriverEvent) => void): () => void {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }

  /**
   * A node that stops answering with its socket open (frozen, partitioned) never triggers
   * node-redis's refresh, and after it resumes it may still accept writes for its old slots
   * until it learns it was demoted. So: on a timeout, re-read the slot map from the other
   * nodes (at most every 250 ms); once a replica is promoted, commands go there.
   */
  commandTimedOut(key: RedisArg | undefined): void {
    const now = Date.now()
    if (key === undefined || now - this.#lastRefresh < 250 || !this.#cluster.isOpen) return
    this.#lastRefresh = now
    let suspect: string | undefined
    try {
      const master = this.#cluster.getSlotMaster(slotOf(typeof key === 'number' ? String(key) : key))
      suspect = `${master.host}:${master.port}`
    } catch {
      suspect = undefined
    }
    this.#cluster._slots.rediscover(undefined, suspect ? new Set([suspect]) : undefined).catch(() => {})
  }

  #lastRefresh = 0

  reconnect(): void {
    // node-redis reconnects each node on its own and refreshes the slot map on MOVED and on
    // reconnection attempts; there is no single socket to drop.
  }

  async close(): Promise<void> {
    if (!this.#cluster.isOpen) return
    try {
      await this.#cluster.close()
    } catch {
      this.#cluster.destroy()
    }
  }
}
