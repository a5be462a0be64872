import { invalidOption } from '../errors.js'
import { describeValue, expectInteger, isPlainObject } from './validate.js'

/** A server address: `'host:port'`, `'[::1]:6379'` (IPv6 in brackets), or `{ host, port }`. */
export type HostPort = string | { host: string; port: number }

/** A validated server address. */
export interface ResolvedHostPort {
  readonly host: string
  readonly port: number
}

const HOST = /^[^\s/?#@[\]]+$/

/** @internal */
export function checkHost(host: unknown, path: string): string {
  if (typeof host !== 'string' || host === '') {
    throw invalidOption(path, `got ${describeValue(host)}`, 'a host name or IP address')
  }
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host
  if (bare.includes(':') ? !/^[0-9a-fA-F:.]+(%\w+)?$/.test(bare) : !HOST.test(bare)) {
    throw invalidOption(
      path,
      `got ${describeValue(host)}`,
      'a host name or IP address (no spaces, slashes or `@`)',
    )
  }
  return bare
}

/** @internal */
export function checkPort(port: unknown, path: string): number {
  return expectInteger(port, path, 1, 65535, 'a port number from 1 to 65535')
}

/**
 * Parses one {@link HostPort}. A string without a port gets `defaultPort`.
 *
 * @example
 * ```ts
 * parseHostPort('[::1]:7000', 'cluster.nodes[0]', 6379) // { host: '::1', port: 7000 }
 * ```
 */
export function parseHostPort(value: unknown, path: string, defaultPort: number): ResolvedHostPort {
  const expected = `'host:port', '[ipv6]:port' or { host, port }`
  if (isPlainObject(value)) {
    const unknownKey = Object.keys(value).find((k) => k !== 'host' && k !== 'port')
    if (unknownKey !== undefined) throw invalidOption(`${path}.${unknownKey}`, 'unknown option', expected)
    return { host: checkHost(value.host, `${path}.host`), port: checkPort(value.port, `${path}.port`) }
  }
  if (typeof value !== 'string' || value.trim() === '') {
    throw invalidOption(path, `got ${describeValue(value)}`, expected)
  }
  const text = value.trim()
  let host: string
  let portText: string | undefined
  if (text.startsWith('[')) {
    const close = text.indexOf(']')
    if (close === -1) throw invalidOption(path, `got ${describeValue(value)} (no closing bracket)`, expected)
    host = text.slice(0, close + 1)
    const rest = text.slice(close + 1)
    if (rest !== '' && !rest.startsWith(':'))
      throw invalidOption(path, `got ${describeValue(value)}`, expected)
    portText = rest === '' ? undefined : rest.slice(1)
  } else {
    const colons = text.split(':').length - 1
    if (colons > 1) {
      throw invalidOption(
        path,
        `got ${describeValue(value)} (an IPv6 address needs brackets)`,
        "'[::1]:6379'",
      )
    }
    const colon = text.indexOf(':')
    host = colon === -1 ? text : text.slice(0, colon)
    portText = colon === -1 ? undefined : text.slice(colon + 1)
  }
  let port = defaultPort
  if (portText !== undefined) {
    if (!/^\d+$/.test(portText)) throw invalidOption(path, `got ${describeValue(value)} (bad port)`, expected)
    port = checkPort(Number(portText), path)
  }
  return { host: checkHost(host, path), port }
}

/** Formats an address for display: `host:port`, `[::1]:port`. */
export function formatHostPort(address: { host: string; port: number }): string {
  return address.host.includes(':') ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`
}
