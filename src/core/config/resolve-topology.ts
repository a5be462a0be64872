import { invalidOption } from '../errors.js'
import type { EnvReader } from './env.js'
import { parseHostPort, type ResolvedHostPort } from './host-port.js'
import { resolveTls } from './resolve-tls.js'
import type { Topology } from './resolved-config.js'
import { VALKIT_DEFAULTS } from './valkit-options.js'
import {
  checkKeys,
  describeValue,
  expectBoolean,
  expectObject,
  expectString,
  isPlainObject,
} from './validate.js'

/** A topology with the secrets it carries. @internal */
export interface TopologyResult {
  readonly topology: Topology
  readonly secrets: readonly string[]
}

const SENTINEL_KEYS = ['sentinels', 'masterName', 'username', 'password', 'tls'] as const
const CLUSTER_KEYS = ['nodes', 'natMap', 'readFromReplicas'] as const
const NAME = /^[^\s]+$/

function addressList(value: unknown, path: string, defaultPort: number, what: string): ResolvedHostPort[] {
  if (!Array.isArray(value) || value.length === 0) {
    throw invalidOption(
      path,
      `got ${describeValue(value)}`,
      `a non-empty array of ${what} addresses ('host:port' or { host, port })`,
    )
  }
  return value.map((item, i) => parseHostPort(item, `${path}[${i}]`, defaultPort))
}

function envList(env: EnvReader, name: string, defaultPort: number): ResolvedHostPort[] | undefined {
  const raw = env.string(name)
  if (raw === undefined) return undefined
  const items = raw.value.split(',').map((s) => s.trim())
  return items.map((item, i) => parseHostPort(item, `${raw.path}[${i}]`, defaultPort))
}

/**
 * Resolves a Sentinel topology from `sentinel` in code (when given) and `VALKIT_SENTINEL*`
 * (filling what code leaves out).
 * @internal
 */
export function resolveSentinel(code: unknown, env: EnvReader): TopologyResult {
  const object = code === undefined ? {} : expectObject(code, 'sentinel', '{ sentinels, masterName, ... }')
  checkKeys(object, SENTINEL_KEYS, 'sentinel')
  const sentinels =
    object.sentinels !== undefined
      ? addressList(object.sentinels, 'sentinel.sentinels', VALKIT_DEFAULTS.sentinelPort, 'sentinel')
      : envList(env, 'VALKIT_SENTINELS', VALKIT_DEFAULTS.sentinelPort)
  if (sentinels === undefined) {
    throw invalidOption(
      code === undefined ? 'env VALKIT_SENTINELS' : 'sentinel.sentinels',
      'is missing',
      "a non-empty array of sentinel addresses (or env VALKIT_SENTINELS='h1:26379,h2:26379')",
    )
  }
  const masterSource =
    object.masterName !== undefined
      ? { value: object.masterName, path: 'sentinel.masterName' }
      : env.string('VALKIT_SENTINEL_MASTER')
  const masterPath =
    masterSource?.path ?? (code === undefined ? 'env VALKIT_SENTINEL_MASTER' : 'sentinel.masterName')
  const masterName = expectString(masterSource?.value, masterPath, {
    expected: 'the master name the sentinels monitor (no spaces)',
    pattern: NAME,
  })
  const userSource =
    object.username !== undefined
      ? { value: object.username, path: 'sentinel.username' }
      : env.string('VALKIT_SENTINEL_USERNAME')
  const passSource =
    object.password !== undefined
      ? { value: object.password, path: 'sentinel.password' }
      : env.string('VALKIT_SENTINEL_PASSWORD')
  const username =
    userSource === undefined
      ? undefined
      : expectString(userSource.value, userSource.path, {
          expected: 'an ACL user name (no spaces)',
          pattern: NAME,
        })
  const password =
    passSource === undefined
      ? undefined
      : expectString(passSource.value, passSource.path, {
          expected: 'a non-empty password string',
          secret: true,
        })
  const tls = resolveTls({
    code: object.tls,
    codePath: 'sentinel.tls',
    envEnabled: 'VALKIT_SENTINEL_TLS',
    env,
    envMaterial: false,
  })
  const secrets: string[] = []
  if (password !== undefined) secrets.push(password)
  if (tls.keyPem !== undefined) secrets.push(tls.keyPem)
  const topology: Topology = {
    kind: 'sentinel',
    sentinels,
    masterName,
    ...(username === undefined ? {} : { username }),
    ...(password === undefined ? {} : { password }),
    ...(tls.tls === null ? {} : { tls: tls.tls }),
  }
  return { topology, secrets }
}

/**
 * NAT map keys are what the drivers look up: the announced address as `${host}:${port}`,
 * IPv6 without brackets (node-redis `nodeAddressMap` and ioredis `natMap` both build it so).
 */
function natKey(address: ResolvedHostPort): string {
  return `${address.host}:${address.port}`
}

/**
 * Resolves a Cluster topology from `cluster` in code (when given) and `VALKIT_CLUSTER_*`.
 * @internal
 */
