import type { PgField, PgResultLike, PgTypeParser, PgTypeParsers } from './pg-types.js'

/**
 * A query result as the cache stores it: the columns and every cell as the text PostgreSQL sent
 * (rows as arrays), so the stored form is plain JSON whatever the column types, and reading it
 * back runs the same type parsers as a direct `pool.query` (a `timestamptz` is a `Date` whether
 * it came from L1, L2 or Postgres).
 *
 * @internal
 */
export interface StoredResult {
  /** Format version. */
  readonly v: 1
  /** The command tag (`SELECT`). */
  readonly c: string
  /** `rowCount`. */
  readonly n: number | null
  readonly f: readonly PgField[]
  readonly r: readonly (readonly (string | null)[])[]
}

/** A result in the shape `pg` gives it, as the query cache returns it. @internal */
export interface DecodedResult {
  readonly rows: unknown[]
  readonly rowCount: number | null
  readonly fields: readonly PgField[]
  readonly command: string
}

/** Parsers that keep a cell's text as it is: the query cache parses when it reads. @internal */
export const RAW_TYPES: PgTypeParsers = Object.freeze({
  getTypeParser: (): PgTypeParser => (text) => text,
})

/** Builds the stored form of a result read with {@link RAW_TYPES} and `rowMode: 'array'`. @internal */
export function toStored(result: PgResultLike): StoredResult {
  const fields = result.fields.map((f) => ({
    name: f.name,
    tableID: f.tableID,
    columnID: f.columnID,
    dataTypeID: f.dataTypeID,
    dataTypeSize: f.dataTypeSize,
    dataTypeModifier: f.dataTypeModifier,
    format: f.format,
  }))
  return { v: 1, c: result.command, n: result.rowCount, f: fields, r: result.rows as (string | null)[][] }
}

/** Whether a value read from the cache is a {@link StoredResult}. @internal */
export function isStored(value: unknown): value is StoredResult {
  if (typeof value !== 'object' || value === null) return false
  const v = value as Partial<StoredResult>
  return v.v === 1 && Array.isArray(v.f) && Array.isArray(v.r) && typeof v.c === 'string'
}

/**
 * Turns a stored result into rows as `pg` builds them: one object per row, a property per column
 * in column order (a later column of the same name wins, as in `pg`), each non-null cell parsed
 * by the type parser of its column's type.
 *
 * @internal
 */
export function decodeStored(stored: StoredResult, types: PgTypeParsers): DecodedResult {
  const fields = stored.f
  const parsers = fields.map((f) => types.getTypeParser(f.dataTypeID, 'text'))
  const names = fields.map((f) => f.name)
  // Like pg: every column as an own property, even one named `__proto__`.
  const template: Record<string, unknown> = Object.create(null) as Record<string, unknown>
  for (const name of names) template[name] = null
  const rows = new Array<unknown>(stored.r.length)
  for (let i = 0; i < stored.r.length; i++) {
    const cells = stored.r[i]!
    const row: Record<string, unknown> = { ...template }
    for (let j = 0; j < names.length; j++) {
      const text = cells[j]
      row[names[j]!] = text === null || text === undefined ? null : parsers[j]!(text)
    }
    rows[i] = row
  }
  return { rows, rowCount: stored.n, fields, command: stored.c }
}
