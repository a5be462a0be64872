import assert from 'node:assert/strict'
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { ENV_VARIABLES, resolveConfig, VALKIT_OPTION_NAMES } from '../../src/core/config/index.js'
import { isValkitError } from '../../src/core/errors.js'
import { rejectsOption } from '../support/rejects-option.js'

const dir = mkdtempSync(join(tmpdir(), 'valkit-config-env-'))
after(() => rmSync(dir, { recursive: true, force: true }))
let counter = 0
/** Writes `content` to a fresh temp file and returns its path. */
function file(content: string): string {
  const path = join(dir, `f${counter++}`)
  writeFileSync(path, content)
  return path
}

void describe('configuration from the environment', () => {
  void it('reads every scalar option from VALKIT_* variables', () => {
    const c = resolveConfig({
      env: {
        VALKIT_HOST: 'cache.internal',
        VALKIT_PORT: '6380',
        VALKIT_USERNAME: 'svc',
        VALKIT_PASSWORD: 'pw',
        VALKIT_DATABASE: '5',
        VALKIT_CLIENT_NAME: 'worker',
        VALKIT_COMMAND_TIMEOUT: '750ms',
        VALKIT_CONNECT_TIMEOUT: '5s',
        VALKIT_OFFLINE_QUEUE: 'true',
        VALKIT_OFFLINE_QUEUE_MAX_SIZE: '50',
        VALKIT_OFFLINE_QUEUE_MAX_WAIT: '3s',
        VALKIT_RECONNECT_INITIAL_DELAY: '100',
        VALKIT_RECONNECT_MAX_DELAY: '800ms',
        VALKIT_RECONNECT_JITTER: 'none',
        VALKIT_RETRY_ATTEMPTS: '4',
        VALKIT_RETRY_INITIAL_DELAY: '10ms',
        VALKIT_RETRY_MAX_DELAY: '90ms',
        VALKIT_HEALTH_INTERVAL: '1s',
        VALKIT_HEALTH_PING_TIMEOUT: '700ms',
        VALKIT_HEALTH_FAILURES_TO_DEGRADE: '3',
        VALKIT_HEALTH_LATENCY_WARN: '25ms',
        VALKIT_HEALTH_MEMORY_WARN_RATIO: '0.75',
        VALKIT_HEALTH_EVICTIONS_WARN_PER_MINUTE: '10',
        VALKIT_HEALTH_REPLICATION_LAG_WARN_BYTES: '2048',
        VALKIT_DURABLE_WRITES_REPLICAS: '2',
        VALKIT_DURABLE_WRITES_TIMEOUT: '250ms',
        VALKIT_KEY_PREFIX: 'shop',
      },
    })
    assert.deepEqual(c.topology, { kind: 'standalone', host: 'cache.internal', port: 6380 })
    assert.equal(c.username, 'svc')
    assert.equal(c.password, 'pw')
    assert.equal(c.database, 5)
    assert.equal(c.clientName, 'worker')
    assert.equal(c.commandTimeoutMs, 750)
    assert.equal(c.connectTimeoutMs, 5000)
    assert.deepEqual(c.offlineQueue, { enabled: true, maxSize: 50, maxWaitMs: 3000 })
    assert.deepEqual(c.reconnect, { initialDelayMs: 100, maxDelayMs: 800, jitter: 'none' })
    assert.deepEqual(c.retry, { attempts: 4, initialDelayMs: 10, maxDelayMs: 90 })
    assert.deepEqual(c.health, {
      intervalMs: 1000,
      pingTimeoutMs: 700,
      failuresToDegrade: 3,
      latencyWarnMs: 25,
      memoryWarnRatio: 0.75,
      evictionsWarnPerMinute: 10,
      replicationLagWarnBytes: 2048,
    })
    assert.deepEqual(c.durableWrites, { replicas: 2, timeoutMs: 250 })
    assert.equal(c.keyPrefix, 'shop')
    assert.equal(c.sources.commandTimeout, 'env VALKIT_COMMAND_TIMEOUT')
    assert.equal(c.sources.password, 'env VALKIT_PASSWORD')
  })

  void it('VALKIT_REDIS_URL wins over REDIS_URL; REDIS_URL is the fallback', () => {
    const both = resolveConfig({ env: { VALKIT_REDIS_URL: 'redis://a:1', REDIS_URL: 'redis://b:2' } })
    assert.deepEqual(both.topology, { kind: 'standalone', host: 'a', port: 1 })
    const fallback = resolveConfig({ env: { REDIS_URL: 'rediss://:pw@b:2/3' } })
    assert.deepEqual(fallback.topology, { kind: 'standalone', host: 'b', port: 2 })
    assert.equal(fallback.database, 3)
    assert.equal(fallback.tls?.rejectUnauthorized, true)
    assert.ok(fallback.secrets.includes('pw'))
  })

  void it('an empty variable counts as unset', () => {
    const c = resolveConfig({ env: { VALKIT_REDIS_URL: '', VALKIT_COMMAND_TIMEOUT: '' } })
    assert.deepEqual(c.topology, { kind: 'memory' })
    assert.equal(c.commandTimeoutMs, 1000)
  })

  void it('Sentinel from VALKIT_SENTINELS and friends', () => {
    const c = resolveConfig({
      env: {
        VALKIT_SENTINELS: 's1:26379, s2 ,[::1]:26380',
        VALKIT_SENTINEL_MASTER: 'mymaster',
        VALKIT_SENTINEL_USERNAME: 'sentuser',
        VALKIT_SENTINEL_PASSWORD: 'sentpw',
        VALKIT_SENTINEL_TLS: 'yes',
        VALKIT_PASSWORD: 'datapw',
      },
    })
    assert.ok(c.topology.kind === 'sentinel')
    assert.deepEqual(c.topology.sentinels, [
      { host: 's1', port: 26379 },
      { host: 's2', port: 26379 },
      { host: '::1', port: 26380 },
    ])
    assert.equal(c.topology.masterName, 'mymaster')
    assert.equal(c.topology.username, 'sentuser')
    assert.equal(c.topology.password, 'sentpw')
    assert.deepEqual(c.topology.tls, { rejectUnauthorized: true })
    assert.equal(c.password, 'datapw')
    assert.deepEqual([...c.secrets].sort(), ['datapw', 'sentpw'])
  })

  void it('Sentinel without a master name names the missing variable', () => {
    rejectsOption(() => resolveConfig({ env: { VALKIT_SENTINELS: 's1' } }), 'env VALKIT_SENTINEL_MASTER')
    rejectsOption(() => resolveConfig({ env: { VALKIT_SENTINEL_MASTER: 'm' } }), 'env VALKIT_SENTINELS')
  })

  void it('Cluster from VALKIT_CLUSTER_NODES with a NAT map', () => {
    const c = resolveConfig({
      env: {
        VALKIT_CLUSTER_NODES: 'n1:7000,n2:7001',
        VALKIT_CLUSTER_NAT_MAP: '10.0.0.1:7000=pub:17000,10.0.0.2:7001=pub:17001',
        VALKIT_CLUSTER_READ_FROM_REPLICAS: 'true',
      },
    })
    assert.deepEqual(c.topology, {
      kind: 'cluster',
      nodes: [
        { host: 'n1', port: 7000 },
        { host: 'n2', port: 7001 },
      ],
      natMap: {
        '10.0.0.1:7000': { host: 'pub', port: 17000 },
        '10.0.0.2:7001': { host: 'pub', port: 17001 },
      },
      readFromReplicas: true,
    })
    rejectsOption(
      () => resolveConfig({ env: { VALKIT_CLUSTER_NODES: 'n1', VALKIT_CLUSTER_NAT_MAP: 'a:1' } }),
      'env VALKIT_CLUSTER_NAT_MAP[0]',
    )
  })

  void it('two topologies in the environment are a conflict', () => {
    rejectsOption(
      () => resolveConfig({ env: { VALKIT_REDIS_URL: 'redis://h', VALKIT_CLUSTER_NODES: 'n1' } }),
      'env VALKIT_CLUSTER_NODES',
      /cannot be combined with `env VALKIT_REDIS_URL`/,
    )
  })

  void it('a topology VALKIT_* variable hides REDIS_URL', () => {
    const c = resolveConfig({ env: { REDIS_URL: 'redis://other', VALKIT_CLUSTER_NODES: 'n1' } })
    assert.equal(c.topology.kind, 'cluster')
  })

  const bad: [string, Record<string, string>][] = [
    ['VALKIT_COMMAND_TIMEOUT', { VALKIT_COMMAND_TIMEOUT: 'forever' }],
    ['VALKIT_DATABASE', { VALKIT_DATABASE: 'one' }],
    ['VALKIT_PORT', { VALKIT_PORT: '0' }],
    ['VALKIT_TLS', { VALKIT_TLS: 'maybe' }],
    ['VALKIT_OFFLINE_QUEUE', { VALKIT_OFFLINE_QUEUE: 'sometimes' }],
    ['VALKIT_RETRY_ATTEMPTS', { VALKIT_RETRY_ATTEMPTS: '-1' }],
    ['VALKIT_HEALTH_MEMORY_WARN_RATIO', { VALKIT_HEALTH_MEMORY_WARN_RATIO: 'high' }],
    ['VALKIT_KEY_PREFIX', { VALKIT_KEY_PREFIX: 'a b' }],
    ['VALKIT_REDIS_URL', { VALKIT_REDIS_URL: 'http://h' }],
    ['VALKIT_SENTINELS[1]', { VALKIT_SENTINELS: 'a,b:x', VALKIT_SENTINEL_MASTER: 'm' }],
    ['VALKIT_DURABLE_WRITES_TIMEOUT', { VALKIT_DURABLE_WRITES_REPLICAS: '1' }],
    ['VALKIT_RECONNECT_JITTER', { VALKIT_RECONNECT_JITTER: 'some' }],
  ]
  for (const [name, env] of bad) {
    void it(`a bad value names \`env ${name}\``, () => {
      rejectsOption(() => resolveConfig({ env }), `env ${name}`, /Expected /)
    })
  }
})

