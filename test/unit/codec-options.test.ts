import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { createCodec, createKeyring, resolveCodecOptions } from '../../src/core/codec/index.js'
import { isValkitError } from '../../src/core/errors.js'

function invalidAt(path: string) {
  return (err: unknown) => {
    assert.ok(isValkitError(err, 'VALKIT_INVALID_OPTION'), String(err))
    assert.equal(err.details?.path, path)
    return true
  }
}

void describe('resolveCodecOptions', () => {
  void it('applies defaults', () => {
    const resolved = resolveCodecOptions()
    assert.equal(resolved.serializer, 'json')
    assert.equal(resolved.compression, 'deflate')
    assert.equal(resolved.compressThresholdBytes, 1024)
    assert.equal(resolved.keyring, undefined)
  })

  void it('names the path of the invalid option', () => {
    assert.throws(() => resolveCodecOptions({ serializer: 'xml' as 'json' }), invalidAt('codec.serializer'))
    assert.throws(
      () => resolveCodecOptions({ compression: 'zstd' as 'none' }),
      invalidAt('codec.compression'),
    )
    assert.throws(
      () => resolveCodecOptions({ compressThresholdBytes: -1 }),
      invalidAt('codec.compressThresholdBytes'),
    )
    assert.throws(
      () => resolveCodecOptions({ maxDecompressedBytes: 0 }),
      invalidAt('codec.maxDecompressedBytes'),
    )
    assert.throws(
      () => resolveCodecOptions({ encryption: { keys: [], primary: 1 } }),
      invalidAt('codec.encryption.keys'),
    )
    const good = { id: 1, key: randomBytes(32) }
    assert.throws(
      () =>
        resolveCodecOptions({ encryption: { keys: [good, { id: 2, key: randomBytes(16) }], primary: 1 } }),
      invalidAt('codec.encryption.keys[1].key'),
    )
    assert.throws(
      () =>
        resolveCodecOptions({ encryption: { keys: [good, { id: 1, key: randomBytes(32) }], primary: 1 } }),
      invalidAt('codec.encryption.keys[1].id'),
    )
    assert.throws(
      () =>
        resolveCodecOptions({ encryption: { keys: [{ id: 'bad id!', key: randomBytes(32) }], primary: 1 } }),
      invalidAt('codec.encryption.keys[0].id'),
    )
    assert.throws(
      () => resolveCodecOptions({ encryption: { keys: [good], primary: 3 } }),
      invalidAt('codec.encryption.primary'),
    )
    assert.throws(
      () => createKeyring({ keys: [{ id: 1, key: 'not base64!!' }], primary: 1 }),
      invalidAt('keyring.keys[0].key'),
    )
  })

  void it('never puts key material into an error', () => {
    const shortKey = randomBytes(31)
    const attempts = [
      shortKey,
      shortKey.toString('base64'),
      shortKey.toString('hex'),
      `${randomBytes(32).toString('base64')}!`,
    ]
    for (const key of attempts) {
      try {
        createCodec({ encryption: { keys: [{ id: 1, key }], primary: 1 } })
        assert.fail('expected an error')
      } catch (err) {
        assert.ok(isValkitError(err, 'VALKIT_INVALID_OPTION'))
        const text = `${err.message} ${JSON.stringify(err.details)} ${String(err.stack)}`
        const secret = typeof key === 'string' ? key : key.toString('base64')
        assert.ok(!text.includes(secret), 'the key appears in the error')
        assert.ok(!text.includes(shortKey.toString('hex')), 'the key appears in the error')
      }
    }
  })

  void it('accepts base64 keys with or without padding, and a keyring object', () => {
    const key = randomBytes(32)
    const keyring = createKeyring({
      keys: [{ id: 1, key: key.toString('base64').replace(/=+$/, '') }],
      primary: 1,
    })
    const codec = createCodec({ encryption: keyring })
    const other = createCodec({ encryption: { keys: [{ id: 1, key }], primary: 1 } })
    assert.deepEqual(other.decode(codec.encode({ ok: true })), { ok: true })
    assert.deepEqual(keyring.ids(), ['1'])
  })
})
