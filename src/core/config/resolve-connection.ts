import { invalidOption } from '../errors.js'
import type { EnvReader } from './env.js'
import { checkHost, checkPort } from './host-port.js'
import { parseConnectionUrl, type ParsedConnectionUrl } from './parse-url.js'
import { resolveTls, type TlsResult } from './resolve-tls.js'
import { resolveCluster, resolveSentinel, topologyFromIoredis } from './resolve-topology.js'
import type { Topology } from './resolved-config.js'
import { VALKIT_DEFAULTS } from './valkit-options.js'
import { expectInteger, expectString, firstDefined, isPlainObject, type Sourced } from './validate.js'

/** A parsed URL and where it came from. @internal */
export interface UrlSource {
  readonly parsed: ParsedConnectionUrl
  readonly path: string
  readonly fromCode: boolean
}

/** Everything about reaching the server. @internal */
export interface ConnectionResult {
  readonly topology: Topology
  /** Where the topology came from: `url`, `host`, `env VALKIT_SENTINELS`, `default`... */
  readonly topologyPath: string
  readonly username: Sourced<string> | undefined
  readonly password: Sourced<string> | undefined
  readonly database: Sourced<number>
  readonly tls: TlsResult
  /** The URL in effect (code or environment), for its query parameters. */
  readonly url: UrlSource | undefined
  readonly secrets: readonly string[]
}

const NAME = /^[^\s]+$/
const ONE_OF = 'only one of `url`, `host`/`port`, `sentinel` or `cluster`'

function onlyOne(groups: readonly string[], show: (g: string) => string): string | undefined {
  const [first, second] = groups
  if (second !== undefined && first !== undefined) {
    throw invalidOption(second, `cannot be combined with \`${show(first)}\``, ONE_OF)
  }
  return first
}

/** `a` (an option) and `b` (the same part of a URL of the same origin) must agree when both are given. */
function agree<T>(a: Sourced<T> | undefined, b: Sourced<T> | undefined, what: string): void {
  if (a !== undefined && b !== undefined && a.value !== b.value) {
    throw invalidOption(a.path, `differs from the ${what} in \`${b.path}\``, `the ${what} given in one place`)
  }
}

function urlPart<T>(url: UrlSource | undefined, value: T | undefined): Sourced<T> | undefined {
  return url === undefined || value === undefined ? undefined : { value, path: url.path }
}

function fromIoredis(options: Record<string, unknown>, env: EnvReader, client: unknown): ConnectionResult {
  for (const key of [
    'url',
    'host',
    'port',
    'sentinel',
    'cluster',
    'username',
    'password',
    'database',
    'tls',
  ]) {
    if (options[key] !== undefined) {
      throw invalidOption(
        key,
        'cannot be combined with `driver.ioredis`',
        'connection settings on the ioredis client itself',
      )
    }
  }
  void env
  const found = topologyFromIoredis(client)
  const clientOptions = (client as { options?: unknown }).options
  const tlsOption = isPlainObject(clientOptions) ? clientOptions.tls : undefined
  const tls =
    tlsOption === undefined || tlsOption === false
      ? null
      : { rejectUnauthorized: (tlsOption as { rejectUnauthorized?: unknown }).rejectUnauthorized !== false }
  const path = 'driver.ioredis'
  return {
    topology: found.topology,
    topologyPath: path,
    username: found.username === undefined ? undefined : { value: found.username, path },
    password: found.password === undefined ? undefined : { value: found.password, path },
    database: { value: found.database, path },
    tls: { tls, path },
    url: undefined,
    secrets: found.secrets,
  }
}

/**
 * Resolves topology, credentials, database and TLS. Code wins over the environment; when code
 * names no server, the environment's `VALKIT_REDIS_URL` / `VALKIT_HOST` / `VALKIT_SENTINELS` /
 * `VALKIT_CLUSTER_NODES` (or else `REDIS_URL`) does; with none, the memory backend.
 * @internal
 */