void describe('code wins over the environment', () => {
  void it('per option, including nested ones', () => {
    const c = resolveConfig({
      commandTimeout: 300,
      reconnect: { maxDelay: '2s' },
      keyPrefix: 'code',
      env: {
        VALKIT_COMMAND_TIMEOUT: '9s',
        VALKIT_RECONNECT_MAX_DELAY: '5s',
        VALKIT_RECONNECT_INITIAL_DELAY: '75ms',
        VALKIT_KEY_PREFIX: 'env',
      },
    })
    assert.equal(c.commandTimeoutMs, 300)
    assert.equal(c.reconnect.maxDelayMs, 2000)
    assert.equal(c.reconnect.initialDelayMs, 75, 'a nested option code leaves out still comes from env')
    assert.equal(c.keyPrefix, 'code')
    assert.equal(c.sources.commandTimeout, 'code')
    assert.equal(c.sources['reconnect.initialDelay'], 'env VALKIT_RECONNECT_INITIAL_DELAY')
  })

  void it('a topology in code ignores the topology in env (no conflict)', () => {
    const c = resolveConfig({
      host: 'code-host',
      env: { VALKIT_REDIS_URL: 'redis://:envpw@env-host/4', VALKIT_SENTINELS: 's' },
    })
    assert.deepEqual(c.topology, { kind: 'standalone', host: 'code-host', port: 6379 })
    assert.equal(c.password, undefined, 'credentials of an unused env URL are not used')
    assert.equal(c.database, 0)
  })

  void it('a URL in code with the password in the environment (VALKIT_PASSWORD_FILE)', () => {
    const c = resolveConfig({
      url: 'redis://app@cache:6379/1',
      env: { VALKIT_PASSWORD_FILE: file('from-secret-file\n') },
    })
    assert.equal(c.username, 'app')
    assert.equal(c.password, 'from-secret-file')
    assert.equal(c.sources.password, 'env VALKIT_PASSWORD_FILE')
  })

  void it('a password in code wins over the env URL password', () => {
    const c = resolveConfig({ password: 'code-pw', env: { VALKIT_REDIS_URL: 'redis://:env-pw@h' } })
    assert.equal(c.password, 'code-pw')
  })

  void it('offlineQueue: false in code wins over VALKIT_OFFLINE_QUEUE', () => {
    assert.equal(
      resolveConfig({ offlineQueue: false, env: { VALKIT_OFFLINE_QUEUE: 'true' } }).offlineQueue.enabled,
      false,
    )
    const c = resolveConfig({ env: { VALKIT_OFFLINE_QUEUE: 'on' } })
    assert.equal(c.offlineQueue.enabled, true)
    assert.equal(c.sources.offlineQueue, 'env VALKIT_OFFLINE_QUEUE')
  })

  void it('sentinel in code takes a missing password from VALKIT_SENTINEL_PASSWORD', () => {
    const c = resolveConfig({
      sentinel: { sentinels: ['s'], masterName: 'm' },
      env: { VALKIT_SENTINEL_PASSWORD: 'sp' },
    })
    assert.ok(c.topology.kind === 'sentinel' && c.topology.password === 'sp')
  })
})

