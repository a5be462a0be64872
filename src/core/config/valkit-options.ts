import type { Duration } from './duration.js'
import type { HostPort } from './host-port.js'

/**
 * The logger valkit writes to. Structurally typed so any `{ debug, info, warn, error }`
 * logger fits (pino, console, the telemetry module's logger).
 */
export interface ConfigLogger {
  debug(message: string, ...rest: unknown[]): unknown
  info(message: string, ...rest: unknown[]): unknown
  warn(message: string, ...rest: unknown[]): unknown
  error(message: string, ...rest: unknown[]): unknown
}

/** TLS settings. PEM text may be given inline (`ca`, `cert`, `key`) or as file paths (`caFile`...). */
export interface TlsOptions {
  /** CA certificate(s) to trust, PEM. @defaultValue Node's bundled CAs */
  ca?: string | Buffer
  /** Client certificate, PEM (mutual TLS; needs `key`). */
  cert?: string | Buffer
  /** Client private key, PEM (mutual TLS; needs `cert`). Treated as a secret. */
  key?: string | Buffer
  /** Path of a PEM file read at startup instead of `ca`. */
  caFile?: string
  /** Path of a PEM file read at startup instead of `cert`. */
  certFile?: string
  /** Path of a PEM file read at startup instead of `key`. */
  keyFile?: string
  /** Server name to send (SNI) and verify. @defaultValue the host connected to */
  servername?: string
  /** Verify the server's certificate. `false` is dangerous: anyone on the path can impersonate the server. @defaultValue true */
  rejectUnauthorized?: boolean
}

/** Redis Sentinel: valkit asks the sentinels where the master is and follows failovers. */
export interface SentinelOptions {
  /** Sentinel addresses; a string without a port gets 26379. */
  sentinels: HostPort[]
  /** The master name the sentinels monitor (`sentinel monitor <name> ...`). */
  masterName: string
  /** ACL user on the sentinels (the top-level `username` is for the data nodes). */
  username?: string
  /** Password on the sentinels (the top-level `password` is for the data nodes). */
  password?: string
  /** TLS to the sentinels (the top-level `tls` is for the data nodes). @defaultValue false */
  tls?: boolean | TlsOptions
}

/** Redis/Valkey Cluster. */
export interface ClusterOptions {
  /** Seed nodes; one reachable node is enough, more survive a node being down. A string without a port gets 6379. */
  nodes: HostPort[]
  /** Maps the addresses nodes announce (`host:port`; `[ipv6]:port` is accepted) to addresses this process can reach (NAT, containers). Resolved keys are `host:port` with IPv6 unbracketed, as the drivers look them up. @defaultValue {} */
  natMap?: Record<string, HostPort>
  /** Send read-only commands to replicas (they may lag the master). @defaultValue false */
  readFromReplicas?: boolean
}

/** Offline queue: commands issued while disconnected wait for the connection instead of failing at once. */
export interface OfflineQueueOptions {
  /** Commands held at most; more fail with `VALKIT_UNAVAILABLE`. @defaultValue 1000 */
  maxSize?: number
  /** How long a queued command waits; `0` = as long as it takes. @defaultValue `commandTimeout` */
  maxWait?: Duration
}

/** Reconnection back-off: delay doubles from `initialDelay` up to `maxDelay`. */
export interface ReconnectOptions {
  /** @defaultValue '50ms' */
  initialDelay?: Duration
  /** The supervisor promises to use the server again within 1 s of it answering; above 1 s that promise weakens. @defaultValue '1s' */
  maxDelay?: Duration
  /** `full`: each delay is random in [0, delay] (spreads reconnect storms). @defaultValue 'full' */
  jitter?: 'full' | 'none'
}

/** Retries of idempotent commands (reads, and writes valkit knows are safe to repeat) after connection errors. */
export interface RetryOptions {
  /** Extra attempts after the first; `0` turns retries off. @defaultValue 2 */
  attempts?: number
  /** @defaultValue '20ms' */
  initialDelay?: Duration
  /** @defaultValue '200ms' */
  maxDelay?: Duration
}

/** The health checker and its warning thresholds. */
export interface HealthOptions {
  /** PING interval. @defaultValue '250ms' */
  interval?: Duration
  /** A PING slower than this counts as a failure. @defaultValue '500ms' */
  pingTimeout?: Duration
  /** Consecutive failures before the supervisor reports `degraded`. @defaultValue 2 */
  failuresToDegrade?: number
  /** p99 PING latency above this raises a warning. @defaultValue '50ms' */
  latencyWarn?: Duration
  /** used_memory / maxmemory above this raises a warning. @defaultValue 0.8 */
  memoryWarnRatio?: number
  /** Evicted keys per minute above this raises a warning. @defaultValue 100 */
  evictionsWarnPerMinute?: number
  /** Replication lag above this many bytes raises a warning. @defaultValue 1048576 (1 MiB) */
  replicationLagWarnBytes?: number
}

