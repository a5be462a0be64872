import type { FastifyInstance } from 'fastify'
import type { ServerValkit } from '../server-options.js'
import { createAuthHook } from '../auth-hook.js'

/** What the health routes need. */
export interface HealthRoutesContext {
  readonly valkit: ServerValkit
  readonly token: string | undefined
  readonly degradedIsNotReady: boolean
  readonly metricsPublic: boolean
}

/** Prometheus text exposition format. */
export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8'

/**
 * `GET /healthz` (liveness: 200 while the process serves), `GET /readyz` (200, or 503 while
 * not `ready` when `degradedIsNotReady`) and `GET /metrics` (Prometheus text; needs the admin
 * token unless `metricsPublic`).
 */
export function registerHealthRoutes(app: FastifyInstance, ctx: HealthRoutesContext): void {
  const { supervisor } = ctx.valkit

  app.get('/healthz', async (_request, reply) => {
    void reply.header('cache-control', 'no-store')
    return { status: 'ok', state: supervisor.state, backend: supervisor.backend }
  })

  app.get('/readyz', async (_request, reply) => {
    const state = supervisor.state
    const ready = state === 'ready'
    void reply.header('cache-control', 'no-store')
    if (!ready && ctx.degradedIsNotReady) void reply.code(503)
    return {
      status: ready ? 'ready' : state,
      ready,
      state,
      backend: supervisor.backend,
      ...(ready
        ? {}
        : {
            message:
              supervisor.backend === 'memory'
                ? 'Serving from the in-process memory backend: Redis is not configured or not reachable.'
                : 'Redis answers again; valkit is re-establishing before ready.',
          }),
    }
  })

  app.get(
    '/metrics',
    { onRequest: ctx.metricsPublic ? [] : [createAuthHook(ctx.token)] },
    async (_request, reply) => {
      const text = ctx.valkit.metrics.toPrometheus()
      return reply
        .header('content-type', PROMETHEUS_CONTENT_TYPE)
        .header('cache-control', 'no-store')
        .send(text)
    },
  )
}
