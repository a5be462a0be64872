import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { Cluster, Redis } from 'ioredis'
import { resolveConfig, VALKIT_DEFAULTS, type ValkitOptions } from '../../src/core/config/index.js'
import { isValkitError } from '../../src/core/errors.js'
import { rejectsOption } from '../support/rejects-option.js'

/** Resolves with an empty environment so the machine's variables cannot leak in. */
const resolve = (options: ValkitOptions = {}) => resolveConfig({ env: {}, ...options })

void describe('resolveConfig defaults', () => {
  void it('with nothing configured anywhere runs on the memory backend with documented defaults', () => {
    const c = resolve()
    assert.deepEqual(c.topology, { kind: 'memory' })
    assert.equal(c.database, 0)
    assert.equal(c.clientName, 'valkit')
    assert.equal(c.tls, null)
    assert.equal(c.commandTimeoutMs, 1000)
    assert.equal(c.connectTimeoutMs, 2000)
    assert.deepEqual(c.offlineQueue, { enabled: false, maxSize: 1000, maxWaitMs: 1000 })
    assert.deepEqual(c.reconnect, { initialDelayMs: 50, maxDelayMs: 1000, jitter: 'full' })
    assert.deepEqual(c.retry, { attempts: 2, initialDelayMs: 20, maxDelayMs: 200 })
    assert.deepEqual(c.health, {
      intervalMs: 250,
      pingTimeoutMs: 500,
      failuresToDegrade: 2,
      latencyWarnMs: 50,
      memoryWarnRatio: 0.8,
      evictionsWarnPerMinute: 100,
      replicationLagWarnBytes: 1048576,
    })
    assert.equal(c.durableWrites, null)
    assert.equal(c.keyPrefix, 'valkit')
    assert.deepEqual(c.driver, { kind: 'node-redis' })
    assert.equal(c.logger, undefined)
    assert.equal(c.username, undefined)
    assert.equal(c.password, undefined)
    assert.deepEqual(c.secrets, [])
    assert.equal(c.sources.commandTimeout, 'default')
  })

  void it('is deep-frozen, and so are the exported defaults', () => {
    const c = resolve({ cluster: { nodes: ['a:7000'] } })
    assert.ok(Object.isFrozen(c) && Object.isFrozen(c.reconnect) && Object.isFrozen(c.topology))
    assert.throws(() => {
      ;(c as { commandTimeoutMs: number }).commandTimeoutMs = 5
    }, TypeError)
    assert.throws(() => {
      ;(c.topology as unknown as { nodes: unknown[] }).nodes.push({ host: 'x', port: 1 })
    }, TypeError)
    assert.ok(Object.isFrozen(VALKIT_DEFAULTS) && Object.isFrozen(VALKIT_DEFAULTS.health))
  })

  void it('reads process.env when no env option is given', () => {
    const before = process.env.VALKIT_KEY_PREFIX
    process.env.VALKIT_KEY_PREFIX = 'from-process-env'
    try {
      assert.equal(resolveConfig().keyPrefix, 'from-process-env')
    } finally {
      if (before === undefined) delete process.env.VALKIT_KEY_PREFIX
      else process.env.VALKIT_KEY_PREFIX = before
    }
  })
})

