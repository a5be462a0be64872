import { ValkitError } from '../core/index.js'
import type { SessionChanges } from './session-types.js'

const MAX_NAME = 128

/** Checks a data field name. @internal */
export function checkFieldName(name: unknown): string {
  if (typeof name !== 'string' || name.length === 0 || name.length > MAX_NAME || name === '__proto__') {
    throw new ValkitError(
      'VALKIT_INVALID_ARGUMENT',
      `Invalid session field name ${JSON.stringify(String(name).slice(0, 40))}: expected 1-${MAX_NAME} characters (not "__proto__").`,
      { details: { argument: 'changes' } },
    )
  }
  return name
}

/** `changes` as fields to set (name -> value) and names to remove, validated. @internal */
export function splitChanges(changes: SessionChanges | undefined): {
  set: Map<string, unknown>
  unset: Set<string>
} {
  const set = new Map<string, unknown>()
  const unset = new Set<string>()
  if (changes === undefined) return { set, unset }
  if (typeof changes !== 'object' || changes === null) {
    throw new ValkitError('VALKIT_INVALID_ARGUMENT', 'Session changes must be an object { set?, unset? }.', {
      details: { argument: 'changes' },
    })
  }
  if (changes.set !== undefined) {
    if (typeof changes.set !== 'object' || changes.set === null || Array.isArray(changes.set)) {
      throw new ValkitError('VALKIT_INVALID_ARGUMENT', '`changes.set` must be an object of field -> value.', {
        details: { argument: 'changes.set' },
      })
    }
    for (const name of Object.keys(changes.set)) {
      const value = changes.set[checkFieldName(name)]
      if (value === undefined) unset.add(name)
      else set.set(name, value)
    }
  }
  if (changes.unset !== undefined) {
    if (!Array.isArray(changes.unset)) {
      throw new ValkitError('VALKIT_INVALID_ARGUMENT', '`changes.unset` must be an array of field names.', {
        details: { argument: 'changes.unset' },
      })
    }
    for (const name of changes.unset as readonly unknown[]) {
      checkFieldName(name)
      set.delete(name as string)
      unset.add(name as string)
    }
  }
  return { set, unset }
}

/** `data` with `set` applied and `unset` removed, as a new plain object. @internal */
export function applyChanges(
  data: Readonly<Record<string, unknown>>,
  set: ReadonlyMap<string, unknown>,
  unset: ReadonlySet<string>,
): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const name of Object.keys(data)) if (!unset.has(name) && !set.has(name)) out[name] = data[name]
  for (const [name, value] of set) out[name] = value
  return out
}
