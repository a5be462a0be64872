import assert from 'node:assert/strict'
import { inspect } from 'node:util'
import { describe, it } from 'node:test'
import { redactSecrets, redactUrl, resolveConfig, type ValkitOptions } from '../../src/core/config/index.js'

const resolve = (options: ValkitOptions) => resolveConfig({ env: {}, ...options })
const KEY = '-----BEGIN PRIVATE KEY-----\nTOPSECRETKEYBYTES\n-----END PRIVATE KEY-----\n'
const CERT = '-----BEGIN CERTIFICATE-----\nPUBLICCERT\n-----END CERTIFICATE-----\n'

/** Every printable form of a config. */
const printed = (c: ReturnType<typeof resolveConfig>) => [
  c.describe(),
  JSON.stringify(c),
  inspect(c, { depth: 10 }),
  String(c.describe()),
]

void describe('describe()', () => {
  const cases: [ValkitOptions, string][] = [
    [{}, 'memory (no server: in-process backend)'],
    [{ url: 'redis://127.0.0.1:6379' }, 'standalone redis://127.0.0.1:6379/0 tls=off'],
    [{ host: '127.0.0.1', password: 'pw' }, 'standalone redis://default:***@127.0.0.1:6379/0 tls=off'],
    [{ url: 'rediss://app:pw@[::1]:6380/2' }, 'standalone rediss://app:***@[::1]:6380/2 tls=on'],
    [{ url: 'redis://app@h' }, 'standalone redis://app@h:6379/0 tls=off'],
    [{ host: 'h', tls: { rejectUnauthorized: false } }, 'standalone rediss://h:6379/0 tls=on(NO-VERIFY)'],
    [{ host: 'h', tls: { cert: CERT, key: KEY } }, 'standalone rediss://h:6379/0 tls=on+client-cert'],
    [
      { sentinel: { sentinels: ['s1', 's2:26380'], masterName: 'mm', password: 'sp' }, password: 'dp' },
      'sentinel master=mm sentinels=s1:26379,s2:26380 sentinel-user=default:*** sentinel-tls=off user=default:*** db=0 tls=off',
    ],
    [
      { cluster: { nodes: ['n1:7000'], natMap: { 'a:1': 'b:2' } }, username: 'u', password: 'p' },
      'cluster nodes=n1:7000 user=u:*** natMap=1 readFromReplicas=off tls=off',
    ],
  ]
  for (const [options, expected] of cases) {
    void it(expected, () => {
      assert.equal(resolve(options).describe(), expected)
    })
  }
})

void describe('redaction', () => {
  void it('passwords and private keys appear in no printable form of the config', () => {
    const c = resolve({
      url: 'rediss://app:Very%2FSecret@h:6380/1',
      tls: { ca: CERT, cert: CERT, key: KEY },
      env: { VALKIT_SENTINEL_PASSWORD: 'unused' },
    })
    assert.equal(c.password, 'Very/Secret', 'the real value stays available to the connection layer')
    for (const text of printed(c)) {
      assert.ok(!text.includes('Very/Secret') && !text.includes('Very%2FSecret'), text)
      assert.ok(!text.includes('TOPSECRETKEYBYTES'), text)
    }
    const json = c.toJSON()
    assert.equal(json.password, '***')
    assert.deepEqual(json.tls, {
      ca: `<PEM, ${CERT.length} bytes>`,
      cert: `<PEM, ${CERT.length} bytes>`,
      key: '***',
      rejectUnauthorized: true,
    })
    assert.equal(json.username, 'app')
    assert.equal(json.commandTimeoutMs, 1000)
  })

  void it('Sentinel passwords are redacted too', () => {
    const c = resolve({ sentinel: { sentinels: ['s'], masterName: 'm', password: 'sentinel-secret' } })
    for (const text of printed(c)) assert.ok(!text.includes('sentinel-secret'), text)
    assert.equal((c.toJSON().topology as { password: string }).password, '***')
  })

  void it('secrets lists every password and the key PEM, once each', () => {
    const c = resolve({
      sentinel: { sentinels: ['s'], masterName: 'm', password: 'same' },
      password: 'same',
      tls: { cert: CERT, key: KEY },
    })
    assert.deepEqual([...c.secrets].sort(), [KEY, 'same'].sort())
    assert.ok(Object.isFrozen(c.secrets))
  })

  void it('redactSecrets hides every occurrence, longest secret first', () => {
    assert.equal(
      redactSecrets('AUTH abc then abcdef and abc', ['abc', 'abcdef']),
      'AUTH *** then *** and ***',
    )
    assert.equal(redactSecrets('nothing here', ['', 'zzz']), 'nothing here')
    const c = resolve({ url: 'redis://:p%40ss@h' })
    assert.equal(redactSecrets('failed: redis://:p%40ss@h (p@ss)', c.secrets), 'failed: redis://:***@h (***)')
  })

  void it('redactUrl hides the password, keeps the user, and copes with malformed URLs', () => {
    assert.equal(redactUrl('rediss://app:s3cret@cache:6380/2'), 'rediss://app:***@cache:6380/2')
    assert.equal(redactUrl('redis://:s3cret@[::1]:6379'), 'redis://:***@[::1]:6379')
    assert.equal(redactUrl('redis://app@h'), 'redis://app@h')
    assert.equal(redactUrl('redis://h:6379'), 'redis://h:6379')
    assert.equal(redactUrl('redis://h?password=s3cret&clientName=x'), 'redis://h?password=***&clientName=x')
    assert.equal(
      redactUrl('redis://u:s3:cr@et@h:99999999'),
      'redis://u:***@h:99999999',
      'an unencoded @ in the password',
    )
    assert.ok(!redactUrl('redis://u:pa ss@h h').includes('pa ss'))
  })
})
