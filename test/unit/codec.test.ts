import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { createCodec, readEnvelopeHeader, type CodecOptions } from '../../src/core/codec/index.js'
import { isValkitError } from '../../src/core/errors.js'

const KEY_A = randomBytes(32)
const KEY_B = randomBytes(32)
const corrupt = (err: unknown) => isValkitError(err, 'VALKIT_CORRUPT_VALUE')

const SAMPLES: Record<string, unknown> = {
  number: 42,
  negative: -1.5,
  string: 'hello',
  unicode: 'héllo wörld — 日本語 🚀 \u0000',
  null: null,
  boolean: false,
  array: [1, 'two', { three: 3 }],
  nested: { user: { id: 42, roles: ['admin', 'ops'], meta: { 'key with spaces': true } } },
  emptyObject: {},
  large: { items: Array.from({ length: 2000 }, (_, i) => ({ id: i, name: `item ${i}`, tags: ['a', 'b'] })) },
  largeRandom: randomBytes(50_000).toString('base64'),
}

const COMBINATIONS: { label: string; options: CodecOptions }[] = []
for (const serializer of ['json', 'msgpack'] as const) {
  for (const compression of ['none', 'deflate', 'brotli'] as const) {
    for (const encrypted of [false, true]) {
      COMBINATIONS.push({
        label: `${serializer}, compression ${compression}, ${encrypted ? 'encrypted' : 'plain'}`,
        options: {
          serializer,
          compression,
          encryption: encrypted ? { keys: [{ id: 1, key: KEY_A }], primary: 1 } : undefined,
        },
      })
    }
  }
}

void describe('codec round trips', () => {
  for (const { label, options } of COMBINATIONS) {
    void it(label, () => {
      const codec = createCodec(options)
      for (const [name, value] of Object.entries(SAMPLES)) {
        assert.deepEqual(codec.decode(codec.encode(value)), value, name)
      }
      const bytes = Buffer.from([0, 1, 2, 255, 254])
      const decodedBytes = codec.decode<Buffer>(codec.encode(bytes))
      assert.ok(Buffer.isBuffer(decodedBytes))
      assert.deepEqual([...decodedBytes], [...bytes])
      const bigBytes = Buffer.alloc(100_000, 7)
      assert.ok(codec.decode<Buffer>(codec.encode(bigBytes)).equals(bigBytes))
      const stats = codec.stats()
      assert.equal(stats.encoded, Object.keys(SAMPLES).length + 2)
      assert.equal(stats.decoded, stats.encoded)
      assert.equal(stats.corrupt, 0)
      if (options.compression === 'none') assert.equal(stats.compressed, 0)
      else assert.ok(stats.compressed >= 2, 'large compressible values are compressed')
    })
  }

  void it('keeps nested Buffers and Dates with msgpack; undefined becomes null', () => {
    const codec = createCodec({ serializer: 'msgpack' })
    const value = { body: Buffer.from('raw'), at: new Date(1_700_000_000_000), missing: undefined }
    assert.deepEqual(codec.decode(codec.encode(value)), { ...value, missing: null })
  })

  void it('compresses only above the threshold and only when smaller', () => {
    const codec = createCodec({ compressThresholdBytes: 100 })
    const small = codec.encode('x'.repeat(50))
    assert.equal(readEnvelopeHeader(small).compressed, false)
    const large = codec.encode('x'.repeat(5000))
    assert.equal(readEnvelopeHeader(large).compressed, 'deflate')
    assert.ok(large.length < 200)
    const incompressible = codec.encode(randomBytes(5000))
    assert.equal(readEnvelopeHeader(incompressible).compressed, false)
    assert.equal(codec.stats().compressed, 1)
  })

  void it('reads values written with another serializer or compression', () => {
    const writer = createCodec({ serializer: 'msgpack', compression: 'brotli', compressThresholdBytes: 0 })
    const reader = createCodec({ serializer: 'json', compression: 'none' })
    const value = { text: 'y'.repeat(3000), n: 1 }
    assert.deepEqual(reader.decode(writer.encode(value)), value)
  })

  void it('rejects values the serializer cannot represent with VALKIT_INVALID_ARGUMENT', () => {
    const codec = createCodec()
    const cycle: Record<string, unknown> = {}
    cycle.self = cycle
    for (const value of [undefined, 10n, cycle, () => 1]) {
      assert.throws(
        () => codec.encode(value),
        (err) => isValkitError(err, 'VALKIT_INVALID_ARGUMENT'),
      )
    }
    assert.throws(
      () => codec.decode('text' as unknown as Buffer),
      (err) => isValkitError(err, 'VALKIT_INVALID_ARGUMENT'),
    )
  })
})

