/** First keywords of statements that may only read: their results may be cached. */
const READING = new Set(['SELECT', 'WITH', 'VALUES', 'TABLE'])

/** SQLSTATE `read_only_sql_transaction`: "cannot execute … in a read-only transaction". */
const READ_ONLY_SQL_TRANSACTION = '25006'

/**
 * The first keyword of a statement, upper-cased, after whitespace, `--` and (nested) `/* *\/`
 * comments and opening parentheses (`(SELECT 1)`); `''` when it does not start with a word.
 *
 * @internal
 */
export function firstKeyword(sql: string): string {
  let i = 0
  const n = sql.length
  while (i < n) {
    const c = sql.charCodeAt(i)
    // space, tab, newline, carriage return, form feed, vertical tab, and '('
    if (c === 32 || (c >= 9 && c <= 13) || c === 40) i++
    else if (c === 45 && sql.charCodeAt(i + 1) === 45) {
      const eol = sql.indexOf('\n', i + 2)
      i = eol === -1 ? n : eol + 1
    } else if (c === 47 && sql.charCodeAt(i + 1) === 42) {
      let depth = 1
      i += 2
      while (i < n && depth > 0) {
        if (sql.charCodeAt(i) === 47 && sql.charCodeAt(i + 1) === 42) {
          depth++
          i += 2
        } else if (sql.charCodeAt(i) === 42 && sql.charCodeAt(i + 1) === 47) {
          depth--
          i += 2
        } else i++
      }
    } else break
  }
  let end = i
  while (end < n) {
    const c = sql.charCodeAt(end) | 0x20 // ASCII letters in lower case
    if (c < 97 || c > 122) break
    end++
  }
  return sql.slice(i, end).toUpperCase()
}

/**
 * Whether a statement may go through the cache: it starts with `SELECT`, `WITH`, `VALUES` or
 * `TABLE`. Anything else (INSERT, UPDATE, DELETE, MERGE, CALL, DDL, ...) runs on its own, every
 * time, never shared with a concurrent identical call. Starting with one of these words does not
 * prove a statement only reads (a `WITH` may hold an `INSERT`, a `SELECT` may call a function
 * that writes): cached loads run in a READ ONLY transaction, which PostgreSQL enforces.
 *
 * @internal
 */
export function mayBeCached(sql: string): boolean {
  return READING.has(firstKeyword(sql))
}

/** Whether PostgreSQL refused a statement because the transaction is READ ONLY. @internal */
export function isReadOnlyRefusal(err: unknown): boolean {
  return (
    typeof err === 'object' && err !== null && (err as { code?: unknown }).code === READ_ONLY_SQL_TRANSACTION
  )
}
