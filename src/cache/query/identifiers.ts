import { ValkitError } from '../../core/index.js'

/** A table named by the user, resolved against the catalog. @internal */
export interface TableName {
  /** The schema, when the user named one (`schema.table`). */
  readonly schema: string | undefined
  readonly table: string
  /** The quoted form, for `to_regclass` and DDL: `"schema"."table"` or `"table"`. */
  readonly quoted: string
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_$]*$/
/** PostgreSQL's NAMEDATALEN - 1. */
const MAX_IDENTIFIER_BYTES = 63

/** Whether `name` is an identifier the query cache accepts (and quotes). @internal */
export function isIdentifier(name: unknown): name is string {
  return typeof name === 'string' && IDENTIFIER.test(name) && Buffer.byteLength(name) <= MAX_IDENTIFIER_BYTES
}

/** `name` as a quoted SQL identifier (`"name"`, inner quotes doubled). @internal */
export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`
}

/** `value` as a quoted SQL string literal. @internal */
export function quoteLiteral(value: string): string {
  return `'${value.replaceAll("'", "''")}'`
}

function describe(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value.slice(0, 80)) : typeof value
}

/**
 * Parses a declared table: `table` or `schema.table`, each part a letter or `_` followed by
 * letters, digits, `_` or `$`, at most 63 bytes. Names are matched as the catalog stores them
 * (case-sensitive: a table created as `"User"` is `User`, one created as `Users` is `users`).
 *
 * @throws ValkitError `VALKIT_INVALID_ARGUMENT` for anything else.
 * @internal
 */
export function parseTableName(value: unknown, what = 'tables'): TableName {
  const parts = typeof value === 'string' ? value.split('.') : []
  if (parts.length < 1 || parts.length > 2 || !parts.every(isIdentifier)) {
    throw new ValkitError(
      'VALKIT_INVALID_ARGUMENT',
      `${what}: ${describe(value)} is not a table name the query cache accepts. Use "table" or ` +
        '"schema.table", each part a letter or _ then letters, digits, _ or $ (at most 63 bytes), ' +
        'spelled as the catalog stores it (case-sensitive).',
      { details: { argument: what } },
    )
  }
  const [first, second] = parts as [string, string | undefined]
  return second === undefined
    ? { schema: undefined, table: first, quoted: quoteIdent(first) }
    : { schema: first, table: second, quoted: `${quoteIdent(first)}.${quoteIdent(second)}` }
}

/**
 * Parses a non-empty list of declared tables (duplicates removed, order kept).
 * @throws ValkitError `VALKIT_INVALID_ARGUMENT` naming `what`.
 * @internal
 */
export function parseTableList(value: unknown, what: string): TableName[] {
  if (!Array.isArray(value) || value.length === 0) {
    throw new ValkitError(
      'VALKIT_INVALID_ARGUMENT',
      `${what} must be a non-empty array of table names: the query cache invalidates a result ` +
        'when one of its tables changes, so a result with no declared table could never be invalidated.',
      { details: { argument: what } },
    )
  }
  const seen = new Map<string, TableName>()
  for (const item of value as unknown[]) {
    const name = parseTableName(item, what)
    if (!seen.has(name.quoted)) seen.set(name.quoted, name)
  }
  return [...seen.values()]
}
