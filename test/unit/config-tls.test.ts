import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { resolveConfig, type ValkitOptions } from '../../src/core/config/index.js'
import { rejectsOption } from '../support/rejects-option.js'

const CA = '-----BEGIN CERTIFICATE-----\nCAAAA\n-----END CERTIFICATE-----\n'
const CERT = '-----BEGIN CERTIFICATE-----\nCLIENT\n-----END CERTIFICATE-----\n'
const KEY = '-----BEGIN EC PRIVATE KEY-----\nPRIVATEKEYMATERIAL\n-----END EC PRIVATE KEY-----\n'

const dir = mkdtempSync(join(tmpdir(), 'valkit-config-tls-'))
after(() => rmSync(dir, { recursive: true, force: true }))
let counter = 0
function file(content: string): string {
  const path = join(dir, `pem${counter++}`)
  writeFileSync(path, content)
  return path
}
const resolve = (options: ValkitOptions) => resolveConfig({ env: {}, ...options })

void describe('tls option', () => {
  void it('tls: true uses Node CAs and verifies the server', () => {
    assert.deepEqual(resolve({ host: 'h', tls: true }).tls, { rejectUnauthorized: true })
    assert.equal(resolve({ host: 'h', tls: false }).tls, null)
    assert.equal(resolve({ host: 'h' }).tls, null)
  })

  void it('mutual TLS with inline PEM strings and Buffers; the key is a secret', () => {
    const c = resolve({
      host: 'h',
      tls: { ca: CA, cert: Buffer.from(CERT), key: KEY, servername: 'cache.example' },
    })
    assert.equal(c.tls?.ca?.toString(), CA)
    assert.equal(c.tls?.cert?.toString(), CERT)
    assert.equal(c.tls?.key?.toString(), KEY)
    assert.equal(c.tls?.servername, 'cache.example')
    assert.equal(c.tls?.rejectUnauthorized, true)
    assert.deepEqual(c.secrets, [KEY])
  })

  void it('keeps its own copy of a Buffer the caller later changes', () => {
    const cert = Buffer.from(CERT)
    const c = resolve({ host: 'h', tls: { cert, key: KEY } })
    cert.fill(0)
    assert.equal(c.tls?.cert?.toString(), CERT)
  })

  void it('reads caFile, certFile and keyFile at startup', () => {
    const c = resolve({ host: 'h', tls: { caFile: file(CA), certFile: file(CERT), keyFile: file(KEY) } })
    assert.equal(c.tls?.ca?.toString(), CA)
    assert.equal(c.tls?.cert?.toString(), CERT)
    assert.equal(c.tls?.key?.toString(), KEY)
    assert.ok(c.secrets.includes(KEY))
  })

  void it('rejectUnauthorized: false is honoured and shows in describe()', () => {
    const c = resolve({ host: 'h', tls: { rejectUnauthorized: false } })
    assert.equal(c.tls?.rejectUnauthorized, false)
    assert.match(c.describe(), /NO-VERIFY/)
  })

  const bad: [string, ValkitOptions, string, RegExp][] = [
    ['a missing file', { tls: { caFile: join(dir, 'nope.pem') } }, 'tls.caFile', /nope\.pem.*ENOENT/],
    [
      'a file without PEM',
      { tls: { certFile: file('hello'), key: KEY } },
      'tls.certFile',
      /holds no PEM block/,
    ],
    ['a path given as ca', { tls: { ca: './ca.pem' } }, 'tls.ca', /looks like a file path/],
    ['inline and file both', { tls: { ca: CA, caFile: file(CA) } }, 'tls.caFile', /only one/],
    ['a cert without a key', { tls: { cert: CERT } }, 'tls.key', /mutual TLS needs both/],
    ['a key without a cert', { tls: { key: KEY } }, 'tls.cert', /mutual TLS needs both/],
    ['a key that is not PEM', { tls: { cert: CERT, key: 'PRIVATEKEYMATERIAL' } }, 'tls.key', /no PEM/],
    ['a key of the wrong type', { tls: { cert: CERT, key: 42 as never } }, 'tls.key', /Expected/],
    ['an empty servername', { tls: { servername: '' } }, 'tls.servername', /host name/],
    [
      'rejectUnauthorized as a string',
      { tls: { rejectUnauthorized: 'no' as never } },
      'tls.rejectUnauthorized',
      /true or false/,
    ],
    [
      'sentinel tls unknown key',
      { sentinel: { sentinels: ['s'], masterName: 'm', tls: { cafile: 'x' } as never } },
      'sentinel.tls.cafile',
      /did you mean `sentinel.tls.caFile`/,
    ],
  ]
  for (const [name, options, path, message] of bad) {
    void it(`${name} -> \`${path}\``, () => {
      rejectsOption(
        () => resolve(options.sentinel === undefined ? { host: 'h', ...options } : options),
        path,
        message,
      )
    })
  }
})