void describe('*_FILE variables', () => {
  void it('read the value from a file, trimming exactly one trailing newline', () => {
    const c = resolveConfig({
      env: {
        VALKIT_REDIS_URL_FILE: file('redis://h:6390/2\n'),
        VALKIT_PASSWORD_FILE: file('pw with trailing space \n\n'),
        VALKIT_USERNAME_FILE: file('user\r\n'),
      },
    })
    assert.deepEqual(c.topology, { kind: 'standalone', host: 'h', port: 6390 })
    assert.equal(c.password, 'pw with trailing space \n')
    assert.equal(c.username, 'user')
  })

  void it('work for the Sentinel password and TLS material', () => {
    const key = '-----BEGIN PRIVATE KEY-----\nKKK\n-----END PRIVATE KEY-----\n'
    const cert = '-----BEGIN CERTIFICATE-----\nCCC\n-----END CERTIFICATE-----\n'
    const c = resolveConfig({
      env: {
        VALKIT_SENTINELS: 's',
        VALKIT_SENTINEL_MASTER: 'm',
        VALKIT_SENTINEL_PASSWORD_FILE: file('sentinel-pw\n'),
        VALKIT_TLS_CA_FILE: file(cert),
        VALKIT_TLS_CERT_FILE: file(cert),
        VALKIT_TLS_KEY_FILE: file(key),
      },
    })
    assert.ok(c.topology.kind === 'sentinel' && c.topology.password === 'sentinel-pw')
    assert.equal(c.tls?.key?.toString(), key.replace(/\n$/, ''))
    assert.equal(c.tls?.ca?.toString(), cert.replace(/\n$/, ''))
    assert.ok(c.secrets.includes(key.replace(/\n$/, '')))
  })

  void it('a missing file names the variable and the path', () => {
    const missing = join(dir, 'does-not-exist')
    const err = rejectsOption(
      () => resolveConfig({ env: { VALKIT_PASSWORD_FILE: missing } }),
      'env VALKIT_PASSWORD_FILE',
    )
    assert.ok(err.message.includes(missing), err.message)
    assert.match(err.message, /ENOENT/)
  })

  void it(
    'an unreadable file names the variable and the path',
    { skip: process.getuid?.() === 0 ? 'root reads any file' : false },
    () => {
      const path = file('secret')
      chmodSync(path, 0o000)
      const err = rejectsOption(
        () => resolveConfig({ env: { VALKIT_TLS_KEY_FILE: path } }),
        'env VALKIT_TLS_KEY_FILE',
      )
      assert.ok(err.message.includes(path))
    },
  )

  void it('a directory instead of a file is rejected', () => {
    rejectsOption(
      () => resolveConfig({ env: { VALKIT_REDIS_URL_FILE: dir } }),
      'env VALKIT_REDIS_URL_FILE',
      /EISDIR/,
    )
  })

  void it('setting both the variable and its _FILE variant is an error', () => {
    rejectsOption(
      () => resolveConfig({ env: { VALKIT_PASSWORD: 'a', VALKIT_PASSWORD_FILE: file('b') } }),
      'env VALKIT_PASSWORD_FILE',
      /both VALKIT_PASSWORD and VALKIT_PASSWORD_FILE/,
    )
  })

  void it('a bad value read from a file names the _FILE variable and hides the secret', () => {
    const err = rejectsOption(
      () => resolveConfig({ env: { VALKIT_REDIS_URL_FILE: file('redis://:hidden-pw@h/abc\n') } }),
      'env VALKIT_REDIS_URL_FILE',
    )
    assert.ok(!err.message.includes('hidden-pw'))
  })
})

