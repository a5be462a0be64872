import { createHash, type Hash } from 'node:crypto'
import { ValkitError } from '../../core/index.js'

/** Deepest nesting of arrays in a parameter (pg sends arrays as array literals). */
const MAX_DEPTH = 32

/**
 * The cache key of a query: `pgq:` and the SHA-256 (base64url) of an unambiguous encoding of the
 * SQL text, its parameters (each with its type: `1` and `'1'` differ, `null` and `undefined` do
 * not, as pg sends both as NULL), the caller's `key` and the declared tables as they resolved
 * (`schema.table`, sorted): the same SQL run through pools whose `search_path` points at
 * different schemas (schema-per-tenant) reads different tables, so it gets different keys. The
 * SQL and parameters are not in the key in clear, so they never reach Redis/Valkey or a log.
 *
 * @throws ValkitError `VALKIT_INVALID_ARGUMENT` for a parameter pg cannot send either (a
 *   function, a symbol, a circular object).
 * @internal
 */
export function queryKey(
  sql: string,
  params: readonly unknown[],
  key: string | undefined,
  tables: readonly string[],
): string {
  const hash = createHash('sha256')
  field(hash, 'q', sql)
  field(hash, 'k', key ?? '')
  const sorted = tables.length < 2 ? tables : [...new Set(tables)].sort()
  hash.update(`r${sorted.length};`)
  for (const table of sorted) field(hash, 't', table)
  hash.update(`p${params.length};`)
  for (let i = 0; i < params.length; i++) param(hash, params[i], i, 0)
  return `pgq:${hash.digest('base64url')}`
}

function field(hash: Hash, tag: string, text: string): void {
  hash.update(`${tag}${Buffer.byteLength(text)}:`)
  hash.update(text)
}

function param(hash: Hash, value: unknown, index: number, depth: number): void {
  if (value === null || value === undefined) return void hash.update('N;')
  switch (typeof value) {
    case 'string':
      return field(hash, 's', value)
    case 'number':
      return void hash.update(`d${Object.is(value, -0) ? '-0' : String(value)};`)
    case 'bigint':
      return void hash.update(`b${value.toString()};`)
    case 'boolean':
      return void hash.update(value ? 'T;' : 'F;')
    case 'object':
      break
    default:
      throw badParam(index, `a ${typeof value}`)
  }
  if (value instanceof Date) return void hash.update(`t${String(value.getTime())};`)
  if (value instanceof Uint8Array) {
    hash.update(`x${value.byteLength}:`)
    return void hash.update(value)
  }
  if (Array.isArray(value)) {
    if (depth >= MAX_DEPTH) throw badParam(index, `an array nested deeper than ${MAX_DEPTH}`)
    hash.update(`[${value.length};`)
    for (const item of value) param(hash, item, index, depth + 1)
    return void hash.update(']')
  }
  if (depth >= MAX_DEPTH) throw badParam(index, `a value nested deeper than ${MAX_DEPTH}`)
  const toPostgres = (value as { toPostgres?: unknown }).toPostgres
  if (typeof toPostgres === 'function') {
    // pg sends what toPostgres() returns: that identifies the parameter.
    hash.update('P')
    return param(
      hash,
      (toPostgres as (prepare: (v: unknown) => unknown) => unknown).call(value, (v) => v),
      index,
      depth + 1,
    )
  }
  // pg sends other objects as their JSON text: that text identifies them.
  let json: string | undefined
  try {
    json = JSON.stringify(value)
  } catch (err) {
    throw badParam(index, 'an object that cannot be serialized to JSON', err)
  }
  field(hash, 'j', json ?? '')
}

function badParam(index: number, what: string, cause?: unknown): ValkitError {
  return new ValkitError(
    'VALKIT_INVALID_ARGUMENT',
    `query() parameter $${index + 1} is ${what}; pass strings, numbers, bigints, booleans, Dates, Buffers, arrays or JSON-serializable objects.`,
    cause === undefined ? { details: { argument: 'params' } } : { cause, details: { argument: 'params' } },
  )
}