void describe('codec key rotation', () => {
  const oldCodec = createCodec({ encryption: { keys: [{ id: 'k1', key: KEY_A }], primary: 'k1' } })
  const rotated = createCodec({
    encryption: {
      keys: [
        { id: 'k1', key: KEY_A.toString('base64') },
        { id: 'k2', key: KEY_B },
      ],
      primary: 'k2',
    },
  })

  void it('encrypts with the primary and still decodes values of older keys', () => {
    const old = oldCodec.encode({ session: 'abc' })
    assert.equal(readEnvelopeHeader(old).keyId, 'k1')
    assert.deepEqual(rotated.decode(old), { session: 'abc' })
    const fresh = rotated.encode({ session: 'def' })
    assert.equal(readEnvelopeHeader(fresh).keyId, 'k2')
  })

  void it('re-encrypts old values with the primary without changing them', () => {
    const old = oldCodec.encode({ big: 'z'.repeat(4000) })
    assert.equal(rotated.needsReencrypt(old), true)
    const again = rotated.reencrypt(old)
    assert.equal(readEnvelopeHeader(again).keyId, 'k2')
    assert.equal(readEnvelopeHeader(again).compressed, 'deflate')
    assert.equal(rotated.needsReencrypt(again), false)
    assert.equal(rotated.reencrypt(again), again)
    assert.deepEqual(rotated.decode(again), { big: 'z'.repeat(4000) })
    // Plaintext values can be migrated into encryption the same way.
    const plain = createCodec().encode([1, 2])
    assert.deepEqual(rotated.decode(rotated.reencrypt(plain)), [1, 2])
  })

  void it('treats values of a removed key as corrupt (reason unknown-key)', () => {
    const onlyNew = createCodec({ encryption: { keys: [{ id: 'k2', key: KEY_B }], primary: 'k2' } })
    const old = oldCodec.encode('secret')
    assert.throws(
      () => onlyNew.decode(old),
      (err) =>
        corrupt(err) &&
        isValkitError(err) &&
        err.details?.reason === 'unknown-key' &&
        err.details.keyId === 'k1',
    )
    assert.equal(onlyNew.stats().corrupt, 1)
  })

  void it('refuses unencrypted values when encryption is on, and encrypted ones without a keyring', () => {
    assert.throws(() => rotated.decode(createCodec().encode('planted')), corrupt)
    assert.throws(() => createCodec().decode(rotated.encode('x')), corrupt)
  })

  void it('detects the same key id bound to different key material', () => {
    const impostor = createCodec({ encryption: { keys: [{ id: 'k1', key: KEY_B }], primary: 'k1' } })
    assert.throws(() => impostor.decode(oldCodec.encode('x')), corrupt)
  })
})

