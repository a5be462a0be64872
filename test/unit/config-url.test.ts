import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import {
  parseConnectionUrl,
  parseDuration,
  resolveConfig,
  type ValkitOptions,
} from '../../src/core/config/index.js'
import { rejectsOption } from '../support/rejects-option.js'

const resolve = (options: ValkitOptions) => resolveConfig({ env: {}, ...options })

void describe('connection URLs', () => {
  void it('redis:// with user, password, host, port and database', () => {
    const c = resolve({ url: 'redis://app:s3cret@cache.internal:6380/4' })
    assert.deepEqual(c.topology, { kind: 'standalone', host: 'cache.internal', port: 6380 })
    assert.equal(c.username, 'app')
    assert.equal(c.password, 's3cret')
    assert.equal(c.database, 4)
    assert.equal(c.tls, null)
  })

  void it('defaults: port 6379, database 0, no user', () => {
    const c = resolve({ url: 'redis://localhost' })
    assert.deepEqual(c.topology, { kind: 'standalone', host: 'localhost', port: 6379 })
    assert.equal(c.database, 0)
    assert.equal(c.username, undefined)
    assert.equal(resolve({ url: 'redis://localhost/' }).database, 0)
  })

  void it('IPv6 hosts in brackets', () => {
    assert.deepEqual(resolve({ url: 'redis://[::1]:7000' }).topology, {
      kind: 'standalone',
      host: '::1',
      port: 7000,
    })
    assert.deepEqual(resolve({ url: 'redis://[fd00::1]' }).topology, {
      kind: 'standalone',
      host: 'fd00::1',
      port: 6379,
    })
  })

  void it('the password is URL-decoded (and both forms are secrets)', () => {
    const c = resolve({ url: 'redis://:p%40ss%3Aw%2Frd%25@h' })
    assert.equal(c.password, 'p@ss:w/rd%')
    assert.equal(c.username, undefined, 'an empty user name means the default user')
    assert.ok(c.secrets.includes('p@ss:w/rd%'))
    assert.ok(c.secrets.includes('p%40ss%3Aw%2Frd%25'))
  })

  void it('rediss:// and valkeys:// turn TLS on; valkey:// does not', () => {
    assert.deepEqual(resolve({ url: 'rediss://h' }).tls, { rejectUnauthorized: true })
    assert.deepEqual(resolve({ url: 'valkeys://h:6380/1' }).tls, { rejectUnauthorized: true })
    const valkey = resolve({ url: 'valkey://u:p@h:6381/2' })
    assert.equal(valkey.tls, null)
    assert.deepEqual(valkey.topology, { kind: 'standalone', host: 'h', port: 6381 })
    assert.equal(valkey.database, 2)
  })

  void it('rediss:// with tls: false in code is a conflict; tls options refine rediss://', () => {
    rejectsOption(() => resolve({ url: 'rediss://h', tls: false }), 'tls', /rediss/)
    assert.deepEqual(resolve({ url: 'rediss://h', tls: { servername: 'cache.example' } }).tls, {
      servername: 'cache.example',
      rejectUnauthorized: true,
    })
    assert.deepEqual(resolve({ url: 'redis://h', tls: true }).tls, { rejectUnauthorized: true })
  })

  void it('memory:// means no server', () => {
    assert.deepEqual(resolve({ url: 'memory://' }).topology, { kind: 'memory' })
    rejectsOption(() => resolve({ url: 'memory://somewhere' }), 'url', /memory:\/\//)
  })

  void it('unix:// sockets, with an optional database parameter', () => {
    const c = resolve({ url: 'unix:///var/run/redis.sock?database=3' })
    assert.ok(c.topology.kind === 'standalone')
    assert.equal(c.topology.socketPath, '/var/run/redis.sock')
    assert.equal(c.database, 3)
    rejectsOption(() => resolve({ url: 'unix://' }), 'url')
  })

  void it('query parameters clientName, commandTimeout and connectTimeout', () => {
    const c = resolve({ url: 'redis://h?clientName=api&commandTimeout=250ms&connectTimeout=4s' })
    assert.equal(c.clientName, 'api')
    assert.equal(c.commandTimeoutMs, 250)
    assert.equal(c.connectTimeoutMs, 4000)
    assert.equal(
      resolve({ url: 'redis://h?commandTimeout=250ms', commandTimeout: 100 }).commandTimeoutMs,
      100,
      'the option wins',
    )
    rejectsOption(
      () => resolve({ url: 'redis://h?timeout=5' }),
      'url',
      /did you mean `commandTimeout` or `connectTimeout`/,
    )
    rejectsOption(() => resolve({ url: 'redis://h?clientname=x' }), 'url', /did you mean `clientName`/)
    rejectsOption(() => resolve({ url: 'redis://h?commandTimeout=soon' }), 'url (?commandTimeout=)')
  })

  void it('an unknown scheme lists the valid ones', () => {
    rejectsOption(
      () => resolve({ url: 'http://h:6379' }),
      'url',
      /`http:\/\/` is not supported.*redis:\/\/, rediss:\/\/, valkey:\/\/, valkeys:\/\/, unix:\/\/, memory:\/\//,
    )
    rejectsOption(() => resolve({ url: 'localhost:6379' }), 'url', /not supported/)
    rejectsOption(() => resolve({ url: 'cache.internal' }), 'url', /no scheme/)
  })

  const bad: [string, RegExp][] = [
    ['redis://h/abc', /database/],
    ['redis://h:0', /port/],
    ['redis://h:99999', /./],
    ['redis://', /no host/],
    ['redis://h#frag', /fragment/],
    ['redis://:%E0%A4%A@h', /percent-encoding/],
  ]
  for (const [url, message] of bad) {
    void it(`rejects ${url}`, () => {
      rejectsOption(() => resolve({ url }), 'url', message)
    })
  }

  void it('a URL password that differs from the password option is a conflict', () => {
    rejectsOption(
      () => resolve({ url: 'redis://:a@h', password: 'b' }),
      'password',
      /differs from the password in `url`/,
    )
    assert.equal(
      resolve({ url: 'redis://:a@h', password: 'a' }).password,
      'a',
      'the same value twice is fine',
    )
    rejectsOption(() => resolve({ url: 'redis://h/1', database: 2 }), 'database')
  })

  void it('parseConnectionUrl reports the scheme', () => {
    assert.equal(parseConnectionUrl('valkeys://h', 'x').scheme, 'valkeys')
  })
})

void describe('parseDuration', () => {
  void it('understands numbers and ms/s/m/h strings', () => {
    assert.equal(parseDuration(250, 'p'), 250)
    assert.equal(parseDuration('250', 'p'), 250)
    assert.equal(parseDuration('500ms', 'p'), 500)
    assert.equal(parseDuration('2s', 'p'), 2000)
    assert.equal(parseDuration('1.5s', 'p'), 1500)
    assert.equal(parseDuration('1m', 'p'), 60_000)
    assert.equal(parseDuration('1h', 'p'), 3_600_000)
    assert.equal(parseDuration(' 3 s ', 'p'), 3000)
  })

  for (const value of ['', '1d', '-1s', 'fast', NaN, Infinity, -5, null, true, {}]) {
    void it(`rejects ${typeof value === 'number' ? String(value) : JSON.stringify(value)} naming the path`, () => {
      rejectsOption(
        () => parseDuration(value, 'health.interval'),
        'health.interval',
        /'500ms', '2s', '1m' or '1h'/,
      )
    })
  }
})
