import assert from 'node:assert/strict'
import { isValkitError, type ValkitError } from '../../src/core/errors.js'

/** Asserts `fn` throws VALKIT_INVALID_OPTION naming `path` (in `details.path` and in the message); returns the error. */
export function rejectsOption(fn: () => unknown, path: string, messagePart?: RegExp): ValkitError {
  let caught: unknown
  try {
    fn()
  } catch (err) {
    caught = err
  }
  assert.ok(
    isValkitError(caught, 'VALKIT_INVALID_OPTION'),
    `expected VALKIT_INVALID_OPTION, got ${String(caught)}`,
  )
  assert.equal(caught.details?.path, path)
  assert.ok(caught.message.includes(`\`${path}\``), caught.message)
  if (messagePart) assert.match(caught.message, messagePart)
  return caught
}
