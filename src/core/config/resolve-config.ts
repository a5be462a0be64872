import { inspect } from 'node:util'
import { invalidOption } from '../errors.js'
import { describeConfig, redactedConfig } from './describe-config.js'
import { parseDuration } from './duration.js'
import { EnvReader } from './env.js'
import { resolveDriver } from './resolve-driver.js'
import { resolveLogger } from './resolve-logger.js'
import { resolveConnection, type UrlSource } from './resolve-connection.js'
import type { ResolvedValkitConfig } from './resolved-config.js'
import { VALKIT_DEFAULTS, VALKIT_OPTION_NAMES, type ValkitOptions } from './valkit-options.js'
import {
  checkKeys,
  describeValue,
  expectInteger,
  expectNumber,
  expectObject,
  expectString,
  firstDefined,
  type Sourced,
} from './validate.js'

// Printable characters (ASCII 0x21-0x7e, or any non-ASCII) without braces.
const KEY_PREFIX = /^[!-z|~\u0080-\uffff]+$/
const CLIENT_NAME = /^[!-~]+$/

type Data = Omit<ResolvedValkitConfig, 'describe' | 'toJSON'>

function sourceName(path: string): string {
  if (path === 'default' || path.startsWith('env ') || path === 'driver.ioredis') return path
  return path.startsWith('url') ? 'url' : 'code'
}

function deepFreeze<T>(value: T, skip: ReadonlySet<unknown>): T {
  if (typeof value !== 'object' || value === null || Buffer.isBuffer(value) || skip.has(value)) return value
  for (const child of Object.values(value)) deepFreeze(child, skip)
  return Object.freeze(value)
}

/**
 * Validates options from code and the environment (`VALKIT_*`; code wins), applies defaults,
 * reads TLS and `*_FILE` files, and returns a deep-frozen config. Every invalid value throws
 * `VALKIT_INVALID_OPTION` naming its path (`reconnect.maxDelay`, `env VALKIT_COMMAND_TIMEOUT`)
 * and what would be valid; no error message ever contains a password or a private key.
 *
 * @example
 * ```ts
 * const config = resolveConfig({ url: 'rediss://api:s3cret@cache.internal:6380/1', commandTimeout: '500ms' })
 * config.describe() // 'standalone rediss://api:***@cache.internal:6380/1 tls=on'
 * config.commandTimeoutMs // 500
 *
 * resolveConfig() // nothing configured anywhere: { topology: { kind: 'memory' }, ... }
 * ```
 */