void describe('TLS from the environment', () => {
  void it('VALKIT_TLS_* material turns TLS on', () => {
    const c = resolveConfig({
      env: {
        VALKIT_HOST: 'h',
        VALKIT_TLS_CA: CA,
        VALKIT_TLS_CERT: CERT,
        VALKIT_TLS_KEY: KEY,
        VALKIT_TLS_SERVERNAME: 'cache.example',
        VALKIT_TLS_REJECT_UNAUTHORIZED: 'false',
      },
    })
    assert.deepEqual(c.tls, {
      ca: Buffer.from(CA),
      cert: Buffer.from(CERT),
      key: Buffer.from(KEY),
      servername: 'cache.example',
      rejectUnauthorized: false,
    })
    assert.equal(c.sources.tls, 'env VALKIT_TLS_CA')
  })

  void it('VALKIT_TLS=true alone, and VALKIT_TLS=false next to material', () => {
    assert.deepEqual(resolveConfig({ env: { VALKIT_HOST: 'h', VALKIT_TLS: 'true' } }).tls, {
      rejectUnauthorized: true,
    })
    assert.equal(
      resolveConfig({ env: { VALKIT_HOST: 'h', VALKIT_TLS: 'false', VALKIT_TLS_CA: CA } }).tls,
      null,
    )
  })

  void it('code wins: tls: false over VALKIT_TLS=true, and tls object fields over VALKIT_TLS_*', () => {
    assert.equal(resolveConfig({ host: 'h', tls: false, env: { VALKIT_TLS: 'true' } }).tls, null)
    const c = resolveConfig({
      host: 'h',
      tls: { servername: 'code' },
      env: { VALKIT_TLS_SERVERNAME: 'env', VALKIT_TLS_CA: CA },
    })
    assert.equal(c.tls?.servername, 'code')
    assert.equal(c.tls?.ca?.toString(), CA, 'fields the code leaves out come from the environment')
  })

  void it('tls: false in code wins over an env rediss:// URL; VALKIT_TLS=false next to it is a conflict', () => {
    assert.equal(resolveConfig({ tls: false, env: { VALKIT_REDIS_URL: 'rediss://h' } }).tls, null)
    rejectsOption(
      () => resolveConfig({ env: { VALKIT_REDIS_URL: 'rediss://h', VALKIT_TLS: 'false' } }),
      'env VALKIT_TLS',
      /rediss/,
    )
  })

  void it('a bad VALKIT_TLS_KEY names the variable and hides the value', () => {
    rejectsOption(
      () => resolveConfig({ env: { VALKIT_TLS_CERT: CERT, VALKIT_TLS_KEY: 'PRIVATEKEYMATERIAL' } }),
      'env VALKIT_TLS_KEY',
      /no PEM/,
    )
    rejectsOption(
      () => resolveConfig({ env: { VALKIT_TLS_KEY_FILE: join(dir, 'gone') } }),
      'env VALKIT_TLS_KEY_FILE',
      /gone.*ENOENT/,
    )
  })
})
