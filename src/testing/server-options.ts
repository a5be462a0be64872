import { invalidOption } from '../core/errors.js'
import { ENGINES, testEngines, type Engine } from './engine.js'

/** An ACL user created on a test server. */
export interface AclUser {
  readonly username: string
  /** The user's password; without one the user is `nopass` (any password is accepted). */
  readonly password?: string
  /**
   * ACL rules as in `ACL SETUSER`, e.g. `'~app:* +@read +@write +info'` or an array of rules.
   * `on` is implied.
   */
  readonly rules: string | readonly string[]
}

/** TLS settings of a test server. Certificates are generated at start with `openssl`. */
export interface ServerTlsOptions {
  /**
   * `tls-auth-clients`: `'yes'` requires a client certificate signed by the generated CA,
   * `'optional'` accepts one, `'no'` ignores it.
   * @defaultValue `'yes'`
   */
  readonly authClients?: 'yes' | 'no' | 'optional'
}

/** Eviction policies accepted by `maxmemory-policy`. */
export type MaxmemoryPolicy =
  | 'noeviction'
  | 'allkeys-lru'
  | 'allkeys-lfu'
  | 'allkeys-random'
  | 'volatile-lru'
  | 'volatile-lfu'
  | 'volatile-random'
  | 'volatile-ttl'

/** Options of `startServer()`. Every field is optional. */
export interface StartServerOptions {
  /**
   * Which server to run: `redis-server` or `valkey-server`.
   * @defaultValue the first of `testEngines()`
   */
  readonly engine?: Engine
  /** `appendonly yes` (with the default `appendfsync everysec`). @defaultValue `false` */
  readonly aof?: boolean
  /**
   * Serve TLS only (`--port 0 --tls-port N`) with freshly generated certificates; the handle's
   * `tls` holds the CA and a client certificate. `true` means `{ authClients: 'yes' }`.
   * @defaultValue `false`
   */
  readonly tls?: boolean | ServerTlsOptions
  /** Password of the `default` user (like `requirepass`). @defaultValue none */
  readonly password?: string
  /**
   * `'off'` disables the `default` user, so every client must authenticate as a named user
   * (the launcher then uses an internal `valkit-launcher` admin user for its own connection).
   * @defaultValue `'on'`
   */
  readonly defaultUser?: 'on' | 'off'
  /** ACL users to create (written to an ACL file, so they survive `restart()`). @defaultValue `[]` */
  readonly users?: readonly AclUser[]
  /** `maxmemory`: bytes, or a size such as `'64mb'`. @defaultValue unlimited */
  readonly maxmemory?: number | string
  /** `maxmemory-policy`. @defaultValue the server's (`noeviction`) */
  readonly maxmemoryPolicy?: MaxmemoryPolicy
  /** Extra raw command-line arguments, e.g. `['--hz', '100']`; they come last and win. @defaultValue `[]` */
  readonly args?: readonly string[]
  /** How long to wait for the server to answer PING. @defaultValue `10000` */
  readonly readyTimeoutMs?: number
  /** A short label used in the server's directory name. @defaultValue the engine */
  readonly label?: string
}

/** {@link StartServerOptions} with defaults applied and values checked. */
export interface ResolvedStartServerOptions {
  readonly engine: Engine
  readonly aof: boolean
  readonly tls: Required<ServerTlsOptions> | undefined
  readonly password: string | undefined
  readonly defaultUser: 'on' | 'off'
  readonly users: readonly AclUser[]
  readonly maxmemory: string | undefined
  readonly maxmemoryPolicy: MaxmemoryPolicy | undefined
  readonly args: readonly string[]
  readonly readyTimeoutMs: number
  readonly label: string
}

const USERNAME = /^[^\s>#<~&%@]+$/

/** Applies defaults to {@link StartServerOptions} and throws `VALKIT_INVALID_OPTION` naming the bad option. */
export function resolveStartServerOptions(options: StartServerOptions = {}): ResolvedStartServerOptions {
  let engine = options.engine
  if (engine === undefined) {
    engine = testEngines()[0]
    if (engine === undefined)
      throw invalidOption('engine', 'no redis-server or valkey-server is on PATH', 'an installed engine')
  }
  if (!ENGINES.includes(engine))
    throw invalidOption('engine', `unknown engine ${JSON.stringify(engine)}`, ENGINES.join(' or '))
  const tls: Required<ServerTlsOptions> | undefined =
    options.tls === undefined || options.tls === false
      ? undefined
      : { authClients: options.tls === true ? 'yes' : (options.tls.authClients ?? 'yes') }
  if (tls && !['yes', 'no', 'optional'].includes(tls.authClients)) {
    throw invalidOption(
      'tls.authClients',
      `got ${JSON.stringify(tls.authClients)}`,
      "'yes', 'no' or 'optional'",
    )
  }
  const users = options.users ?? []
  users.forEach((user, i) => {
    if (!USERNAME.test(user.username) || user.username === 'default') {
      throw invalidOption(
        `users[${i}].username`,
        `got ${JSON.stringify(user.username)}`,
        'a name without spaces, other than "default"',
      )
    }
    if (user.password !== undefined && /\s/.test(user.password)) {
      throw invalidOption(`users[${i}].password`, 'contains white space', 'a password without white space')
    }
  })
  if (options.password !== undefined && (options.password === '' || /\s/.test(options.password))) {
    throw invalidOption(
      'password',
      'is empty or contains white space',
      'a non-empty password without white space',
    )
  }
  const defaultUser = options.defaultUser ?? 'on'
  if (defaultUser !== 'on' && defaultUser !== 'off')
    throw invalidOption('defaultUser', `got ${String(defaultUser)}`, "'on' or 'off'")
  let maxmemory: string | undefined
  if (options.maxmemory !== undefined) {
    maxmemory = String(options.maxmemory)
    if (!/^\d+(b|k|kb|m|mb|g|gb)?$/i.test(maxmemory))
      throw invalidOption('maxmemory', `got ${maxmemory}`, "bytes or a size like '64mb'")
  }
  const readyTimeoutMs = options.readyTimeoutMs ?? 10_000
  if (!Number.isFinite(readyTimeoutMs) || readyTimeoutMs <= 0) {
    throw invalidOption('readyTimeoutMs', `got ${readyTimeoutMs}`, 'a positive number of milliseconds')
  }
  return {
    engine,
    aof: options.aof ?? false,
    tls,
    password: options.password,
    defaultUser,
    users,
    maxmemory,
    maxmemoryPolicy: options.maxmemoryPolicy,
    args: options.args ?? [],
    readyTimeoutMs,
    label: (options.label ?? engine).replace(/[^\w.-]/g, '_'),
  }
}