export function resolveConfig(options: ValkitOptions = {}): ResolvedValkitConfig {
  const input = expectObject(options, '(options)', 'an object of valkit options')
  checkKeys(input, VALKIT_OPTION_NAMES, '')
  const envRecord = input.env === undefined ? process.env : input.env
  if (typeof envRecord !== 'object' || envRecord === null) {
    throw invalidOption(
      'env',
      `got ${describeValue(envRecord)}`,
      'an object of environment variables, like process.env',
    )
  }
  const env = new EnvReader(envRecord as Record<string, string | undefined>)
  const driver = resolveDriver(input.driver)
  const logger = resolveLogger(input.logger)
  const conn = resolveConnection(input, env, driver.kind === 'ioredis' ? driver.client : undefined)
  const sources: Record<string, string> = {}
  const note = (option: string, source: Sourced | undefined) => {
    sources[option] = source === undefined ? 'default' : sourceName(source.path)
  }

  const code = (value: unknown, path: string): Sourced | undefined =>
    value === undefined ? undefined : { value, path }
  const param = (
    url: UrlSource | undefined,
    fromCode: boolean,
    name: 'clientName' | 'commandTimeout' | 'connectTimeout',
  ) => {
    const value = url?.fromCode === fromCode ? url.parsed.params[name] : undefined
    return url === undefined || value === undefined ? undefined : { value, path: `${url.path} (?${name}=)` }
  }
  /** code option > code URL parameter > environment variable > environment URL parameter. */
  const layered = (name: 'clientName' | 'commandTimeout' | 'connectTimeout', envName: string) =>
    firstDefined([
      code(input[name], name),
      param(conn.url, true, name),
      env.string(envName),
      param(conn.url, false, name),
    ])

  const clientNameSource = layered('clientName', 'VALKIT_CLIENT_NAME')
  note('clientName', clientNameSource)
  const clientName =
    clientNameSource === undefined
      ? VALKIT_DEFAULTS.clientName
      : expectString(clientNameSource.value, clientNameSource.path, {
          expected: 'a client name of printable characters without spaces',
          pattern: CLIENT_NAME,
        })

  const commandSource = layered('commandTimeout', 'VALKIT_COMMAND_TIMEOUT')
  note('commandTimeout', commandSource)
  const commandTimeoutMs =
    commandSource === undefined
      ? VALKIT_DEFAULTS.commandTimeoutMs
      : parseDuration(commandSource.value, commandSource.path)
  const connectSource = layered('connectTimeout', 'VALKIT_CONNECT_TIMEOUT')
  note('connectTimeout', connectSource)
  const connectTimeoutMs =
    connectSource === undefined ? VALKIT_DEFAULTS.connectTimeoutMs : positive(connectSource)

  /** A sub-option: code value (after checking the section's keys) else its environment variable. */
  const sectionOf = (
    name: 'offlineQueue' | 'reconnect' | 'retry' | 'health' | 'durableWrites',
    known: readonly string[],
  ) => {
    const raw = input[name]
    const object =
      typeof raw === 'object' && raw !== null
        ? expectObject(raw, name, `an object with ${known.join(', ')}`)
        : {}
    checkKeys(object, known, name)
    return (key: string, envName: string, kind: 'string' | 'number' = 'string'): Sourced | undefined => {
      const source =
        code(object[key], `${name}.${key}`) ?? (kind === 'number' ? env.number(envName) : env.string(envName))
      note(`${name}.${key}`, source)
      return source
    }
  }

  // offlineQueue
  const queueRaw = input.offlineQueue
  if (
    queueRaw !== undefined &&
    typeof queueRaw !== 'boolean' &&
    (typeof queueRaw !== 'object' || queueRaw === null)
  ) {
    throw invalidOption(
      'offlineQueue',
      `got ${describeValue(queueRaw)}`,
      'true, false or { maxSize?, maxWait? }',
    )
  }
  const queueLeaf = sectionOf('offlineQueue', ['maxSize', 'maxWait'])
  const queueSource =
    queueRaw === undefined
      ? env.boolean('VALKIT_OFFLINE_QUEUE')
      : { value: queueRaw !== false, path: 'offlineQueue' }
  note('offlineQueue', queueSource)
  const queueEnabled = queueSource?.value ?? false
  const maxSizeSource = queueLeaf('maxSize', 'VALKIT_OFFLINE_QUEUE_MAX_SIZE', 'number')
  const maxWaitSource = queueLeaf('maxWait', 'VALKIT_OFFLINE_QUEUE_MAX_WAIT')
  const offlineQueue = {
    enabled: queueEnabled,
    maxSize:
      maxSizeSource === undefined
        ? VALKIT_DEFAULTS.offlineQueue.maxSize
        : expectInteger(maxSizeSource.value, maxSizeSource.path, 1, 10_000_000),
    maxWaitMs:
      maxWaitSource === undefined ? commandTimeoutMs : parseDuration(maxWaitSource.value, maxWaitSource.path),
  }

  // reconnect
  const reconnectLeaf = sectionOf('reconnect', ['initialDelay', 'maxDelay', 'jitter'])
  const rInitial = reconnectLeaf('initialDelay', 'VALKIT_RECONNECT_INITIAL_DELAY')
  const rMax = reconnectLeaf('maxDelay', 'VALKIT_RECONNECT_MAX_DELAY')
  const rJitter = reconnectLeaf('jitter', 'VALKIT_RECONNECT_JITTER')
  const reconnect = {
    initialDelayMs: rInitial === undefined ? VALKIT_DEFAULTS.reconnect.initialDelayMs : positive(rInitial),
    maxDelayMs: rMax === undefined ? VALKIT_DEFAULTS.reconnect.maxDelayMs : positive(rMax),
    jitter:
      rJitter === undefined
        ? VALKIT_DEFAULTS.reconnect.jitter
        : (expectString(rJitter.value, rJitter.path, {
            expected: "'full' or 'none'",
            pattern: /^(full|none)$/,
          }) as 'full' | 'none'),
  }
  atLeast(reconnect.maxDelayMs, reconnect.initialDelayMs, rMax ?? rInitial, 'reconnect')

  // retry
  const retryLeaf = sectionOf('retry', ['attempts', 'initialDelay', 'maxDelay'])
  const attempts = retryLeaf('attempts', 'VALKIT_RETRY_ATTEMPTS', 'number')
  const tInitial = retryLeaf('initialDelay', 'VALKIT_RETRY_INITIAL_DELAY')
  const tMax = retryLeaf('maxDelay', 'VALKIT_RETRY_MAX_DELAY')
  const retry = {
    attempts:
      attempts === undefined
        ? VALKIT_DEFAULTS.retry.attempts
        : expectInteger(attempts.value, attempts.path, 0, 100),
    initialDelayMs:
      tInitial === undefined
        ? VALKIT_DEFAULTS.retry.initialDelayMs
        : parseDuration(tInitial.value, tInitial.path),
    maxDelayMs: tMax === undefined ? VALKIT_DEFAULTS.retry.maxDelayMs : parseDuration(tMax.value, tMax.path),
  }
  atLeast(retry.maxDelayMs, retry.initialDelayMs, tMax ?? tInitial, 'retry')

  // health
  const h = VALKIT_DEFAULTS.health
  const healthLeaf = sectionOf('health', [
    'interval',
    'pingTimeout',
    'failuresToDegrade',
    'latencyWarn',
    'memoryWarnRatio',
    'evictionsWarnPerMinute',
    'replicationLagWarnBytes',
  ])
  const orDefault = <T>(source: Sourced | undefined, fallback: T, check: (s: Sourced) => T): T =>
    source === undefined ? fallback : check(source)
  const health = {
    intervalMs: orDefault(healthLeaf('interval', 'VALKIT_HEALTH_INTERVAL'), h.intervalMs, positive),
    pingTimeoutMs: orDefault(
      healthLeaf('pingTimeout', 'VALKIT_HEALTH_PING_TIMEOUT'),
      h.pingTimeoutMs,
      positive,
    ),
    failuresToDegrade: orDefault(
      healthLeaf('failuresToDegrade', 'VALKIT_HEALTH_FAILURES_TO_DEGRADE', 'number'),
      h.failuresToDegrade,
      (s) => expectInteger(s.value, s.path, 1, 1000),
    ),
    latencyWarnMs: orDefault(
      healthLeaf('latencyWarn', 'VALKIT_HEALTH_LATENCY_WARN'),
      h.latencyWarnMs,
      positive,
    ),
    memoryWarnRatio: orDefault(
      healthLeaf('memoryWarnRatio', 'VALKIT_HEALTH_MEMORY_WARN_RATIO', 'number'),
      h.memoryWarnRatio,
      (s) =>
        expectNumber(
          s.value,
          s.path,
          (n) => n > 0 && n <= 1,
          'a ratio greater than 0 and at most 1, such as 0.8',
        ),
    ),
    evictionsWarnPerMinute: orDefault(
      healthLeaf('evictionsWarnPerMinute', 'VALKIT_HEALTH_EVICTIONS_WARN_PER_MINUTE', 'number'),
      h.evictionsWarnPerMinute,
      (s) => expectNumber(s.value, s.path, (n) => n >= 0, 'a number >= 0'),
    ),
    replicationLagWarnBytes: orDefault(
      healthLeaf('replicationLagWarnBytes', 'VALKIT_HEALTH_REPLICATION_LAG_WARN_BYTES', 'number'),
      h.replicationLagWarnBytes,
      (s) => expectInteger(s.value, s.path, 0, Number.MAX_SAFE_INTEGER),
    ),
  }

  // durableWrites
  const durableRaw = input.durableWrites
  if (
    durableRaw !== undefined &&
    durableRaw !== false &&
    (typeof durableRaw !== 'object' || durableRaw === null)
  ) {
    throw invalidOption('durableWrites', `got ${describeValue(durableRaw)}`, 'false or { replicas, timeout }')
  }
  const durableLeaf = sectionOf('durableWrites', ['replicas', 'timeout'])
  let durableWrites: ResolvedValkitConfig['durableWrites'] = null
  if (durableRaw !== false) {
    const replicas = durableLeaf('replicas', 'VALKIT_DURABLE_WRITES_REPLICAS', 'number')
    const timeout = durableLeaf('timeout', 'VALKIT_DURABLE_WRITES_TIMEOUT')
    if (
      (replicas === undefined) !== (timeout === undefined) ||
      (durableRaw !== undefined && replicas === undefined)
    ) {
      const [given, missing] = replicas === undefined ? [timeout, 'replicas'] : [replicas, 'timeout']
      const path =
        durableRaw === undefined
          ? `env VALKIT_DURABLE_WRITES_${missing.toUpperCase()}`
          : `durableWrites.${missing}`
      throw invalidOption(
        path,
        `is missing${given === undefined ? '' : ` while ${given.path} is set`}`,
        'both replicas and timeout',
      )
    }
    if (replicas !== undefined && timeout !== undefined) {
      durableWrites = {
        replicas: expectInteger(replicas.value, replicas.path, 1, 100),
        timeoutMs: positive(timeout),
      }
    }
  }

  // keyPrefix
  const prefixSource = code(input.keyPrefix, 'keyPrefix') ?? env.string('VALKIT_KEY_PREFIX')
  note('keyPrefix', prefixSource)
  let keyPrefix: string = VALKIT_DEFAULTS.keyPrefix
  if (prefixSource !== undefined) {
    keyPrefix = expectString(prefixSource.value, prefixSource.path, {
      expected: "a prefix of up to 128 characters without spaces, braces or a trailing ':' (such as 'myapp')",
      pattern: /^.{1,128}$/s,
    })
    if (!KEY_PREFIX.test(keyPrefix) || /\s/.test(keyPrefix) || keyPrefix.endsWith(':')) {
      throw invalidOption(
        prefixSource.path,
        `got ${describeValue(keyPrefix)} (spaces, braces, control characters and a trailing ':' are not allowed: braces are Cluster hash tags)`,
        "a prefix such as 'myapp' or 'myapp:v2'",
      )
    }
  }

  note('topology', { value: null, path: conn.topologyPath })
  note('username', conn.username)
  note('password', conn.password)
  note('database', conn.database.path === 'default' ? undefined : conn.database)
  sources.tls = sourceName(conn.tls.path)

  const secrets = [...new Set(conn.secrets.filter((s) => s !== ''))]
  const data: Data = {
    topology: conn.topology,
    ...(conn.username === undefined ? {} : { username: conn.username.value }),
    ...(conn.password === undefined ? {} : { password: conn.password.value }),
    database: conn.database.value,
    clientName,
    tls: conn.tls.tls,
    commandTimeoutMs,
    connectTimeoutMs,
    offlineQueue,
    reconnect,
    retry,
    health,
    durableWrites,
    keyPrefix,
    driver,
    logger,
    sources,
    secrets,
  }
  const config = data as ResolvedValkitConfig
  Object.defineProperties(config, {
    describe: { value: () => describeConfig(data), enumerable: false },
    toJSON: { value: () => redactedConfig(data), enumerable: false },
    [inspect.custom]: {
      value: () => `ResolvedValkitConfig ${inspect(redactedConfig(data), { depth: 4 })}`,
      enumerable: false,
    },
  })
  const skip = new Set<unknown>(
    [driver.kind === 'ioredis' ? driver.client : undefined, logger].filter(
      (v) => v !== undefined && v !== false,
    ),
  )
  return deepFreeze(config, skip)
}

/** A duration that must be at least 1 ms. */
function positive(source: Sourced): number {
  const ms = parseDuration(source.value, source.path)
  if (ms < 1)
    throw invalidOption(source.path, `got ${describeValue(source.value)}`, 'a duration of at least 1ms')
  return ms
}

function atLeast(max: number, min: number, source: Sourced | undefined, section: string): void {
  if (max < min) {
    throw invalidOption(
      source?.path ?? `${section}.maxDelay`,
      `maxDelay (${max} ms) is shorter than initialDelay (${min} ms)`,
      'maxDelay >= initialDelay',
    )
  }
}
