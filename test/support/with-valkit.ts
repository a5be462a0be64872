import { randomBytes } from 'node:crypto'
import { after, before } from 'node:test'
import { createValkit, type Valkit } from '../../src/core/create-valkit.js'
import type { ValkitOptions } from '../../src/core/config/valkit-options.js'
import {
  cleanPrefix,
  startServer,
  type ServerHandle,
  type StartServerOptions,
} from '../../src/testing/index.js'

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

/** A server and a valkit on it, for the tests of one `describe` (see {@link serverPerSuite}). */
export interface SuiteServer {
  readonly server: ServerHandle
  readonly valkit: Valkit
  /** The valkit's key prefix (every key it writes starts with `${prefix}:`). */
  readonly prefix: string
}

/**
 * Registers `before`/`after` hooks in the current `describe`: a server of `engine` and a valkit
 * on it under a fresh key prefix starting with `tag`, waited for `ready`; afterwards the keys
 * under the prefix are removed and both are closed. Read the fields inside tests, not at
 * registration time.
 */
export function serverPerSuite(engine: StartServerOptions['engine'], tag: string): SuiteServer {
  let server: ServerHandle | undefined
  let valkit: Valkit | undefined
  const prefix = `${tag}-${randomBytes(4).toString('hex')}`
  before(async () => {
    server = await startServer({ engine })
    valkit = createValkit({ url: server.url, env: {}, logger: false, keyPrefix: prefix })
    await valkit.supervisor.waitFor('ready', 10_000)
  })
  after(async () => {
    await valkit?.close()
    if (server?.alive === true) await cleanPrefix(server, `${prefix}:`)
    await server?.stop()
  })
  return {
    get server() {
      if (server === undefined) throw new Error('serverPerSuite: read the server inside a test')
      return server
    },
    get valkit() {
      if (valkit === undefined) throw new Error('serverPerSuite: read the valkit inside a test')
      return valkit
    },
    prefix,
  }
}