void describe('resolveConfig options', () => {
  void it('host and port give a standalone topology; either alone gets the default of the other', () => {
    assert.deepEqual(resolve({ host: 'cache.internal', port: 6380 }).topology, {
      kind: 'standalone',
      host: 'cache.internal',
      port: 6380,
    })
    assert.deepEqual(resolve({ port: 7000 }).topology, { kind: 'standalone', host: '127.0.0.1', port: 7000 })
    assert.deepEqual(resolve({ host: '::1' }).topology, { kind: 'standalone', host: '::1', port: 6379 })
  })

  void it('accepts username, password, database and clientName', () => {
    const c = resolve({
      host: 'h',
      username: 'app',
      password: 's3cret',
      database: 3,
      clientName: 'billing-api',
    })
    assert.equal(c.username, 'app')
    assert.equal(c.password, 's3cret')
    assert.equal(c.database, 3)
    assert.equal(c.clientName, 'billing-api')
    assert.ok(c.secrets.includes('s3cret'))
  })

  void it('turns durations into milliseconds everywhere', () => {
    const c = resolve({
      commandTimeout: '500ms',
      connectTimeout: '3s',
      reconnect: { initialDelay: 10, maxDelay: '0.5s', jitter: 'none' },
      retry: { attempts: 0, initialDelay: '5ms', maxDelay: '1m' },
      health: {
        interval: '1s',
        pingTimeout: '2s',
        failuresToDegrade: 3,
        latencyWarn: '20ms',
        memoryWarnRatio: 0.9,
        evictionsWarnPerMinute: 0,
        replicationLagWarnBytes: 4096,
      },
    })
    assert.equal(c.commandTimeoutMs, 500)
    assert.equal(c.connectTimeoutMs, 3000)
    assert.deepEqual(c.reconnect, { initialDelayMs: 10, maxDelayMs: 500, jitter: 'none' })
    assert.deepEqual(c.retry, { attempts: 0, initialDelayMs: 5, maxDelayMs: 60_000 })
    assert.deepEqual(c.health, {
      intervalMs: 1000,
      pingTimeoutMs: 2000,
      failuresToDegrade: 3,
      latencyWarnMs: 20,
      memoryWarnRatio: 0.9,
      evictionsWarnPerMinute: 0,
      replicationLagWarnBytes: 4096,
    })
  })

  void it('commandTimeout 0 means no deadline', () => {
    assert.equal(resolve({ commandTimeout: 0 }).commandTimeoutMs, 0)
  })

  void it('offlineQueue: true takes maxSize 1000 and maxWait = commandTimeout; an object overrides', () => {
    assert.deepEqual(resolve({ offlineQueue: true, commandTimeout: '750ms' }).offlineQueue, {
      enabled: true,
      maxSize: 1000,
      maxWaitMs: 750,
    })
    assert.deepEqual(resolve({ offlineQueue: { maxSize: 5, maxWait: '2s' } }).offlineQueue, {
      enabled: true,
      maxSize: 5,
      maxWaitMs: 2000,
    })
    assert.equal(resolve({ offlineQueue: false }).offlineQueue.enabled, false)
  })

  void it('durableWrites resolves replicas and timeout', () => {
    assert.deepEqual(resolve({ durableWrites: { replicas: 2, timeout: '100ms' } }).durableWrites, {
      replicas: 2,
      timeoutMs: 100,
    })
    assert.equal(resolve({ durableWrites: false }).durableWrites, null)
  })

  void it('keyPrefix accepts colons inside', () => {
    assert.equal(resolve({ keyPrefix: 'shop:v2' }).keyPrefix, 'shop:v2')
  })

  void it('driver: an ioredis client is kept as is and described from its own options', () => {
    const client = {
      sendCommand() {},
      options: { host: 'redis.svc', port: 6390, db: 4, password: 'io-secret' },
    }
    const c = resolve({ driver: { ioredis: client } })
    assert.equal(c.driver.kind, 'ioredis')
    assert.ok(c.driver.kind === 'ioredis' && c.driver.client === client)
    assert.ok(!Object.isFrozen(client), 'the user-owned client must not be frozen')
    assert.deepEqual(c.topology, { kind: 'standalone', host: 'redis.svc', port: 6390 })
    assert.equal(c.database, 4)
    assert.ok(c.secrets.includes('io-secret'))
    assert.ok(!c.describe().includes('io-secret'))
    rejectsOption(() => resolve({ driver: { ioredis: client }, url: 'redis://h' }), 'url', /ioredis/)
    rejectsOption(() => resolve({ driver: { ioredis: {} } }), 'driver.ioredis')
    rejectsOption(() => resolve({ driver: 'ioredis' as never }), 'driver')
  })

  void it('driver: real ioredis clients (never connected) are described, their passwords are secrets', () => {
    const standalone = new Redis({
      lazyConnect: true,
      host: 'cache',
      port: 6390,
      username: 'u',
      password: 'iopw',
      db: 3,
    })
    const sentinel = new Redis({
      lazyConnect: true,
      sentinels: [{ host: 's1', port: 26379 }],
      name: 'mm',
      sentinelPassword: 'sp',
    })
    const cluster = new Cluster([{ host: 'n1', port: 7000 }, 'n2:7001'], {
      lazyConnect: true,
      redisOptions: { password: 'cpw' },
    })
    try {
      const a = resolve({ driver: { ioredis: standalone } })
      assert.equal(a.describe(), 'standalone redis://u:***@cache:6390/3 tls=off driver=ioredis')
      assert.deepEqual(a.secrets, ['iopw'])
      const b = resolve({ driver: { ioredis: sentinel } })
      assert.ok(b.topology.kind === 'sentinel' && b.topology.masterName === 'mm')
      assert.deepEqual(b.secrets, ['sp'])
      const c = resolve({ driver: { ioredis: cluster } })
      assert.deepEqual(c.topology, {
        kind: 'cluster',
        nodes: [
          { host: 'n1', port: 7000 },
          { host: 'n2', port: 7001 },
        ],
        natMap: {},
        readFromReplicas: false,
      })
      assert.ok(!JSON.stringify(c).includes('cpw') && c.secrets.includes('cpw'))
    } finally {
      standalone.disconnect()
      sentinel.disconnect()
      cluster.disconnect()
    }
  })

  void it('logger: a custom logger is kept (not frozen), false is kept, a broken one is rejected', () => {
    const logger = { debug() {}, info() {}, warn() {}, error() {} }
    const c = resolve({ logger })
    assert.equal(c.logger, logger)
    assert.ok(!Object.isFrozen(logger))
    assert.equal(resolve({ logger: false }).logger, false)
    rejectsOption(() => resolve({ logger: { debug() {}, info() {}, warn() {} } as never }), 'logger.error')
  })

  void it('sentinel resolves sentinels (default port 26379), master, credentials and TLS', () => {
    const c = resolve({
      sentinel: {
        sentinels: ['s1', '[fd00::2]:26380', { host: 's3', port: 26381 }],
        masterName: 'main',
        username: 'sent',
        password: 'sp',
      },
      password: 'dp',
    })
    assert.deepEqual(c.topology, {
      kind: 'sentinel',
      sentinels: [
        { host: 's1', port: 26379 },
        { host: 'fd00::2', port: 26380 },
        { host: 's3', port: 26381 },
      ],
      masterName: 'main',
      username: 'sent',
      password: 'sp',
    })
    assert.deepEqual([...c.secrets].sort(), ['dp', 'sp'])
    const t = resolve({ sentinel: { sentinels: ['s1'], masterName: 'm', tls: true } }).topology
    assert.ok(t.kind === 'sentinel' && t.tls?.rejectUnauthorized === true)
  })

  void it('cluster resolves nodes, a NAT map keyed by normalized host:port, and readFromReplicas', () => {
    const c = resolve({
      cluster: {
        nodes: ['10.0.0.1:7000', { host: '10.0.0.2', port: 7001 }],
        natMap: {
          '10.0.0.1:7000': 'public.example:17000',
          '[fd00::1]:7001': { host: 'public.example', port: 17001 },
        },
        readFromReplicas: true,
      },
    })
    assert.deepEqual(c.topology, {
      kind: 'cluster',
      nodes: [
        { host: '10.0.0.1', port: 7000 },
        { host: '10.0.0.2', port: 7001 },
      ],
      natMap: {
        '10.0.0.1:7000': { host: 'public.example', port: 17000 },
        'fd00::1:7001': { host: 'public.example', port: 17001 },
      },
      readFromReplicas: true,
    })
    const plain = resolve({ cluster: { nodes: ['n1'] } }).topology
    assert.deepEqual(plain, {
      kind: 'cluster',
      nodes: [{ host: 'n1', port: 6379 }],
      natMap: {},
      readFromReplicas: false,
    })
  })
})

