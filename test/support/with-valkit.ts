import { createValkit, type Valkit } from '../../src/core/create-valkit.js'
import type { ValkitOptions } from '../../src/core/config/valkit-options.js'
import { startServer, type ServerHandle, type StartServerOptions } from '../../src/testing/index.js'

/** Starts a server and a valkit on it, waits for `ready`, runs `fn`, and closes both. */
export async function withValkit(
  serverOptions: StartServerOptions,
  fn: (server: ServerHandle, valkit: Valkit) => Promise<void>,
  options: ValkitOptions = {},
): Promise<void> {
  const server = await startServer(serverOptions)
  const valkit = createValkit({ url: server.url, env: {}, logger: false, ...options })
  try {
    await valkit.supervisor.waitFor('ready', 10_000)
    await fn(server, valkit)
  } finally {
    await valkit.close()
    await server.stop()
  }
}
