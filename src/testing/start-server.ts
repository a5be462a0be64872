import { rmSync } from 'node:fs'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { engineBinary } from './engine.js'
import { ManagedServer } from './managed-server.js'
import { createServerDir } from './process-registry.js'
import { buildAcl, buildServerArgs } from './server-args.js'
import type { ServerHandle } from './server-handle.js'
import {
  resolveStartServerOptions,
  type ResolvedStartServerOptions,
  type StartServerOptions,
} from './server-options.js'
import { generateTlsCertificates, type TlsMaterial } from './tls-certificates.js'

/**
 * Starts a real `redis-server` or `valkey-server` on a free port of 127.0.0.1, in its own
 * directory under the launcher root, and resolves once it answers PING. Defaults: no
 * persistence (`--save "" --appendonly no`), `--enable-debug-command local`,
 * `--repl-diskless-sync-delay 0`. Stop it with `handle.stop()`; if the test process ends
 * first, the launcher kills it.
 *
 * Fails with `VALKIT_LAUNCHER` (the message ends with the server log's last lines) when the
 * server cannot start, and with `VALKIT_INVALID_OPTION` for a bad option.
 *
 * @example
 * ```ts
 * import { startServer } from 'valkit/testing'
 *
 * const server = await startServer({ engine: 'valkey', users: [{ username: 'app', password: 's3cret', rules: '~app:* +@all' }] })
 * try {
 *   await server.command('SET', 'app:k', 'v')
 *   const url = server.urlFor('app') // redis://app:s3cret@127.0.0.1:PORT
 * } finally {
 *   await server.stop()
 * }
 * ```
 */
export async function startServer(options?: StartServerOptions): Promise<ServerHandle> {
  return launchServer(resolveStartServerOptions(options))
}

/**
 * Starts a data node with extra arguments (cluster mode, `replicaof`...) and, for a TLS
 * topology, certificates shared by all its nodes. Internal.
 */
export async function launchServer(
  options: ResolvedStartServerOptions,
  extraArgs: (port: number) => Promise<string[]> | string[] = () => [],
  sharedTls?: TlsMaterial,
): Promise<ManagedServer> {
  const binary = engineBinary(options.engine, 'server')
  const dir = createServerDir(options.label)
  let server: ManagedServer | undefined
  try {
    const tls = options.tls ? (sharedTls ?? (await generateTlsCertificates(dir))) : undefined
    const acl = buildAcl(options)
    if (acl.file !== undefined) await writeFile(join(dir, 'users.acl'), acl.file, { mode: 0o600 })
    server = new ManagedServer({
      engine: options.engine,
      role: 'server',
      binary,
      dir,
      logFile: 'server.log',
      prepare: async (port) =>
        buildServerArgs(options, port, dir, tls, acl.file !== undefined, await extraArgs(port)),
      tls,
      admin: acl.admin,
      credentials: acl.credentials,
      readyTimeoutMs: options.readyTimeoutMs,
    })
    await server.start()
    return server
  } catch (err) {
    if (server) await server.stop().catch(() => undefined)
    else rmSync(dir, { recursive: true, force: true })
    throw err
  }
}
