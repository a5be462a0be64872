import { readFile } from 'node:fs/promises'
import type { FastifyInstance } from 'fastify'

const JS = 'text/javascript; charset=utf-8'

/** Every file of the page: `app.js` imports the other modules. */
const FILES = [
  { route: '/', file: 'index.html', type: 'text/html; charset=utf-8' },
  { route: '/app.js', file: 'app.js', type: JS },
  { route: '/ui.js', file: 'ui.js', type: JS },
  { route: '/format.js', file: 'format.js', type: JS },
  { route: '/chart.js', file: 'chart.js', type: JS },
  { route: '/cache-panel.js', file: 'cache-panel.js', type: JS },
  { route: '/panel-kit.js', file: 'panel-kit.js', type: JS },
  { route: '/ratelimit-panel.js', file: 'ratelimit-panel.js', type: JS },
  { route: '/coord-panel.js', file: 'coord-panel.js', type: JS },
  { route: '/session-panel.js', file: 'session-panel.js', type: JS },
  { route: '/queue-panel.js', file: 'queue-panel.js', type: JS },
  { route: '/queue-jobs.js', file: 'queue-jobs.js', type: JS },
  { route: '/style.css', file: 'style.css', type: 'text/css; charset=utf-8' },
] as const

const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; " +
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cache-control': 'no-cache',
}

/**
 * The dashboard: static files read once from `dashboard/` next to this module (copied to
 * `dist/` by the build). Open without a token: the page holds no data, it asks for the token
 * and reads everything from the admin API.
 */
export async function dashboardRoutes(app: FastifyInstance): Promise<void> {
  const dir = new URL('../dashboard/', import.meta.url)
  const loaded = await Promise.all(
    FILES.map(async (entry) => ({ ...entry, body: await readFile(new URL(entry.file, dir)) })),
  )
  for (const entry of loaded) {
    app.get(entry.route, async (_request, reply) =>
      reply.headers(SECURITY_HEADERS).header('content-type', entry.type).send(entry.body),
    )
  }
}
