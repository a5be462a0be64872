/**
 * The narrow internal port between valkit and a Redis client library. valkit's own adapter
 * wraps node-redis (`@redis/client`); `ioredis-adapter.ts` lets a user hand in an ioredis
 * client. Everything above this port (deadlines, retries, supervisor, scripts) is driver-agnostic.
 *
 * Rules for adapters:
 * - never time out on their own (valkit enforces deadlines above the port, cheaply);
 * - reject with the driver's error (valkit classifies it); error replies become `Error` objects
 *   whose message starts with the Redis error prefix (`NOSCRIPT ...`, `MOVED ...`);
 * - replies are returned as RESP2-shaped JavaScript values: `string` (or `Buffer` when
 *   `buffers: true`), `number`, `null`, arrays of those.
 */

export type RedisArg = string | Buffer | number

export type RedisReply =
  string | number | bigint | Buffer | null | RedisReply[] | { [key: string]: RedisReply }

export interface CommandOptions {
  /** The key that routes the command on a Cluster (the first key, usually). Keyless commands omit it. */
  readonly key?: RedisArg
  /** The command does not write (lets a Cluster adapter read from replicas when configured). */
  readonly readonly?: boolean
  /** Return bulk strings as `Buffer` instead of `string`. */
  readonly buffers?: boolean
}

export type DriverEvent =
  | { readonly type: 'connect' }
  | { readonly type: 'ready' }
  | { readonly type: 'error'; readonly error: Error }
  | { readonly type: 'close' }
  | { readonly type: 'reconnecting'; readonly attempt: number; readonly delayMs: number }
  /** The adapter moved to another master (Sentinel `+switch-master`, or a role check found a replica). */
  | { readonly type: 'failover'; readonly from: string | null; readonly to: string }
  /**
   * The subscriber connection came back after it was lost (the command connection may never have
   * dropped: Redis closes a pub/sub client past `client-output-buffer-limit pubsub`) and every
   * channel is subscribed again. Messages published meanwhile were lost: a listener that keeps
   * state derived from them should revalidate it.
   */
  | { readonly type: 'resubscribed' }

export type MessageListener = (message: Buffer, channel: string) => void

/** Addresses of one node, as `host:port`. */
export interface NodeAddress {
  readonly host: string
  readonly port: number
}

/** One node that commands can be sent to directly (no routing). */
export interface NodeCommander {
  readonly address: string
  command(args: readonly RedisArg[], options?: CommandOptions): Promise<RedisReply>
}

export interface DriverPort {
  /** Which library is behind the port: shows up in health reports and benchmarks. */
  readonly name: string
  /** `true` while commands can be written to a live connection. */
  readonly isReady: boolean
  /** `host:port` commands go to now (the current master), or null before the first connect. */
  readonly endpoint: string | null
  /** Commands must carry their routing `key` (Cluster). Otherwise valkit omits it. */
  readonly routesByKey?: boolean
  /** The last connection error, already classified (TLS, auth, refused...), or null. */
  readonly lastError: Error | null
  /** Opens the connection(s). Rejects if the first attempt fails; later reconnects are the adapter's job. */
  connect(): Promise<void>
  /** Sends one command. */
  command(args: readonly RedisArg[], options?: CommandOptions): Promise<RedisReply>
  /**
   * Sends several commands in one write (no MULTI). Each slot holds the reply or the `Error`
   * for that command; the promise rejects only when the batch could not be sent at all.
   * On a Cluster every command must route to the slot of `options.key`.
   */
  pipeline(
    commands: readonly (readonly RedisArg[])[],
    options?: CommandOptions,
  ): Promise<(RedisReply | Error)[]>
  /** Subscribes on the dedicated subscriber connection (created on first use). */
  subscribe(channel: string, listener: MessageListener): Promise<void>
  unsubscribe(channel: string, listener?: MessageListener): Promise<void>
  /** Sharded pub/sub (Redis/Valkey 7+): on a Cluster, the message stays on the channel's shard. */
  ssubscribe(channel: string, listener: MessageListener): Promise<void>
  sunsubscribe(channel: string, listener?: MessageListener): Promise<void>
  /** A separate connection with the same settings, for blocking commands (BLMOVE, XREADGROUP BLOCK...). */
  duplicate(): Promise<DriverPort>
  /** Every master node (one for standalone/Sentinel; each shard's master on a Cluster), for SCAN and SCRIPT LOAD. */
  masters(): Promise<NodeCommander[]>
  /** Listens to connection events. Returns a function that removes the listener. */
  onEvent(listener: (event: DriverEvent) => void): () => void
  /** Drops the socket(s) now and reconnects (used after a deadline expires or a failover is announced). */
  reconnect(): void
  /**
   * A command routed by `key` got no reply within its deadline. A Cluster adapter uses it to
   * re-read the slot map from the other nodes (a frozen master's slots may have moved).
   */
  commandTimedOut?(key: RedisArg | undefined): void
  /**
   * Replaces the command connection alone (not the subscriber): a command on it passed its
   * deadline, so everything behind it is stuck too. The driver rejects what it had in flight
   * and reconnects. A driver that has this gets valkit's lean command path (no deadline entry
   * per command); one without it gets a deadline entry per command.
   */
  resetCommandConnection?(): void
  /** Closes every connection. Pending commands are rejected. Idempotent. */
  close(): Promise<void>
}