void describe('codec associated data (context)', () => {
  const codec = createCodec({ encryption: { keys: [{ id: 'k1', key: KEY_A }], primary: 'k1' } })
  const authenticationFailure = (err: unknown) =>
    isValkitError(err, 'VALKIT_CORRUPT_VALUE') && err.details?.reason === 'authentication'

  void it('decodes only with the context it was sealed with', () => {
    const bytes = codec.encode({ role: 'admin' }, { context: 'record:alice' })
    assert.deepEqual(codec.decode(bytes, { context: 'record:alice' }), { role: 'admin' })
    assert.deepEqual(codec.decode(bytes, { context: Buffer.from('record:alice') }), { role: 'admin' })
    // The same bytes presented as another record's, or with no context at all, are refused.
    assert.throws(() => codec.decode(bytes, { context: 'record:mallory' }), authenticationFailure)
    assert.throws(() => codec.decode(bytes), authenticationFailure)
    // And a value sealed without a context does not decode under one.
    assert.throws(() => codec.decode(codec.encode(1), { context: 'record:alice' }), authenticationFailure)
    // The context is not stored: the bytes do not contain it.
    assert.equal(bytes.includes(Buffer.from('record:alice')), false)
  })

  void it('keeps the context through key rotation', () => {
    const rotated = createCodec({
      encryption: {
        keys: [
          { id: 'k1', key: KEY_A },
          { id: 'k2', key: KEY_B },
        ],
        primary: 'k2',
      },
    })
    const old = codec.encode('v', { context: 'doc:1' })
    assert.throws(() => rotated.reencrypt(old, { context: 'doc:2' }), authenticationFailure)
    const again = rotated.reencrypt(old, { context: 'doc:1' })
    assert.equal(readEnvelopeHeader(again).keyId, 'k2')
    assert.equal(rotated.decode(again, { context: 'doc:1' }), 'v')
    assert.throws(() => rotated.decode(again, { context: 'doc:2' }), authenticationFailure)
  })

  void it('refuses a context that is neither a string nor bytes with VALKIT_INVALID_ARGUMENT', () => {
    const bad = { context: 42 } as unknown as { context: string }
    const invalid = (err: unknown) => isValkitError(err, 'VALKIT_INVALID_ARGUMENT')
    const corrupt = codec.stats().corrupt
    assert.throws(() => codec.encode('v', bad), invalid)
    assert.throws(() => codec.decode(codec.encode('v'), bad), invalid)
    assert.throws(() => codec.reencrypt(codec.encode('v'), bad), invalid)
    assert.equal(codec.stats().corrupt, corrupt, 'a bad argument is not counted as a corrupt value')
  })

  void it('is ignored without encryption (nothing authenticates a plain value)', () => {
    const plain = createCodec()
    assert.equal(plain.decode(plain.encode('x', { context: 'a' }), { context: 'b' }), 'x')
  })
})

void describe('codec tamper and corruption detection', () => {
  const encrypted = createCodec({
    serializer: 'msgpack',
    encryption: { keys: [{ id: 7, key: KEY_A }], primary: 7 },
  })

  void it('detects every single-byte flip of an encrypted value', () => {
    for (const value of [{ user: 42, admin: false }, 'w'.repeat(3000)]) {
      const bytes = encrypted.encode(value)
      for (let i = 0; i < bytes.length; i++) {
        for (const mask of [0x01, 0x80, 0xff]) {
          const copy = Buffer.from(bytes)
          copy[i] = copy[i]! ^ mask
          assert.throws(() => encrypted.decode(copy), corrupt, `byte ${i} ^ ${mask}`)
        }
      }
    }
  })

  void it('detects truncation and extension', () => {
    const bytes = encrypted.encode({ a: 1 })
    for (let length = 0; length < bytes.length; length++) {
      assert.throws(() => encrypted.decode(bytes.subarray(0, length)), corrupt, `length ${length}`)
    }
    assert.throws(() => encrypted.decode(Buffer.concat([bytes, Buffer.from([0])])), corrupt)
  })

  void it('throws only VALKIT_CORRUPT_VALUE on garbage and counts it', () => {
    const codecs = [
      createCodec(),
      createCodec({ serializer: 'msgpack' }),
      encrypted,
      createCodec({ compression: 'brotli' }),
    ]
    const samples = [
      Buffer.alloc(0),
      Buffer.from('{"json":true}'),
      Buffer.from([0xa1]),
      Buffer.from([0xa1, 0xe0, 1]),
    ]
    for (let i = 0; i < 300; i++) samples.push(randomBytes(1 + (i % 64)))
    for (let i = 0; i < 300; i++) {
      const random = randomBytes(1 + (i % 64))
      random[0] = 0xa1
      random[1] = i % 32 // plausible flags
      samples.push(random)
    }
    for (const codec of codecs) {
      let failures = 0
      const before = codec.stats().corrupt
      for (const sample of samples) {
        try {
          codec.decode(sample)
        } catch (err) {
          assert.ok(corrupt(err), `unexpected ${String(err)}`)
          failures++
        }
      }
      assert.equal(codec.stats().corrupt - before, failures)
      assert.ok(failures > samples.length / 2)
    }
  })

  void it('rejects compressed payloads that inflate past maxDecompressedBytes', () => {
    const writer = createCodec()
    const bomb = writer.encode('a'.repeat(1_000_000))
    assert.ok(bomb.length < 10_000)
    const reader = createCodec({ maxDecompressedBytes: 100_000 })
    assert.throws(
      () => reader.decode(bomb),
      (err) => corrupt(err) && isValkitError(err) && err.details?.reason === 'decompress',
    )
  })
})
