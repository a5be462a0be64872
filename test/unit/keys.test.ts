import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { createKeySpace, crc16, escapeGlob, slotOf } from '../../src/core/keys/index.js'
import { isValkitError } from '../../src/core/errors.js'

const invalidArgument = (err: unknown) => isValkitError(err, 'VALKIT_INVALID_ARGUMENT')
const invalidOption = (err: unknown) => isValkitError(err, 'VALKIT_INVALID_OPTION')

void describe('createKeySpace', () => {
  const ks = createKeySpace()

  void it('builds {prefix}:v{version}:{capability}:{tag}:{rest}', () => {
    assert.equal(ks.key('ratelimit', 'user:42', 'bucket'), 'valkit:v1:ratelimit:{user:42}:bucket')
    assert.equal(ks.key('cache', 7), 'valkit:v1:cache:{7}')
    assert.equal(ks.key('queue', 'emails', 'job', 12, 'logs'), 'valkit:v1:queue:{emails}:job:12:logs')
    const custom = createKeySpace({ prefix: 'tenant-a:app', schemaVersion: 3 })
    assert.equal(custom.key('lock', 'orders'), 'tenant-a:app:v3:lock:{orders}')
  })

  void it('puts every key of one tag on one Cluster slot', () => {
    const a = ks.key('queue', 'emails', 'wait')
    const b = ks.key('queue', 'emails', 'active', '{x}')
    assert.equal(slotOf(a), slotOf(b))
    assert.equal(slotOf(a), slotOf('emails'))
  })

  void it('rejects empty or malformed capabilities and tags', () => {
    assert.throws(() => ks.key('', 'x'), invalidArgument)
    assert.throws(() => ks.key('rate:limit', 'x'), invalidArgument)
    assert.throws(() => ks.key('cache', ''), invalidArgument)
    assert.throws(() => ks.key('cache', 'a{b'), invalidArgument)
    assert.throws(() => ks.key('cache', 'a}b'), invalidArgument)
    assert.throws(() => ks.key('cache', Number.NaN), invalidArgument)
    assert.throws(() => ks.key('cache', 'x', null as unknown as string), invalidArgument)
    assert.throws(() => ks.pattern('', 'x'), invalidArgument)
  })

  void it('validates options with their path', () => {
    assert.throws(() => createKeySpace({ prefix: '' }), invalidOption)
    assert.throws(
      () => createKeySpace({ prefix: 'a{b}' }),
      (err) => invalidOption(err) && /keys\.prefix/.test(String(err)),
    )
    assert.throws(
      () => createKeySpace({ schemaVersion: 0 }),
      (err) => invalidOption(err) && /keys\.schemaVersion/.test(String(err)),
    )
  })

  void it('builds SCAN MATCH patterns with user parts escaped', () => {
    assert.equal(ks.pattern('ratelimit'), 'valkit:v1:ratelimit:*')
    assert.equal(ks.pattern('ratelimit', 'user:*'), 'valkit:v1:ratelimit:{user:\\*}*')
    assert.equal(ks.pattern('queue', 'q?', 'job[1]'), 'valkit:v1:queue:{q\\?}:job\\[1\\]*')
    assert.equal(createKeySpace({ prefix: 'a*b' }).patternAll(), 'a\\*b:v1:*')
    assert.equal(escapeGlob('a\\b'), 'a\\\\b')
  })

  void it('parses its own keys back and ignores foreign ones', () => {
    assert.deepEqual(ks.parse('valkit:v1:queue:{emails}:job:12'), {
      prefix: 'valkit',
      schemaVersion: 1,
      capability: 'queue',
      tag: 'emails',
      rest: ['job', '12'],
    })
    assert.equal(ks.parse('valkit:v1:cache:{k}')?.rest.length, 0)
    assert.equal(ks.parse('valkit:v2:cache:{k}'), undefined)
    assert.equal(ks.parse('other:v1:cache:{k}'), undefined)
    assert.equal(ks.parse('valkit:v1:cache:{k}x'), undefined)
  })
})

void describe('slotOf', () => {
  void it('matches the Redis Cluster specification vectors', () => {
    assert.equal(crc16(Buffer.from('123456789')), 0x31c3)
    assert.equal(slotOf('foo'), 12182)
    assert.equal(slotOf('bar'), 5061)
    assert.equal(slotOf('{user1000}.following'), slotOf('{user1000}.followers'))
    assert.equal(slotOf('{user1000}.following'), 3443)
  })

  void it('follows the hash tag rules (first {, first } after it, non-empty)', () => {
    // Values checked against CLUSTER KEYSLOT on redis-server 7.0.15.
    assert.equal(slotOf('{}foo'), 9500) // empty tag: the whole key is hashed
    assert.equal(slotOf('foo{}{bar}'), 8363)
    assert.equal(slotOf('foo{{bar}}zap'), 4015) // tag is "{bar"
    assert.equal(slotOf('foo{bar}{zap}'), slotOf('bar'))
    assert.equal(slotOf('héllo{ü}'), 9552) // UTF-8 bytes
    assert.equal(slotOf('valkit:v1:ratelimit:{user:42}:bucket'), 15880)
    assert.equal(slotOf(Buffer.from('foo')), 12182)
  })
})
