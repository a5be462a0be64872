import type { FastifyInstance } from 'fastify'
import { isValkitError } from '../../core/errors.js'
import { createAuthHook } from '../auth-hook.js'
import type { ServerValkit } from '../server-options.js'
import type { SnapshotHub } from '../snapshot-hub.js'
import { streamEvents, type OpenStreams } from './events-stream.js'
import { registerQueueRoutes } from './queue-routes.js'

/** What the admin routes need. */
export interface AdminRoutesContext {
  readonly valkit: ServerValkit
  readonly token: string | undefined
  readonly hub: SnapshotHub
  readonly keepAliveMs: number
  readonly streams: OpenStreams
}

/**
 * The admin API under `/api`, every route behind the bearer token:
 * `GET /api/health` (the health report), `GET /api/history` (state changes),
 * `GET /api/events` (Server-Sent Events: `snapshot` and `state`), and the queue routes
 * (`/api/queues...`, see {@link registerQueueRoutes}).
 */
export async function adminRoutes(app: FastifyInstance, ctx: AdminRoutesContext): Promise<void> {
  app.addHook('onRequest', createAuthHook(ctx.token))
  app.addHook('onSend', async (_request, reply, payload) => {
    void reply.header('cache-control', 'no-store')
    return payload
  })

  app.get('/health', async (_request, reply) => {
    try {
      return await ctx.valkit.health()
    } catch (err) {
      return reply.code(503).send({
        error: {
          code: isValkitError(err) ? err.code : 'VALKIT_UNAVAILABLE',
          message: err instanceof Error ? err.message : String(err),
        },
      })
    }
  })

  app.get('/history', async () => {
    const { supervisor } = ctx.valkit
    return { state: supervisor.state, backend: supervisor.backend, history: supervisor.history() }
  })

  app.get('/events', (_request, reply) => {
    streamEvents(reply, ctx.hub, ctx.keepAliveMs, ctx.streams)
  })

  registerQueueRoutes(app, { hub: ctx.hub, token: ctx.token })
}
