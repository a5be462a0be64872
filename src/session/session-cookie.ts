import { invalidOption, parseDuration, type Duration } from '../core/index.js'

/** Cookie attributes of the HTTP session middlewares. */
export interface SessionCookieOptions {
  /**
   * Cookie name. The `__Host-` prefix makes browsers refuse it unless it is `Secure`, has
   * `Path=/` and no `Domain`, so no subdomain or plain-HTTP page can plant or overwrite it.
   * @defaultValue '__Host-session'
   */
  readonly name?: string
  /**
   * `Secure`: sent over HTTPS only. Turn it off only for local development over plain HTTP, with a
   * name without the `__Host-` prefix.
   * @defaultValue true
   */
  readonly secure?: boolean
  /**
   * `SameSite`: `'lax'` (sent on top-level navigations from other sites, not on their
   * subrequests), `'strict'` or `'none'` (needs `secure`).
   * @defaultValue 'lax'
   */
  readonly sameSite?: 'lax' | 'strict' | 'none'
  /**
   * `Path`. Must be `'/'` with the `__Host-` prefix.
   * @defaultValue '/'
   */
  readonly path?: string
  /**
   * `Domain`. Not allowed with the `__Host-` prefix.
   * @defaultValue none (host-only)
   */
  readonly domain?: string
  /**
   * `Max-Age`: `'session'` (a browser-session cookie, gone when the browser closes), `'absolute'`
   * (lives until the session's absolute deadline) or a duration.
   * @defaultValue 'session'
   */
  // eslint-disable-next-line @typescript-eslint/no-redundant-type-constituents -- the literals name the special values
  readonly maxAge?: 'session' | 'absolute' | Duration
}

/** {@link SessionCookieOptions} after validation. */
export interface ResolvedSessionCookieOptions {
  readonly name: string
  readonly secure: boolean
  readonly sameSite: 'lax' | 'strict' | 'none'
  readonly path: string
  readonly domain: string | undefined
  /** `null`: browser-session cookie; `'absolute'`: until the absolute deadline; else ms. */
  readonly maxAge: null | 'absolute' | number
}

const NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,64}$/
const ATTRIBUTE = /^[\x21-\x3a\x3c-\x7e]{1,256}$/
const TOKEN_VALUE = /^[A-Za-z0-9._-]{1,200}$/

/**
 * Validates cookie options (`VALKIT_INVALID_OPTION` naming the path) and applies the safe defaults:
 * `__Host-session`, `Secure`, `HttpOnly` (always), `SameSite=Lax`, `Path=/`.
 *
 * @example
 * ```ts
 * resolveSessionCookieOptions({ name: 'sid', secure: false }) // local development over HTTP
 * ```
 */
export function resolveSessionCookieOptions(
  options: SessionCookieOptions = {},
  path = 'cookie',
): ResolvedSessionCookieOptions {
  if (typeof options !== 'object' || options === null) {
    throw invalidOption(path, `got ${options === null ? 'null' : typeof options}`, 'an object')
  }
  const name = options.name ?? '__Host-session'
  if (typeof name !== 'string' || !NAME.test(name)) {
    throw invalidOption(`${path}.name`, 'not a cookie name', '1-64 characters allowed in a cookie name')
  }
  const secure = options.secure ?? true
  if (typeof secure !== 'boolean') throw invalidOption(`${path}.secure`, `got ${typeof secure}`, 'a boolean')
  const sameSite = options.sameSite ?? 'lax'
  if (sameSite !== 'lax' && sameSite !== 'strict' && sameSite !== 'none') {
    throw invalidOption(`${path}.sameSite`, `got ${JSON.stringify(sameSite)}`, "'lax', 'strict' or 'none'")
  }
  const cookiePath = options.path ?? '/'
  if (typeof cookiePath !== 'string' || !ATTRIBUTE.test(cookiePath) || !cookiePath.startsWith('/')) {
    throw invalidOption(`${path}.path`, 'not a cookie path', "a path such as '/'")
  }
  const domain = options.domain
  if (domain !== undefined && (typeof domain !== 'string' || !ATTRIBUTE.test(domain))) {
    throw invalidOption(`${path}.domain`, 'not a cookie domain', 'a host name such as example.org')
  }
  if (name.startsWith('__Host-') && (!secure || cookiePath !== '/' || domain !== undefined)) {
    throw invalidOption(
      `${path}.name`,
      'a __Host- cookie must be Secure, with Path=/ and no Domain (browsers drop it otherwise)',
      'secure: true, path: "/", no domain; or a name without the __Host- prefix',
    )
  }
  if (name.startsWith('__Secure-') && !secure) {
    throw invalidOption(`${path}.secure`, 'a __Secure- cookie must be Secure', 'secure: true')
  }
  if (sameSite === 'none' && !secure) {
    throw invalidOption(`${path}.sameSite`, 'SameSite=None needs Secure', "secure: true, or sameSite 'lax'")
  }
  const maxAge =
    options.maxAge === undefined || options.maxAge === 'session'
      ? null
      : options.maxAge === 'absolute'
        ? 'absolute'
        : parseDuration(options.maxAge, `${path}.maxAge`)
  return Object.freeze({ name, secure, sameSite, path: cookiePath, domain, maxAge })
}

/**
 * The value of cookie `name` in a `Cookie` header (or several headers), or `undefined`. When the
 * name occurs more than once, the first occurrence wins (browsers send the most specific first).
 *
 * @internal
 */
export function readCookie(
  header: string | readonly string[] | undefined | null,
  name: string,
): string | undefined {
  if (header === undefined || header === null) return undefined
  const text = typeof header === 'string' ? header : header.join('; ')
  if (text.length > 16_384) return undefined
  let from = 0
  while (from < text.length) {
    let end = text.indexOf(';', from)
    if (end === -1) end = text.length
    const eq = text.indexOf('=', from)
    if (eq !== -1 && eq < end && text.slice(from, eq).trim() === name) {
      let value = text.slice(eq + 1, end).trim()
      if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1)
      // Anything else is passed on (cut short) to be refused as malformed, and the cookie removed.
      return TOKEN_VALUE.test(value) ? value : value.slice(0, 256) || '-'
    }
    from = end + 1
  }
  return undefined
}

/**
 * A `Set-Cookie` value: the token with the configured attributes (`HttpOnly` always), or, with
 * `value` `null`, one that removes the cookie.
 *
 * @internal
 */
export function serializeCookie(
  options: ResolvedSessionCookieOptions,
  value: string | null,
  absoluteExpiresAt?: number,
  now = Date.now(),
): string {
  let out = `${options.name}=${value ?? ''}; Path=${options.path}`
  if (options.domain !== undefined) out += `; Domain=${options.domain}`
  if (value === null) out += '; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT'
  else if (options.maxAge === 'absolute' && absoluteExpiresAt !== undefined) {
    out += `; Max-Age=${Math.max(0, Math.floor((absoluteExpiresAt - now) / 1000))}`
  } else if (typeof options.maxAge === 'number') out += `; Max-Age=${Math.floor(options.maxAge / 1000)}`
  out += '; HttpOnly'
  if (options.secure) out += '; Secure'
  out += `; SameSite=${options.sameSite === 'lax' ? 'Lax' : options.sameSite === 'strict' ? 'Strict' : 'None'}`
  return out
}
