import { readFileSync } from 'node:fs'
import { invalidOption } from '../errors.js'
import type { EnvReader } from './env.js'
import type { ResolvedTls } from './resolved-config.js'
import {
  checkKeys,
  describeValue,
  expectBoolean,
  expectString,
  isPlainObject,
  type Sourced,
} from './validate.js'

const TLS_KEYS = [
  'ca',
  'cert',
  'key',
  'caFile',
  'certFile',
  'keyFile',
  'servername',
  'rejectUnauthorized',
] as const
const PEM = /-----BEGIN [A-Z0-9 ]+-----/

/** Where the TLS settings of one connection kind can come from. @internal */
export interface TlsSources {
  /** The `tls` option as given in code, and its path (`tls`, `sentinel.tls`). */
  readonly code: unknown
  readonly codePath: string
  /** TLS implied by the URL's scheme (`rediss://`), with whether that URL came from code. */
  readonly url?: { readonly tls: boolean; readonly path: string; readonly fromCode: boolean }
  /** The on/off environment variable (`VALKIT_TLS`, `VALKIT_SENTINEL_TLS`). */
  readonly envEnabled?: string
  readonly env: EnvReader
  /** When `true`, PEM material and TLS settings may also come from `VALKIT_TLS_*`. */
  readonly envMaterial: boolean
}

/** The resolved TLS settings and the private key PEM (a secret) if one was given. @internal */
export interface TlsResult {
  readonly tls: ResolvedTls | null
  readonly path: string
  readonly keyPem?: string
}

function readPemFile(file: unknown, path: string, what: string): Buffer {
  const name = expectString(file, path, { expected: `the path of a PEM file holding the ${what}` })
  let content: Buffer
  try {
    content = readFileSync(name)
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code ?? 'unreadable'
    throw invalidOption(
      path,
      `cannot read the file ${JSON.stringify(name)} (${reason})`,
      'the path of a readable PEM file',
    )
  }
  if (!PEM.test(content.toString('latin1'))) {
    throw invalidOption(
      path,
      `the file ${JSON.stringify(name)} holds no PEM block`,
      `a PEM file holding the ${what}`,
    )
  }
  return content
}

function pemValue(value: unknown, path: string, what: string, secret: boolean): Buffer {
  const expected = `the ${what} as PEM text or a Buffer (or \`${path.replace(/\.(\w+)$/, '.$1File')}\` for a file path)`
  if (typeof value !== 'string' && !Buffer.isBuffer(value)) {
    throw invalidOption(path, `got ${describeValue(value, secret)}`, expected)
  }
  const buffer = Buffer.from(value)
  if (!PEM.test(buffer.toString('latin1'))) {
    const looksLikePath = typeof value === 'string' && !secret && /^[./~]|^[A-Za-z]:\\/.test(value)
    throw invalidOption(
      path,
      looksLikePath ? 'looks like a file path, not PEM text' : 'holds no PEM block',
      expected,
    )
  }
  return buffer
}

function material(
  object: Record<string, unknown>,
  parent: string,
  field: 'ca' | 'cert' | 'key',
  what: string,
  env: EnvReader | undefined,
  envName: string,
): Sourced<Buffer> | undefined {
  const secret = field === 'key'
  const inline = object[field]
  const file = object[`${field}File`]
  if (inline !== undefined && file !== undefined) {
    throw invalidOption(
      `${parent}.${field}File`,
      `both \`${parent}.${field}\` and \`${parent}.${field}File\` are given`,
      'only one of them',
    )
  }
  if (inline !== undefined)
    return { value: pemValue(inline, `${parent}.${field}`, what, secret), path: `${parent}.${field}` }
  if (file !== undefined)
    return { value: readPemFile(file, `${parent}.${field}File`, what), path: `${parent}.${field}File` }
  const fromEnv = env?.string(envName)
  if (fromEnv === undefined) return undefined
  return { value: pemValue(fromEnv.value, fromEnv.path, what, secret), path: fromEnv.path }
}

/**
 * Resolves one `tls` setting (`tls` or `sentinel.tls`) from code, URL scheme and environment:
 * code wins; `rediss://` turns TLS on; `false` next to a `rediss://` URL of the same origin is a conflict.
 * @internal
 */
export function resolveTls(sources: TlsSources): TlsResult {
  const { code, codePath, url } = sources
  const env = sources.envMaterial ? sources.env : undefined
  if (code !== undefined && typeof code !== 'boolean' && !isPlainObject(code)) {
    throw invalidOption(codePath, `got ${describeValue(code)}`, 'true, false or an object of TLS options')
  }
  const envEnabled = sources.envEnabled === undefined ? undefined : sources.env.boolean(sources.envEnabled)
  const conflict = (path: string, urlPath: string) =>
    invalidOption(
      path,
      `is false but \`${urlPath}\` uses a TLS scheme (rediss:// or valkeys://)`,
      'true, or a redis:// URL',
    )
  if (code === false && url?.fromCode === true && url.tls) throw conflict(codePath, url.path)
  if (envEnabled?.value === false && url?.fromCode === false && url.tls)
    throw conflict(envEnabled.path, url.path)

  const materialEnv = env === undefined ? [] : ['VALKIT_TLS_CA', 'VALKIT_TLS_CERT', 'VALKIT_TLS_KEY']
  const envMaterial = materialEnv.find((name) => env?.has(name) === true)
  let enabled: Sourced<boolean>
  if (code !== undefined) enabled = { value: code !== false, path: codePath }
  else if (url?.fromCode === true && url.tls) enabled = { value: true, path: url.path }
  else if (envEnabled !== undefined) enabled = envEnabled
  else if (url?.tls === true) enabled = { value: true, path: url.path }
  else if (envMaterial !== undefined) enabled = { value: true, path: `env ${envMaterial}` }
  else enabled = { value: false, path: 'default' }
  if (!enabled.value) return { tls: null, path: enabled.path }

  const object = isPlainObject(code) ? code : {}
  checkKeys(object, TLS_KEYS, codePath)
  const ca = material(object, codePath, 'ca', 'CA certificate(s)', env, 'VALKIT_TLS_CA')
  const cert = material(object, codePath, 'cert', 'client certificate', env, 'VALKIT_TLS_CERT')
  const key = material(object, codePath, 'key', 'client private key', env, 'VALKIT_TLS_KEY')
  if ((cert === undefined) !== (key === undefined)) {
    const [given, missing] = cert === undefined ? [key, 'cert'] : [cert, 'key']
    throw invalidOption(
      `${codePath}.${missing}`,
      `is missing while ${given?.path ?? ''} is set (mutual TLS needs both)`,
      `both \`${codePath}.cert\` and \`${codePath}.key\``,
    )
  }

  const servername =
    object.servername !== undefined
      ? expectString(object.servername, `${codePath}.servername`, { expected: 'a host name' })
      : env?.string('VALKIT_TLS_SERVERNAME')?.value
  const rejectUnauthorized =
    object.rejectUnauthorized !== undefined
      ? expectBoolean(object.rejectUnauthorized, `${codePath}.rejectUnauthorized`)
      : (env?.boolean('VALKIT_TLS_REJECT_UNAUTHORIZED')?.value ?? true)

  const tls: ResolvedTls = {
    ...(ca === undefined ? {} : { ca: ca.value }),
    ...(cert === undefined ? {} : { cert: cert.value }),
    ...(key === undefined ? {} : { key: key.value }),
    ...(servername === undefined ? {} : { servername }),
    rejectUnauthorized,
  }
  return { tls, path: enabled.path, ...(key === undefined ? {} : { keyPem: key.value.toString('utf8') }) }
}
