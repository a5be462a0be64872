import type { ServerHandle } from './server-handle.js'
import type { StartServerOptions } from './server-options.js'
import { startServer } from './start-server.js'

/**
 * Starts a server, runs `fn` with it and stops it afterwards, also when `fn` throws.
 *
 * @example
 * ```ts
 * await withServer({ engine: 'redis' }, async (server) => {
 *   assert.equal(await server.command('PING'), 'PONG')
 * })
 * ```
 */
export async function withServer<T>(
  options: StartServerOptions,
  fn: (server: ServerHandle) => Promise<T>,
): Promise<T> {
  const server = await startServer(options)
  try {
    return await fn(server)
  } finally {
    await server.stop()
  }
}
