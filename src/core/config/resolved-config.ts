import type { ConfigLogger } from './valkit-options.js'

/** TLS settings after validation, with files read. */
export interface ResolvedTls {
  readonly ca?: Buffer
  readonly cert?: Buffer
  readonly key?: Buffer
  readonly servername?: string
  readonly rejectUnauthorized: boolean
}

/** Where commands go. */
export type Topology =
  | { readonly kind: 'memory' }
  | {
      readonly kind: 'standalone'
      readonly host: string
      readonly port: number
      /** Set for `unix://` URLs: connect to this socket instead of host/port. */
      readonly socketPath?: string
    }
  | {
      readonly kind: 'sentinel'
      readonly sentinels: readonly { readonly host: string; readonly port: number }[]
      readonly masterName: string
      readonly username?: string
      readonly password?: string
      readonly tls?: ResolvedTls
    }
  | {
      readonly kind: 'cluster'
      readonly nodes: readonly { readonly host: string; readonly port: number }[]
      /** Keyed by the announced `host:port` (IPv6 without brackets: the form node-redis and ioredis look up). */
      readonly natMap: Readonly<Record<string, { readonly host: string; readonly port: number }>>
      readonly readFromReplicas: boolean
    }

/**
 * The validated configuration: every default applied, every duration in milliseconds, every
 * file read, deep-frozen (Buffers are copies; a user's logger and ioredis client are not frozen).
 * Printing it with `console.log` or `JSON.stringify` shows the redacted form.
 */
export interface ResolvedValkitConfig {
  readonly topology: Topology
  readonly username?: string
  readonly password?: string
  readonly database: number
  readonly clientName: string
  readonly tls: ResolvedTls | null
  /** 0 = no deadline. */
  readonly commandTimeoutMs: number
  readonly connectTimeoutMs: number
  /** `maxWaitMs` 0 = no limit. */
  readonly offlineQueue: { readonly enabled: boolean; readonly maxSize: number; readonly maxWaitMs: number }
  readonly reconnect: {
    readonly initialDelayMs: number
    readonly maxDelayMs: number
    readonly jitter: 'full' | 'none'
  }
  readonly retry: { readonly attempts: number; readonly initialDelayMs: number; readonly maxDelayMs: number }
  readonly health: {
    readonly intervalMs: number
    readonly pingTimeoutMs: number
    readonly failuresToDegrade: number
    readonly latencyWarnMs: number
    readonly memoryWarnRatio: number
    readonly evictionsWarnPerMinute: number
    readonly replicationLagWarnBytes: number
  }
  readonly durableWrites: { readonly replicas: number; readonly timeoutMs: number } | null
  readonly keyPrefix: string
  readonly driver: { readonly kind: 'node-redis' } | { readonly kind: 'ioredis'; readonly client: unknown }
  /** The logger option: `undefined` = not given (use the default logger), `false` = no logging. */
  readonly logger: ConfigLogger | false | undefined
  /** Where each option's value came from (`'code'`, `'url'`, `'env VALKIT_COMMAND_TIMEOUT'`, `'default'`...), for `valkit doctor`. */
  readonly sources: Readonly<Record<string, string>>
  /** Every secret string in this config (passwords, TLS key PEM), for the redacting logger. */
  readonly secrets: readonly string[]
  /** Safe to log/show: no passwords, no key material; e.g. `standalone redis://default:***@127.0.0.1:6379/0 tls=off`. */
  describe(): string
  /** A redacted plain-data copy (passwords and keys replaced by `***`). */
  toJSON(): Record<string, unknown>
}
