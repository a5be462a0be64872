import type { ValkitCore } from '../core/api-types.js'
import type { MetricSnapshot } from '../core/index.js'
import type { ValkitOptions } from '../core/config/index.js'
import { invalidOption } from '../core/errors.js'
import {
  resolvePanelsOptions,
  type DashboardPanelsOptions,
  type ResolvedPanelsOptions,
} from './panel-sources.js'

/**
 * What the server needs from a valkit instance: the core (supervisor, health) plus the
 * metrics registry it exposes on `/metrics` and reads for the dashboard's cache, rate limiting,
 * coordination, sessions and queues panels (`snapshot()`, `prefix`). A `Valkit` from `createValkit()`
 * satisfies it.
 */
export interface ServerValkit extends ValkitCore {
  readonly metrics: {
    toPrometheus(): string
    /** Plain data of every metric; without it the dashboard's registry sections stay empty. */
    snapshot?(): readonly MetricSnapshot[]
    /** Prefix of every metric name. @defaultValue `'valkit_'` */
    readonly prefix?: string
  }
  /** When present, its redacted description is the only configuration the server logs. */
  readonly config?: { describe(): string }
}

/** Log levels of the server's Fastify (pino) logger. */
export type ServerLogLevel = 'silent' | 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace'

/**
 * Options of {@link createServer}.
 *
 * @example
 * ```ts
 * const server = await createServer({ valkit, port: 0, adminToken: process.env.ADMIN_TOKEN })
 * ```
 */
export interface ServerOptions {
  /**
   * An existing valkit instance. The server does not close it on `close()`.
   * When absent, the server creates one from `valkitOptions` and closes it on `close()`.
   */
  readonly valkit?: ServerValkit
  /**
   * Options for the instance the server creates when `valkit` is absent (`url`, ...). With no
   * URL and no `VALKIT_REDIS_URL` / `REDIS_URL`, it runs on the memory backend.
   * @defaultValue `{}`
   */
  readonly valkitOptions?: ValkitOptions
  /** @defaultValue `'127.0.0.1'` */
  readonly host?: string
  /** TCP port; `0` picks a free one (read it from `server.url`). @defaultValue `7379` */
  readonly port?: number
  /**
   * The bearer token of the admin API (`/api/*`, and `/metrics` unless `metricsPublic`).
   * Falls back to `VALKIT_ADMIN_TOKEN`, then to the contents of the file named by
   * `VALKIT_ADMIN_TOKEN_FILE`. With none of them the admin API refuses every request.
   * @defaultValue `undefined`
   */
  readonly adminToken?: string
  /** Serve `/metrics` without a token (for a Prometheus scraper on a trusted network). @defaultValue `false` */
  readonly metricsPublic?: boolean
  /** `/readyz` answers 503 (not 200) while the state is `degraded` or `recovering`. @defaultValue `false` */
  readonly degradedIsNotReady?: boolean
  /** Level of the Fastify logger. Tokens and Authorization headers are never logged. @defaultValue `'silent'` */
  readonly logLevel?: ServerLogLevel
  /** Where log lines go. @defaultValue `process.stdout` */
  readonly logStream?: NodeJS.WritableStream
  /** Interval between `snapshot` events on `/api/events`, in milliseconds. @defaultValue `1000` */
  readonly snapshotIntervalMs?: number
  /** Interval between keep-alive comments on `/api/events`, in milliseconds. @defaultValue `15000` */
  readonly keepAliveMs?: number
  /** Environment read for the token. @defaultValue `process.env` */
  readonly env?: NodeJS.ProcessEnv
  /**
   * Objects the dashboard cannot find in the metrics registry: rate limiters whose top limited
   * keys it lists, a coord whose resources and stuck locks it shows, and queues whose counts,
   * jobs and actions the Queues panel and `/api/queues` offer. Everything else in the rate
   * limiting, coordination, sessions and queues panels needs no registration.
   * @defaultValue `{}`
   */
  readonly panels?: DashboardPanelsOptions
}

/** {@link ServerOptions} after defaults and validation. */
export interface ResolvedServerOptions {
  readonly host: string
  readonly port: number
  readonly metricsPublic: boolean
  readonly degradedIsNotReady: boolean
  readonly logLevel: ServerLogLevel
  readonly snapshotIntervalMs: number
  readonly keepAliveMs: number
  readonly panels: ResolvedPanelsOptions
}

const DEFAULTS: Omit<ResolvedServerOptions, 'panels'> = Object.freeze({
  host: '127.0.0.1',
  port: 7379,
  metricsPublic: false,
  degradedIsNotReady: false,
  logLevel: 'silent',
  snapshotIntervalMs: 1000,
  keepAliveMs: 15_000,
})

const LEVELS: readonly ServerLogLevel[] = ['silent', 'fatal', 'error', 'warn', 'info', 'debug', 'trace']

function positiveInt(path: string, value: unknown, fallback: number, min: number): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    throw invalidOption(path, `got ${JSON.stringify(value)}`, `an integer >= ${min}`)
  }
  return value
}

/** Applies defaults and validates; throws `VALKIT_INVALID_OPTION` naming the bad option. */
export function resolveServerOptions(options: ServerOptions): ResolvedServerOptions {
  const host = options.host ?? DEFAULTS.host
  if (typeof host !== 'string' || host.length === 0) {
    throw invalidOption('host', `got ${JSON.stringify(host)}`, 'a host name or IP address')
  }
  const port = positiveInt('port', options.port, DEFAULTS.port, 0)
  if (port > 65535) throw invalidOption('port', `got ${port}`, 'a TCP port from 0 to 65535')
  const logLevel = options.logLevel ?? DEFAULTS.logLevel
  if (!LEVELS.includes(logLevel)) {
    throw invalidOption('logLevel', `got ${JSON.stringify(logLevel)}`, `one of ${LEVELS.join(', ')}`)
  }
  if (
    options.adminToken !== undefined &&
    (typeof options.adminToken !== 'string' || options.adminToken.length < 16)
  ) {
    throw invalidOption(
      'adminToken',
      'it is shorter than 16 characters',
      'a random string of at least 16 characters',
    )
  }
  return {
    host,
    port,
    metricsPublic: options.metricsPublic ?? DEFAULTS.metricsPublic,
    degradedIsNotReady: options.degradedIsNotReady ?? DEFAULTS.degradedIsNotReady,
    logLevel,
    snapshotIntervalMs: positiveInt(
      'snapshotIntervalMs',
      options.snapshotIntervalMs,
      DEFAULTS.snapshotIntervalMs,
      50,
    ),
    keepAliveMs: positiveInt('keepAliveMs', options.keepAliveMs, DEFAULTS.keepAliveMs, 100),
    panels: resolvePanelsOptions(options.panels),
  }
}
