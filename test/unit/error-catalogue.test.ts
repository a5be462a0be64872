import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { test } from 'node:test'
import { ERROR_CODES, ValkitError, isValkitError } from '../../src/index.js'

test('every error code is documented in docs/errors.md, and nothing else is', () => {
  const doc = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8')
  const documented = new Set([...doc.matchAll(/^\|\s*`(VALKIT_[A-Z_]+)`\s*\|/gm)].map((m) => m[1]))
  assert.deepEqual([...documented].sort(), Object.keys(ERROR_CODES).sort())
})

test('ValkitError keeps its code, cause and name, and narrows with isValkitError', () => {
  const cause = new Error('socket hang up')
  const err = new ValkitError('VALKIT_UNAVAILABLE', 'Cannot reach 127.0.0.1:6379.', { cause })
  assert.equal(err.name, 'ValkitError')
  assert.equal(err.code, 'VALKIT_UNAVAILABLE')
  assert.equal(err.cause, cause)
  assert.ok(isValkitError(err, 'VALKIT_UNAVAILABLE'))
  assert.ok(!isValkitError(err, 'VALKIT_TIMEOUT'))
  assert.ok(!isValkitError(cause))
})
