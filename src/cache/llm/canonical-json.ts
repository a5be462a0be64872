import { ValkitError } from '../../core/index.js'

/** Deepest nesting accepted: requests are shallow; anything deeper is a mistake (or an attack). */
const MAX_DEPTH = 64

function invalid(message: string): ValkitError {
  return new ValkitError('VALKIT_INVALID_ARGUMENT', message)
}

/** Drops what JSON drops in an object: `undefined`, functions, symbols. */
function skipped(value: unknown): boolean {
  return value === undefined || typeof value === 'function' || typeof value === 'symbol'
}

function encode(value: unknown, ancestors: Set<object>, out: string[]): void {
  if (value === null) {
    out.push('null')
    return
  }
  switch (typeof value) {
    case 'string':
      out.push(JSON.stringify(value))
      return
    case 'boolean':
      out.push(value ? 'true' : 'false')
      return
    case 'number':
      if (!Number.isFinite(value))
        throw invalid(`An LLM request holds the number ${value}; only finite numbers can be hashed.`)
      out.push(JSON.stringify(value)) // -0 becomes 0, as in JSON
      return
    case 'bigint':
      throw invalid('An LLM request holds a BigInt; convert it to a number or a string.')
    case 'object':
      break
    default:
      out.push('null') // undefined, function, symbol inside an array: JSON writes null
      return
  }
  const withJson = value as { toJSON?: unknown }
  if (typeof withJson.toJSON === 'function') {
    encode((withJson.toJSON as () => unknown).call(value), ancestors, out)
    return
  }
  if (ancestors.has(value)) throw invalid('An LLM request refers to itself (a cycle); it cannot be hashed.')
  if (ancestors.size >= MAX_DEPTH) throw invalid(`An LLM request is nested deeper than ${MAX_DEPTH} levels.`)
  ancestors.add(value)
  if (Array.isArray(value)) {
    out.push('[')
    for (let i = 0; i < value.length; i++) {
      if (i > 0) out.push(',')
      encode(value[i], ancestors, out)
    }
    out.push(']')
  } else {
    const record = value as Record<string, unknown>
    const names = Object.keys(record)
      .filter((name) => !skipped(record[name]))
      .sort()
    out.push('{')
    for (let i = 0; i < names.length; i++) {
      if (i > 0) out.push(',')
      out.push(JSON.stringify(names[i]), ':')
      encode(record[names[i]!], ancestors, out)
    }
    out.push('}')
  }
  ancestors.delete(value)
}

/**
 * A canonical JSON text of a value: object keys sorted by code unit, `undefined` (and functions,
 * symbols) dropped from objects, no whitespace, `toJSON()` honoured. Two values that JSON
 * considers equal up to key order encode to the same string.
 *
 * @throws ValkitError `VALKIT_INVALID_ARGUMENT` for a non-finite number, a BigInt, a cycle or
 *   more than 64 levels of nesting.
 *
 * @example
 * ```ts
 * canonicalJson({ b: 1, a: [true, undefined], c: undefined }) // '{"a":[true,null],"b":1}'
 * ```
 */
export function canonicalJson(value: unknown): string {
  const out: string[] = []
  encode(value, new Set(), out)
  return out.join('')
}
