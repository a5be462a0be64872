import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { isValkitError } from '../../src/core/errors.js'
import { createJsonLogger, redactingLogger, silentLogger } from '../../src/core/telemetry/index.js'

function capture(level?: 'debug' | 'info' | 'warn' | 'error' | 'silent', env: Record<string, string> = {}) {
  const lines: string[] = []
  const logger = createJsonLogger({
    level,
    env,
    write: (l) => lines.push(l),
    now: () => 0,
    bindings: { svc: 'test' },
  })
  return { logger, lines, records: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>) }
}

void describe('JSON logger', () => {
  void it('writes one JSON object per line with time, level, msg, bindings and fields', () => {
    const { logger, lines, records } = capture('debug')
    logger.debug('hello', { n: 1, big: 10n, err: Object.assign(new Error('bad'), { code: 'E1' }) })
    assert.equal(lines.length, 1)
    assert.ok(lines[0]!.endsWith('}\n'))
    const [r] = records()
    assert.equal(r!.time, '1970-01-01T00:00:00.000Z')
    assert.equal(r!.level, 'debug')
    assert.equal(r!.msg, 'hello')
    assert.equal(r!.svc, 'test')
    assert.equal(r!.big, '10')
    assert.deepEqual(
      { ...(r!.err as object), stack: undefined },
      { name: 'Error', message: 'bad', code: 'E1', stack: undefined },
    )
  })

  void it('filters below the level, taken from VALKIT_LOG_LEVEL when not given', () => {
    const fromEnv = capture(undefined, { VALKIT_LOG_LEVEL: 'WARN' })
    fromEnv.logger.info('no')
    fromEnv.logger.warn('yes')
    fromEnv.logger.error('yes too')
    assert.deepEqual(
      fromEnv.records().map((r) => r.msg),
      ['yes', 'yes too'],
    )
    const byDefault = capture(undefined)
    byDefault.logger.debug('no')
    byDefault.logger.info('yes')
    assert.equal(byDefault.lines.length, 1)
    const silent = capture('silent')
    silent.logger.error('no')
    assert.equal(silent.lines.length, 0)
    assert.throws(
      () => capture(undefined, { VALKIT_LOG_LEVEL: 'loud' }),
      (e) => isValkitError(e, 'VALKIT_INVALID_OPTION'),
    )
  })

  void it('survives circular fields', () => {
    const { logger, records } = capture('info')
    const loop: Record<string, unknown> = { a: 1 }
    loop.self = loop
    logger.info('cycle', { loop })
    assert.deepEqual(records()[0]!.loop, { a: 1, self: '[Circular]' })
    silentLogger.error('nothing happens')
  })
})

void describe('redactingLogger', () => {
  const secrets = [
    's3cr3t-pa55',
    'tok_ABC123',
    '-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----',
  ]

  function setup(list: () => string[] = () => secrets) {
    const { logger, lines } = capture('debug')
    return { log: redactingLogger(logger, list), lines }
  }

  void it('removes every secret from the message and every string field, nested or in errors', () => {
    const { log, lines } = setup()
    log.error('auth failed with s3cr3t-pa55 (twice: s3cr3t-pa55)', {
      command: ['AUTH', 'app', 's3cr3t-pa55'],
      nested: { deeper: { header: 'Bearer tok_ABC123' } },
      err: new Error('WRONGPASS s3cr3t-pa55'),
      pem: secrets[2],
      count: 3,
    })
    const line = lines.join('')
    for (const secret of secrets)
      assert.equal(line.includes(JSON.stringify(secret).slice(1, -1)), false, 'secret absent')
    assert.equal(line.includes('s3cr3t'), false)
    assert.equal(line.includes('tok_ABC'), false)
    const r = JSON.parse(lines[0]!) as {
      msg: string
      command: string[]
      nested: { deeper: { header: string } }
      err: { message: string }
      pem: string
      count: number
    }
    assert.equal(r.msg, 'auth failed with *** (twice: ***)')
    assert.deepEqual(r.command, ['AUTH', 'app', '***'])
    assert.equal(r.nested.deeper.header, 'Bearer ***')
    assert.equal(r.err.message, 'WRONGPASS ***')
    assert.equal(r.pem, '***')
    assert.equal(r.count, 3)
  })

  void it('hides the password of user:password@ URLs even when it is not a known secret', () => {
    const { log, lines } = setup(() => [])
    log.warn('connecting to redis://app:unlisted-pw@redis-1:6379/0 and rediss://:other@host', {
      url: 'redis://default:p@ss@word@10.0.0.1:6380',
    })
    const r = JSON.parse(lines[0]!) as Record<string, string>
    assert.equal(r.msg, 'connecting to redis://app:***@redis-1:6379/0 and rediss://:***@host')
    assert.equal(r.url, 'redis://default:***@10.0.0.1:6380')
    assert.equal(lines[0]!.includes('unlisted-pw'), false)
    assert.equal(lines[0]!.includes('word'), false)
  })

  void it('redacts fields named like secrets, asks for the secrets on every call, ignores empty ones', () => {
    let current = ['old-secret']
    const { log, lines } = setup(() => [...current, ''])
    log.info('rotating old-secret', { password: 'whatever', apiKey: 'k', user: 'app' })
    current = ['new-secret']
    log.info('now new-secret and old-secret')
    const [first, second] = lines.map((l) => JSON.parse(l) as Record<string, string>)
    assert.equal(first!.msg, 'rotating ***')
    assert.equal(first!.password, '***')
    assert.equal(first!.apiKey, '***')
    assert.equal(first!.user, 'app')
    assert.equal(second!.msg, 'now *** and old-secret')
  })

  void it('does not modify the caller’s field objects', () => {
    const { log } = setup()
    const fields = { url: 'redis://u:s3cr3t-pa55@h' }
    log.info('x', fields)
    assert.equal(fields.url, 'redis://u:s3cr3t-pa55@h')
  })
})