void describe('resolveConfig validation names the path', () => {
  const cases: [string, ValkitOptions, string][] = [
    [
      'unknown top-level name with a suggestion',
      { commandTimeoutMs: 5 } as ValkitOptions,
      'commandTimeoutMs',
    ],
    ['unknown nested name', { reconnect: { maxDelayMs: 5 } } as ValkitOptions, 'reconnect.maxDelayMs'],
    ['bad duration', { reconnect: { maxDelay: 'soon' } }, 'reconnect.maxDelay'],
    ['negative duration', { commandTimeout: -1 }, 'commandTimeout'],
    ['zero connectTimeout', { connectTimeout: 0 }, 'connectTimeout'],
    ['duration beyond timers', { commandTimeout: '1000h' }, 'commandTimeout'],
    [
      'maxDelay below initialDelay',
      { reconnect: { initialDelay: '2s', maxDelay: '1s' } },
      'reconnect.maxDelay',
    ],
    ['retry maxDelay below initialDelay', { retry: { initialDelay: 300 } }, 'retry.initialDelay'],
    ['jitter', { reconnect: { jitter: 'half' as never } }, 'reconnect.jitter'],
    ['retry attempts fractional', { retry: { attempts: 1.5 } }, 'retry.attempts'],
    ['port out of range', { port: 70000 }, 'port'],
    ['host with a space', { host: 'bad host' }, 'host'],
    ['database negative', { host: 'h', database: -1 }, 'database'],
    ['database on a cluster', { cluster: { nodes: ['n'] }, database: 2 }, 'database'],
    ['clientName with a space', { clientName: 'my app' }, 'clientName'],
    ['username with a space', { username: 'a b' }, 'username'],
    ['empty password', { password: '' }, 'password'],
    ['sentinel host', { sentinel: { sentinels: ['a:1', 'b c'], masterName: 'm' } }, 'sentinel.sentinels[1]'],
    ['sentinel port', { sentinel: { sentinels: ['a:1', 'b:x'], masterName: 'm' } }, 'sentinel.sentinels[1]'],
    ['sentinel empty list', { sentinel: { sentinels: [], masterName: 'm' } }, 'sentinel.sentinels'],
    ['sentinel master missing', { sentinel: { sentinels: ['a'] } as never }, 'sentinel.masterName'],
    [
      'cluster unknown key',
      { cluster: { nodes: ['a'], readFromReplica: true } as never },
      'cluster.readFromReplica',
    ],
    ['cluster node object port', { cluster: { nodes: [{ host: 'a', port: 0 }] } }, 'cluster.nodes[0].port'],
    ['IPv6 without brackets', { cluster: { nodes: ['::1:7000'] } }, 'cluster.nodes[0]'],
    ['natMap key', { cluster: { nodes: ['a'], natMap: { 'x y:1': 'b:2' } } }, 'cluster.natMap["x y:1"]'],
    ['url + cluster', { url: 'redis://h', cluster: { nodes: ['a'] } }, 'cluster'],
    [
      'sentinel + cluster',
      { sentinel: { sentinels: ['a'], masterName: 'm' }, cluster: { nodes: ['a'] } },
      'cluster',
    ],
    ['url + host', { url: 'redis://h', host: 'h' }, 'host'],
    ['offlineQueue maxSize 0', { offlineQueue: { maxSize: 0 } }, 'offlineQueue.maxSize'],
    ['offlineQueue wrong type', { offlineQueue: 'yes' as never }, 'offlineQueue'],
    ['durableWrites true', { durableWrites: true as never }, 'durableWrites'],
    ['durableWrites without timeout', { durableWrites: { replicas: 1 } as never }, 'durableWrites.timeout'],
    ['durableWrites replicas 0', { durableWrites: { replicas: 0, timeout: 10 } }, 'durableWrites.replicas'],
    ['memoryWarnRatio > 1', { health: { memoryWarnRatio: 1.5 } }, 'health.memoryWarnRatio'],
    ['failuresToDegrade 0', { health: { failuresToDegrade: 0 } }, 'health.failuresToDegrade'],
    ['keyPrefix with a space', { keyPrefix: 'my app' }, 'keyPrefix'],
    ['keyPrefix with braces', { keyPrefix: 'a{b}' }, 'keyPrefix'],
    ['keyPrefix trailing colon', { keyPrefix: 'app:' }, 'keyPrefix'],
    ['keyPrefix empty', { keyPrefix: '' }, 'keyPrefix'],
    ['tls wrong type', { tls: 'yes' as never }, 'tls'],
    ['tls unknown key', { tls: { rejectUnauthorised: false } as never }, 'tls.rejectUnauthorised'],
    ['env not an object', { env: 'x' as never }, 'env'],
  ]
  for (const [name, options, path] of cases) {
    void it(`${name} -> \`${path}\``, () => {
      rejectsOption(() => resolve(options), path, /Expected /)
    })
  }

  void it('suggests the right name for typos', () => {
    rejectsOption(
      () => resolve({ commandTimeoutMs: 5 } as ValkitOptions),
      'commandTimeoutMs',
      /did you mean `commandTimeout`/,
    )
    rejectsOption(() => resolve({ keyprefix: 'x' } as ValkitOptions), 'keyprefix', /did you mean `keyPrefix`/)
    rejectsOption(
      () => resolve({ reconnect: { maxDelayMs: 1 } } as ValkitOptions),
      'reconnect.maxDelayMs',
      /did you mean `reconnect.maxDelay`/,
    )
  })

  void it('rejects non-object options', () => {
    rejectsOption(() => resolveConfig('redis://h' as never), '(options)')
  })

  void it('never puts a password or a private key into an error', () => {
    const password = 'Pa55-word-that-must-stay-hidden'
    const key = '-----BEGIN PRIVATE KEY-----\nSECRETKEYMATERIALxyz\n-----END PRIVATE KEY-----\n'
    const attempts: ValkitOptions[] = [
      { host: 'h', password, commandTimeout: 'soon' },
      { url: `redis://u:${password}@h:6379/x` },
      { url: `redis://u:${password}@h:6379/0?password=${password}` },
      { url: `ftp://u:${password}@h` },
      { url: `redis://u:${password}@h:99999` },
      { url: `redis://u:${password}@h`, password: 'other' },
      { password: ` ${password}`.slice(1), username: 'bad user' },
      { sentinel: { sentinels: ['a'], masterName: 'bad name', password } },
      { tls: { key, cert: 'not pem' } },
      { tls: { key: `${password}` } },
      { password: 123456789 as never },
      { env: { VALKIT_PASSWORD: password, VALKIT_COMMAND_TIMEOUT: 'never' } },
      { env: { VALKIT_REDIS_URL: `redis://:${password}@h/notadb` } },
      { env: { VALKIT_REDIS_URL: `redis://:${password}@h`, VALKIT_PASSWORD: 'different' } },
      { env: { VALKIT_TLS_KEY: `${password}-not-pem` } },
      { url: `redis://u:${password}?x@h` },
      { url: `redis://u:${password}/x@h` },
      { url: `redis://u:${password}#x@h` },
      { url: `redis://${password}/x@h` },
      { url: `redis://u:9${password}@[::1` },
    ]
    for (const options of attempts) {
      let caught: unknown
      try {
        resolve(options)
      } catch (err) {
        caught = err
      }
      assert.ok(
        isValkitError(caught, 'VALKIT_INVALID_OPTION'),
        `should have failed: ${JSON.stringify(Object.keys(options))}`,
      )
      for (const text of [caught.message, JSON.stringify(caught), String(caught.stack)]) {
        assert.ok(!text.includes(password), `password leaked: ${text}`)
        assert.ok(!text.includes('123456789'), `numeric password leaked: ${text}`)
        assert.ok(!text.includes('SECRETKEYMATERIAL'), `key leaked: ${text}`)
      }
    }
  })
})
