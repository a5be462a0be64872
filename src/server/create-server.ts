import Fastify, { LogController, type FastifyInstance } from 'fastify'
import { createValkit } from '../index.js'
import { resolveAdminToken } from './admin-token.js'
import { adminRoutes } from './routes/admin-routes.js'
import { dashboardRoutes } from './routes/dashboard-routes.js'
import type { OpenStreams } from './routes/events-stream.js'
import { registerHealthRoutes } from './routes/health-routes.js'
import { resolveServerOptions, type ServerOptions, type ServerValkit } from './server-options.js'
import { SnapshotHub } from './snapshot-hub.js'

/** A running valkit server. */
export interface ValkitServer {
  /** Base URL it listens on, e.g. `http://127.0.0.1:7379`. */
  readonly url: string
  /** The Fastify instance (use `app.inject()` in tests; add routes before nothing, it is already listening). */
  readonly app: FastifyInstance
  /** The valkit instance it serves. */
  readonly valkit: ServerValkit
  /** Ends event streams, stops listening, and closes the valkit instance if the server created it. Idempotent. */
  close(): Promise<void>
}

/**
 * Starts the valkit HTTP server: `/healthz`, `/readyz`, `/metrics`, the admin API under
 * `/api` (bearer token) and the dashboard at `/`.
 *
 * @example
 * ```ts
 * import { createValkit } from 'valkit'
 * import { createServer } from 'valkit/server'
 *
 * const valkit = createValkit({ url: process.env.VALKIT_REDIS_URL })
 * const server = await createServer({ valkit, port: 7379, adminToken: process.env.VALKIT_ADMIN_TOKEN })
 * console.log(`dashboard on ${server.url}/`)
 * process.on('SIGTERM', () => void server.close())
 * ```
 */
export async function createServer(options: ServerOptions = {}): Promise<ValkitServer> {
  const resolved = resolveServerOptions(options)
  const token = resolveAdminToken(options.adminToken, options.env ?? process.env)
  let owned = false
  let valkit = options.valkit
  if (!valkit) {
    valkit = createValkit(options.valkitOptions ?? {})
    owned = true
  }
  const instance = valkit

  const app = Fastify({
    // job ids (up to 256 characters) travel in the path, percent-encoded
    routerOptions: { maxParamLength: 2048 },
    logger: {
      level: resolved.logLevel,
      ...(options.logStream ? { stream: options.logStream } : {}),
      redact: {
        paths: [
          'req.headers.authorization',
          'req.headers.cookie',
          'headers.authorization',
          'token',
          'adminToken',
        ],
        censor: '[redacted]',
      },
    },
    logController: new LogController({
      disableRequestLogging: resolved.logLevel !== 'debug' && resolved.logLevel !== 'trace',
    }),
  })

  // panels were validated by resolveServerOptions (before anything started)
  const hub = new SnapshotHub(instance, resolved.snapshotIntervalMs, options.panels)
  const streams: OpenStreams = new Set()
  app.addHook('preClose', async () => {
    for (const end of [...streams]) end()
    hub.close()
  })

  registerHealthRoutes(app, {
    valkit: instance,
    token,
    degradedIsNotReady: resolved.degradedIsNotReady,
    metricsPublic: resolved.metricsPublic,
  })
  await app.register(adminRoutes, {
    prefix: '/api',
    valkit: instance,
    token,
    hub,
    keepAliveMs: resolved.keepAliveMs,
    streams,
  })
  await app.register(dashboardRoutes)

  try {
    await app.listen({ host: resolved.host, port: resolved.port })
  } catch (err) {
    await app.close().catch(() => undefined)
    if (owned) await instance.close().catch(() => undefined)
    throw err
  }
  const address = app.server.address()
  const port = typeof address === 'object' && address ? address.port : resolved.port
  const host = resolved.host.includes(':') ? `[${resolved.host}]` : resolved.host
  const url = `http://${host}:${port}`
  app.log.info(
    {
      url,
      config: instance.config?.describe() ?? null,
      adminApi: token === undefined ? 'disabled (no token)' : 'enabled',
    },
    'valkit server listening',
  )

  let closing: Promise<void> | undefined
  return {
    url,
    app,
    valkit: instance,
    close() {
      closing ??= (async () => {
        await app.close()
        if (owned) await instance.close()
      })()
      return closing
    },
  }
}