export function resolveCluster(code: unknown, env: EnvReader): TopologyResult {
  const object =
    code === undefined ? {} : expectObject(code, 'cluster', '{ nodes, natMap?, readFromReplicas? }')
  checkKeys(object, CLUSTER_KEYS, 'cluster')
  const nodes =
    object.nodes !== undefined
      ? addressList(object.nodes, 'cluster.nodes', VALKIT_DEFAULTS.port, 'node')
      : envList(env, 'VALKIT_CLUSTER_NODES', VALKIT_DEFAULTS.port)
  if (nodes === undefined)
    throw invalidOption('cluster.nodes', 'is missing', 'a non-empty array of node addresses')

  const natMap: Record<string, ResolvedHostPort> = {}
  if (object.natMap !== undefined) {
    const map = expectObject(
      object.natMap,
      'cluster.natMap',
      "an object mapping 'host:port' to 'host:port' or { host, port }",
    )
    for (const [from, to] of Object.entries(map)) {
      const key = natKey(parseHostPort(from, `cluster.natMap[${JSON.stringify(from)}]`, VALKIT_DEFAULTS.port))
      natMap[key] = parseHostPort(to, `cluster.natMap[${JSON.stringify(from)}]`, VALKIT_DEFAULTS.port)
    }
  } else {
    const raw = env.string('VALKIT_CLUSTER_NAT_MAP')
    for (const [i, pair] of (raw?.value.split(',') ?? []).entries()) {
      const path = `${raw?.path ?? ''}[${i}]`
      const [from, to, extra] = pair.split('=').map((s) => s.trim())
      if (from === undefined || to === undefined || extra !== undefined) {
        throw invalidOption(path, `got ${describeValue(pair)}`, "'announced-host:port=reachable-host:port'")
      }
      natMap[natKey(parseHostPort(from, path, VALKIT_DEFAULTS.port))] = parseHostPort(
        to,
        path,
        VALKIT_DEFAULTS.port,
      )
    }
  }
  const readFromReplicas =
    object.readFromReplicas !== undefined
      ? expectBoolean(object.readFromReplicas, 'cluster.readFromReplicas')
      : (env.boolean('VALKIT_CLUSTER_READ_FROM_REPLICAS')?.value ?? false)
  return { topology: { kind: 'cluster', nodes, natMap, readFromReplicas }, secrets: [] }
}

function field(object: unknown, key: string): unknown {
  return isPlainObject(object) || (typeof object === 'object' && object !== null)
    ? (object as Record<string, unknown>)[key]
    : undefined
}

function looseAddress(value: unknown, defaultPort: number): ResolvedHostPort | undefined {
  if (typeof value === 'number') return { host: VALKIT_DEFAULTS.host, port: value }
  if (typeof value === 'string') {
    try {
      return parseHostPort(value, 'driver.ioredis', defaultPort)
    } catch {
      return undefined
    }
  }
  const host = field(value, 'host')
  const port = field(value, 'port')
  if (typeof host !== 'string' && typeof port !== 'number') return undefined
  return {
    host: typeof host === 'string' ? host : VALKIT_DEFAULTS.host,
    port: typeof port === 'number' ? port : defaultPort,
  }
}

/**
 * Best-effort description of what a user-supplied ioredis client connects to, for reports and
 * `describe()`; the client itself does the connecting. Its passwords are collected as secrets.
 * @internal
 */
export function topologyFromIoredis(
  client: unknown,
): TopologyResult & { database: number; username?: string; password?: string } {
  const options = field(client, 'options')
  const secrets: string[] = []
  const str = (v: unknown) => (typeof v === 'string' && v !== '' ? v : undefined)
  if (field(client, 'isCluster') === true) {
    const redisOptions = field(options, 'redisOptions')
    const password = str(field(redisOptions, 'password'))
    if (password !== undefined) secrets.push(password)
    const seeds = field(client, 'startupNodes')
    const nodes = (Array.isArray(seeds) ? seeds : [])
      .map((n) => looseAddress(n, VALKIT_DEFAULTS.port))
      .filter((n) => n !== undefined)
    const username = str(field(redisOptions, 'username'))
    return {
      topology: {
        kind: 'cluster',
        nodes,
        natMap: {},
        readFromReplicas: field(options, 'scaleReads') === 'slave',
      },
      secrets,
      database: 0,
      ...(username === undefined ? {} : { username }),
      ...(password === undefined ? {} : { password }),
    }
  }
  const password = str(field(options, 'password'))
  const sentinelPassword = str(field(options, 'sentinelPassword'))
  for (const s of [password, sentinelPassword]) if (s !== undefined) secrets.push(s)
  const username = str(field(options, 'username'))
  const db = field(options, 'db')
  const database = typeof db === 'number' ? db : 0
  const sentinels = field(options, 'sentinels')
  let topology: Topology
  if (Array.isArray(sentinels) && sentinels.length > 0) {
    topology = {
      kind: 'sentinel',
      sentinels: sentinels
        .map((s) => looseAddress(s, VALKIT_DEFAULTS.sentinelPort))
        .filter((s) => s !== undefined),
      masterName: str(field(options, 'name')) ?? 'mymaster',
      ...(sentinelPassword === undefined ? {} : { password: sentinelPassword }),
    }
  } else {
    const socketPath = str(field(options, 'path'))
    const address = looseAddress(options, VALKIT_DEFAULTS.port) ?? {
      host: VALKIT_DEFAULTS.host,
      port: VALKIT_DEFAULTS.port,
    }
    topology = { kind: 'standalone', ...address, ...(socketPath === undefined ? {} : { socketPath }) }
  }
  return {
    topology,
    secrets,
    database,
    ...(username === undefined ? {} : { username }),
    ...(password === undefined ? {} : { password }),
  }
}