void describe('docs/configuration.md', () => {
  void it('lists every environment variable, its _FILE variant, and every option', () => {
    const docs = readFileSync(new URL('../../docs/configuration.md', import.meta.url), 'utf8')
    for (const v of ENV_VARIABLES) {
      assert.ok(docs.includes(`\`${v.name}\``), `${v.name} is not documented`)
      if (v.file) assert.ok(docs.includes(`\`${v.name}_FILE\``), `${v.name}_FILE is not documented`)
    }
    for (const name of VALKIT_OPTION_NAMES)
      assert.ok(docs.includes(`| \`${name}`), `option ${name} has no row`)
  })

  void it('every variable in the table is read by resolveConfig (a bad value is rejected or used)', () => {
    // Each variable, set to a value no option accepts, must either fail naming that variable or
    // be one whose text is free-form; this catches table entries nobody reads.
    const freeForm = new Set([
      'VALKIT_USERNAME',
      'VALKIT_PASSWORD',
      'VALKIT_SENTINEL_USERNAME',
      'VALKIT_SENTINEL_PASSWORD',
      'VALKIT_TLS_SERVERNAME',
      'VALKIT_CLIENT_NAME',
      'VALKIT_KEY_PREFIX',
      'VALKIT_SENTINEL_MASTER',
    ])
    for (const v of ENV_VARIABLES) {
      if (freeForm.has(v.name)) continue
      const env: Record<string, string> = { [v.name]: '{bad value}' }
      if (v.name.startsWith('VALKIT_SENTINEL') && v.name !== 'VALKIT_SENTINELS')
        Object.assign(env, { VALKIT_SENTINELS: 's', VALKIT_SENTINEL_MASTER: 'm' })
      if (v.name.startsWith('VALKIT_CLUSTER') && v.name !== 'VALKIT_CLUSTER_NODES')
        env.VALKIT_CLUSTER_NODES = 'n'
      if (v.name.startsWith('VALKIT_TLS_') && v.name !== 'VALKIT_TLS_KEY') env.VALKIT_TLS = 'true'
      if (v.name === 'VALKIT_TLS_KEY')
        env.VALKIT_TLS_CERT = '-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----'
      if (v.name === 'VALKIT_TLS_CERT')
        env.VALKIT_TLS_KEY = '-----BEGIN PRIVATE KEY-----\nx\n-----END PRIVATE KEY-----'
      if (v.name.startsWith('VALKIT_DURABLE'))
        Object.assign(env, {
          VALKIT_DURABLE_WRITES_REPLICAS: '1',
          VALKIT_DURABLE_WRITES_TIMEOUT: '1s',
          [v.name]: '{bad value}',
        })
      if (v.name.startsWith('VALKIT_OFFLINE_QUEUE_')) env.VALKIT_OFFLINE_QUEUE = 'true'
      assert.throws(
        () => resolveConfig({ env }),
        (err: unknown) => isValkitError(err) && String(err.details?.path).startsWith(`env ${v.name}`),
        v.name,
      )
    }
  })
})
