import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import type { ResolvedStartServerOptions } from './server-options.js'
import type { TlsMaterial } from './tls-certificates.js'

/** The ACL file text and the credentials the launcher derives from the options. */
export interface AclSetup {
  /** Contents of `users.acl`, or undefined when the server needs no ACL file. */
  readonly file: string | undefined
  /** The user the launcher's own connection authenticates as. */
  readonly admin: { readonly username: string; readonly password: string } | undefined
  /** username -> password (undefined: nopass), for `urlFor`. */
  readonly credentials: Map<string, string | undefined>
}

/** The internal admin user created when the `default` user is off. */
export const LAUNCHER_USER = 'valkit-launcher'

/** Builds the ACL file for the `password`, `defaultUser` and `users` options. */
export function buildAcl(options: ResolvedStartServerOptions): AclSetup {
  const credentials = new Map<string, string | undefined>()
  const needsFile =
    options.defaultUser === 'off' || options.password !== undefined || options.users.length > 0
  if (!needsFile) {
    credentials.set('default', undefined)
    return { file: undefined, admin: undefined, credentials }
  }
  const lines: string[] = []
  let admin: AclSetup['admin']
  if (options.defaultUser === 'off') {
    lines.push('user default off resetpass ~* &* +@all')
    admin = { username: LAUNCHER_USER, password: randomBytes(12).toString('hex') }
    lines.push(`user ${LAUNCHER_USER} on >${admin.password} ~* &* +@all`)
    credentials.set(LAUNCHER_USER, admin.password)
  } else if (options.password !== undefined) {
    lines.push(`user default on >${options.password} ~* &* +@all`)
    admin = { username: 'default', password: options.password }
    credentials.set('default', options.password)
  } else {
    lines.push('user default on nopass ~* &* +@all')
    credentials.set('default', undefined)
  }
  for (const user of options.users) {
    const rules = typeof user.rules === 'string' ? user.rules.trim() : user.rules.join(' ')
    const password = user.password === undefined ? 'nopass' : `>${user.password}`
    lines.push(`user ${user.username} on ${password} ${rules}`.trimEnd())
    credentials.set(user.username, user.password)
  }
  return { file: `${lines.join('\n')}\n`, admin, credentials }
}

/** The command line of a data node listening on `port` (the TLS port when TLS is on). */
export function buildServerArgs(
  options: ResolvedStartServerOptions,
  port: number,
  dir: string,
  tls: TlsMaterial | undefined,
  hasAclFile: boolean,
  extra: readonly string[] = [],
): string[] {
  const args = [
    '--port',
    tls ? '0' : String(port),
    '--bind',
    '127.0.0.1',
    '--dir',
    dir,
    '--logfile',
    join(dir, 'server.log'),
    '--daemonize',
    'no',
    '--save',
    '',
    '--appendonly',
    options.aof ? 'yes' : 'no',
    '--enable-debug-command',
    'local',
    '--repl-diskless-sync-delay',
    '0',
  ]
  if (tls) {
    args.push(
      '--tls-port',
      String(port),
      '--tls-cert-file',
      tls.serverCertFile,
      '--tls-key-file',
      tls.serverKeyFile,
      '--tls-ca-cert-file',
      tls.caFile,
      '--tls-auth-clients',
      options.tls?.authClients ?? 'yes',
      '--tls-replication',
      'yes',
    )
  }
  if (hasAclFile) args.push('--aclfile', join(dir, 'users.acl'))
  if (options.maxmemory !== undefined) args.push('--maxmemory', options.maxmemory)
  if (options.maxmemoryPolicy !== undefined) args.push('--maxmemory-policy', options.maxmemoryPolicy)
  return [...args, ...extra, ...options.args]
}