/** Durable writes: after writes that ask for it, `WAIT replicas timeout` confirms them on replicas. */
export interface DurableWritesOptions {
  /** Replicas that must acknowledge (use >= 2 per shard to survive a failover). */
  replicas: number
  /** How long `WAIT` blocks before the write is reported `VALKIT_NOT_DURABLE`. */
  timeout: Duration
}

/**
 * Everything valkit needs to connect. Every option can also come from the environment
 * (`VALKIT_*`, see `docs/configuration.md`); an option given in code wins over the environment.
 * With no `url`, `host`, `sentinel` or `cluster` anywhere, valkit runs on the in-process memory backend.
 *
 * @example
 * ```ts
 * const config = resolveConfig({ url: 'rediss://app:secret@cache.internal:6380/0', commandTimeout: '500ms' })
 * ```
 */
export interface ValkitOptions {
  /** `redis://[user[:password]@]host[:port][/db]`, `rediss://` (TLS), `valkey://`, `valkeys://` (TLS), `unix:///path.sock`, `memory://`. Query: `?clientName=&commandTimeout=&connectTimeout=`. */
  url?: string
  /** Server host, instead of `url`. @defaultValue '127.0.0.1' when only `port` is given */
  host?: string
  /** Server port, instead of `url`. @defaultValue 6379 */
  port?: number
  sentinel?: SentinelOptions
  cluster?: ClusterOptions
  /** ACL user. @defaultValue the URL's user, else `default` */
  username?: string
  /** Password; secret: never logged, never in an error. */
  password?: string
  /** Database index (must be 0 on a Cluster). @defaultValue 0 */
  database?: number
  /** Name shown by `CLIENT LIST`. @defaultValue 'valkit' */
  clientName?: string
  /** TLS to the server; `true` uses Node's CAs. `rediss://`/`valkeys://` imply `true`. @defaultValue false */
  tls?: boolean | TlsOptions
  /** Deadline of each command; `0` = none (dangerous: a stalled server hangs callers forever). @defaultValue '1s' */
  commandTimeout?: Duration
  /** Deadline of each connection attempt. @defaultValue '2s' */
  connectTimeout?: Duration
  /** `true` = `{ maxSize: 1000, maxWait: commandTimeout }`. @defaultValue false */
  offlineQueue?: boolean | OfflineQueueOptions
  reconnect?: ReconnectOptions
  retry?: RetryOptions
  health?: HealthOptions
  /** @defaultValue false */
  durableWrites?: false | DurableWritesOptions
  /** First segment of every key (`{prefix}:{capability}:...`); no spaces, no braces. @defaultValue 'valkit' */
  keyPrefix?: string
  /** `'node-redis'`, or `{ ioredis: client }` to use an ioredis client you created (it carries its own connection settings). @defaultValue 'node-redis' */
  driver?: 'node-redis' | { ioredis: unknown }
  /** Where valkit logs; `false` = nowhere. @defaultValue the telemetry module's logger */
  logger?: ConfigLogger | false
  /** Where `VALKIT_*` variables are read from. @defaultValue process.env */
  env?: Record<string, string | undefined>
}

/** Names of the top-level options, to catch typos. */
export const VALKIT_OPTION_NAMES: readonly (keyof ValkitOptions)[] = Object.freeze([
  'url',
  'host',
  'port',
  'sentinel',
  'cluster',
  'username',
  'password',
  'database',
  'clientName',
  'tls',
  'commandTimeout',
  'connectTimeout',
  'offlineQueue',
  'reconnect',
  'retry',
  'health',
  'durableWrites',
  'keyPrefix',
  'driver',
  'logger',
  'env',
] as const)

/** The defaults, in milliseconds where the option is a duration. */
export const VALKIT_DEFAULTS = Object.freeze({
  host: '127.0.0.1',
  port: 6379,
  sentinelPort: 26379,
  database: 0,
  clientName: 'valkit',
  commandTimeoutMs: 1000,
  connectTimeoutMs: 2000,
  offlineQueue: Object.freeze({ maxSize: 1000 }),
  reconnect: Object.freeze({ initialDelayMs: 50, maxDelayMs: 1000, jitter: 'full' as const }),
  retry: Object.freeze({ attempts: 2, initialDelayMs: 20, maxDelayMs: 200 }),
  health: Object.freeze({
    intervalMs: 250,
    pingTimeoutMs: 500,
    failuresToDegrade: 2,
    latencyWarnMs: 50,
    memoryWarnRatio: 0.8,
    evictionsWarnPerMinute: 100,
    replicationLagWarnBytes: 1024 * 1024,
  }),
  keyPrefix: 'valkit',
})
