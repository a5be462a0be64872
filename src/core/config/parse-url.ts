import { invalidOption } from '../errors.js'
import { checkHost, checkPort } from './host-port.js'
import { describeValue, suggestName } from './validate.js'

/** The URL schemes valkit understands. */
export const URL_SCHEMES = ['redis', 'rediss', 'valkey', 'valkeys', 'unix', 'memory'] as const

/** One of {@link URL_SCHEMES}. */
export type UrlScheme = (typeof URL_SCHEMES)[number]

/** Query parameters a connection URL may carry (`?clientName=api&commandTimeout=500ms`). */
export const URL_PARAMS = ['clientName', 'commandTimeout', 'connectTimeout'] as const

/** What a connection URL says; every part it leaves out is `undefined`. */
export interface ParsedConnectionUrl {
  readonly scheme: UrlScheme
  readonly endpoint:
    | { readonly kind: 'memory' }
    | {
        readonly kind: 'standalone'
        readonly host: string
        readonly port: number
        readonly socketPath?: string
      }
  /** `true` for `rediss://` and `valkeys://`. */
  readonly tls: boolean
  readonly username: string | undefined
  /** URL-decoded. */
  readonly password: string | undefined
  readonly database: number | undefined
  /** Raw query parameter values, validated by the caller like the options they stand for. */
  readonly params: Readonly<Partial<Record<(typeof URL_PARAMS)[number], string>>>
}

const DEFAULT_PORT = 6379
const SCHEMES_TEXT = URL_SCHEMES.map((s) => `${s}://`).join(', ')

function decodePart(part: string, path: string, what: string): string {
  try {
    return decodeURIComponent(part)
  } catch {
    // Never echo the part: it may be a password.
    throw invalidOption(
      path,
      `the ${what} in the URL is not valid percent-encoding`,
      'percent-encoded text (%40 for @)',
    )
  }
}

/**
 * Parses a connection URL: `redis://[user[:password]@]host[:port][/db]`, `rediss://` (TLS),
 * `valkey://`, `valkeys://` (TLS), `unix:///path/to.sock[?database=n]`, or `memory://` (no
 * server). Errors name `path` and show the URL with its password hidden.
 *
 * @example
 * ```ts
 * parseConnectionUrl('rediss://app:p%40ss@[::1]:6380/2', 'url')
 * // { scheme: 'rediss', endpoint: { kind: 'standalone', host: '::1', port: 6380 }, tls: true,
 * //   username: 'app', password: 'p@ss', database: 2, params: {} }
 * ```
 */
export function parseConnectionUrl(url: unknown, path: string): ParsedConnectionUrl {
  const expected = `a URL starting with one of ${SCHEMES_TEXT}`
  if (typeof url !== 'string' || url.trim() === '')
    throw invalidOption(path, `got ${describeValue(url, true)}`, expected)
  const text = url.trim()
  const schemeMatch = /^([a-z][a-z0-9+.-]*):/i.exec(text)
  const schemeText = schemeMatch?.[1]?.toLowerCase()
  if (schemeText === undefined || !(URL_SCHEMES as readonly string[]).includes(schemeText)) {
    const shown = schemeText === undefined ? 'no scheme' : `the scheme \`${schemeText}://\``
    throw invalidOption(path, `${shown} is not supported`, expected)
  }
  const scheme = schemeText as UrlScheme
  let parsed: URL
  try {
    parsed = new URL(text)
  } catch {
    throw invalidOption(
      path,
      'the URL cannot be parsed (a password with @ / ? # must be percent-encoded)',
      expected,
    )
  }
  // Error messages below never echo the URL or its parts: a password with an unencoded `@`, `/`,
  // `?` or `#` makes the parser split it into host, port, path or query.
  const hint = ' (a password with @ / ? # must be percent-encoded)'
  const knownParams: readonly string[] = scheme === 'unix' ? [...URL_PARAMS, 'database'] : URL_PARAMS
  const params: Partial<Record<(typeof URL_PARAMS)[number], string>> = {}
  for (const [key, value] of parsed.searchParams) {
    if (!knownParams.includes(key)) {
      const suggestion =
        key === 'timeout' ? 'commandTimeout` or `connectTimeout' : suggestName(key, knownParams)
      throw invalidOption(
        path,
        `${/^[A-Za-z]{1,30}$/.test(key) ? `unknown query parameter \`${key}\`` : 'an unknown query parameter'}${suggestion === undefined ? hint : ` (did you mean \`${suggestion}\`?)`}`,
        `only ${knownParams.map((k) => `\`${k}\``).join(', ')}`,
      )
    }
    if (key !== 'database') params[key as (typeof URL_PARAMS)[number]] = value
  }

  if (scheme === 'memory') {
    if (parsed.host !== '' || (parsed.pathname !== '' && parsed.pathname !== '/') || parsed.search !== '') {
      throw invalidOption(path, 'the URL has a host, path or parameters', "exactly 'memory://'")
    }
    const none = { username: undefined, password: undefined, database: undefined }
    return { scheme, endpoint: { kind: 'memory' }, tls: false, ...none, params }
  }

  const username = parsed.username === '' ? undefined : decodePart(parsed.username, path, 'user name')
  const password = parsed.password === '' ? undefined : decodePart(parsed.password, path, 'password')

  if (scheme === 'unix') {
    const socketPath = decodePart(parsed.pathname, path, 'socket path')
    if (parsed.host !== '' || socketPath === '' || socketPath === '/') {
      throw invalidOption(path, 'the URL does not name a socket', "'unix:///path/to/redis.sock'")
    }
    const db = parsed.searchParams.get('database')
    const database = db === null ? undefined : parseDatabase(db, path, '')
    const endpoint = { kind: 'standalone' as const, host: 'localhost', port: DEFAULT_PORT, socketPath }
    return { scheme, endpoint, tls: false, username, password, database, params }
  }

  if (parsed.hostname === '') throw invalidOption(path, `the URL has no host${hint}`, "'redis://host:6379'")
  let host: string
  let port: number
  try {
    host = checkHost(parsed.hostname, path)
    port = parsed.port === '' ? DEFAULT_PORT : checkPort(Number(parsed.port), path)
  } catch {
    throw invalidOption(
      path,
      `the URL's host or port is invalid${hint}`,
      "'redis://host:6379' with a port from 1 to 65535",
    )
  }
  const dbText = parsed.pathname.replace(/^\//, '')
  const database = dbText === '' ? undefined : parseDatabase(dbText, path, hint)
  if (parsed.hash !== '')
    throw invalidOption(path, `the URL has a #fragment${hint}`, 'a URL without a fragment')
  const tls = scheme === 'rediss' || scheme === 'valkeys'
  return { scheme, endpoint: { kind: 'standalone', host, port }, tls, username, password, database, params }
}

function parseDatabase(text: string, path: string, hint: string): number {
  if (!/^\d{1,9}$/.test(text)) {
    throw invalidOption(
      path,
      `the database (the URL's path) is not a number${hint}`,
      'a database index such as /0 or /2',
    )
  }
  return Number(text)
}