export function resolveConnection(
  options: Record<string, unknown>,
  env: EnvReader,
  ioredis: unknown,
): ConnectionResult {
  if (ioredis !== undefined) return fromIoredis(options, env, ioredis)

  const codeGroups = [
    options.url !== undefined ? 'url' : undefined,
    options.host !== undefined ? 'host' : options.port !== undefined ? 'port' : undefined,
    options.sentinel !== undefined ? 'sentinel' : undefined,
    options.cluster !== undefined ? 'cluster' : undefined,
  ].filter((g) => g !== undefined)
  let group = onlyOne(codeGroups, (g) => g)
  let fromCode = group !== undefined
  if (group === undefined) {
    const envGroups = [
      env.has('VALKIT_REDIS_URL') ? 'VALKIT_REDIS_URL' : undefined,
      env.has('VALKIT_HOST') ? 'VALKIT_HOST' : env.has('VALKIT_PORT') ? 'VALKIT_PORT' : undefined,
      env.has('VALKIT_SENTINELS')
        ? 'VALKIT_SENTINELS'
        : env.has('VALKIT_SENTINEL_MASTER')
          ? 'VALKIT_SENTINEL_MASTER'
          : undefined,
      env.has('VALKIT_CLUSTER_NODES') ? 'VALKIT_CLUSTER_NODES' : undefined,
    ]
      .filter((g) => g !== undefined)
      .map((g) => `env ${g}`)
    group = onlyOne(envGroups, (g) => g)
    if (group === undefined && env.has('REDIS_URL')) group = 'env REDIS_URL'
    fromCode = false
  }

  let url: UrlSource | undefined
  let topology: Topology
  let topologyPath = group ?? 'default'
  const secrets: string[] = []
  switch (group) {
    case 'url':
    case 'env VALKIT_REDIS_URL':
    case 'env REDIS_URL': {
      const raw = group === 'url' ? { value: options.url, path: 'url' } : env.string(group.slice(4))
      url = { parsed: parseConnectionUrl(raw?.value, raw?.path ?? group), path: raw?.path ?? group, fromCode }
      topologyPath = url.path
      topology = url.parsed.endpoint
      break
    }
    case 'host':
    case 'port': {
      const host = options.host === undefined ? VALKIT_DEFAULTS.host : checkHost(options.host, 'host')
      const port = options.port === undefined ? VALKIT_DEFAULTS.port : checkPort(options.port, 'port')
      topology = { kind: 'standalone', host, port }
      topologyPath = 'host'
      break
    }
    case 'env VALKIT_HOST':
    case 'env VALKIT_PORT': {
      const hostSource = env.string('VALKIT_HOST')
      const portSource = env.number('VALKIT_PORT')
      const host =
        hostSource === undefined ? VALKIT_DEFAULTS.host : checkHost(hostSource.value, hostSource.path)
      const port =
        portSource === undefined ? VALKIT_DEFAULTS.port : checkPort(portSource.value, portSource.path)
      topology = { kind: 'standalone', host, port }
      break
    }
    case 'sentinel':
    case 'env VALKIT_SENTINELS':
    case 'env VALKIT_SENTINEL_MASTER': {
      const result = resolveSentinel(options.sentinel, env)
      topology = result.topology
      secrets.push(...result.secrets)
      break
    }
    case 'cluster':
    case 'env VALKIT_CLUSTER_NODES': {
      topology = resolveCluster(options.cluster, env).topology
      break
    }
    default:
      topology = { kind: 'memory' }
  }

  const codeUrl = url?.fromCode === true ? url : undefined
  const envUrl = url?.fromCode === false ? url : undefined
  const credential = (
    option: 'username' | 'password',
    variable: string,
    part: 'username' | 'password',
    expected: Parameters<typeof expectString>[2],
    what: string,
  ): Sourced<string> | undefined => {
    const given = options[option]
    const fromCode =
      given === undefined ? undefined : { value: expectString(given, option, expected), path: option }
    const raw = env.string(variable)
    const fromEnv = raw && { value: expectString(raw.value, raw.path, expected), path: raw.path }
    const inCodeUrl = urlPart(codeUrl, codeUrl?.parsed[part])
    const inEnvUrl = urlPart(envUrl, envUrl?.parsed[part])
    agree(fromCode, inCodeUrl, what)
    agree(fromEnv, inEnvUrl, what)
    return firstDefined([fromCode, inCodeUrl, fromEnv, inEnvUrl])
  }
  const username = credential(
    'username',
    'VALKIT_USERNAME',
    'username',
    { expected: 'an ACL user name (no spaces)', pattern: NAME },
    'user name',
  )
  const password = credential(
    'password',
    'VALKIT_PASSWORD',
    'password',
    { expected: 'a non-empty password string (omit the option for no password)', secret: true },
    'password',
  )
  if (password !== undefined) {
    secrets.push(password.value)
    const encoded = encodeURIComponent(password.value)
    if (encoded !== password.value) secrets.push(encoded)
  }

  const dbExpected = 'a database index: an integer >= 0'
  const codeDb =
    options.database === undefined
      ? undefined
      : { value: expectInteger(options.database, 'database', 0, 2 ** 31 - 1, dbExpected), path: 'database' }
  const envDbRaw = env.number('VALKIT_DATABASE')
  const envDb = envDbRaw && {
    value: expectInteger(envDbRaw.value, envDbRaw.path, 0, 2 ** 31 - 1, dbExpected),
    path: envDbRaw.path,
  }
  agree(codeDb, urlPart(codeUrl, codeUrl?.parsed.database), 'database')
  agree(envDb, urlPart(envUrl, envUrl?.parsed.database), 'database')
  const database = firstDefined([
    codeDb,
    urlPart(codeUrl, codeUrl?.parsed.database),
    envDb,
    urlPart(envUrl, envUrl?.parsed.database),
  ]) ?? { value: VALKIT_DEFAULTS.database, path: 'default' }
  if (topology.kind === 'cluster' && database.value !== 0) {
    throw invalidOption(
      database.path,
      `is ${database.value} but a Cluster has only database 0`,
      '0 (or no database) with `cluster`',
    )
  }

  const tls = resolveTls({
    code: options.tls,
    codePath: 'tls',
    ...(url === undefined ? {} : { url: { tls: url.parsed.tls, path: url.path, fromCode: url.fromCode } }),
    envEnabled: 'VALKIT_TLS',
    env,
    envMaterial: true,
  })
  if (tls.keyPem !== undefined) secrets.push(tls.keyPem)

  return { topology, topologyPath, username, password, database, tls, url, secrets }
}
