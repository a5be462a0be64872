import { ValkitError } from '../../core/index.js'
import type { PgRawQueryConfig, PgResultLike, QueryCachePool, QueryCachePoolClient } from './pg-types.js'
import { isReadOnlyRefusal } from './statement-kind.js'
import { RAW_TYPES, toStored, type StoredResult } from './stored-result.js'

/** The config of one statement: cells as raw text, rows as arrays, the extended protocol. @internal */
export function rawConfig(sql: string, params: readonly unknown[]): PgRawQueryConfig {
  return {
    text: sql,
    values: [...params],
    rowMode: 'array',
    types: RAW_TYPES,
    queryMode: 'extended',
    binary: false,
  }
}

/** A result in the stored form; refuses several statements' results. @internal */
export function toStoredResult(result: PgResultLike): StoredResult {
  // pg before 8.12 ignores queryMode: several statements without parameters come back as a list.
  if (Array.isArray(result)) {
    throw new ValkitError(
      'VALKIT_INVALID_ARGUMENT',
      'query() runs one statement per call; split the SQL into several calls.',
      { details: { argument: 'sql' } },
    )
  }
  return toStored(result)
}

/** Runs a statement through the pool, outside any transaction of ours. @internal */
export async function runDirect(
  pool: QueryCachePool,
  sql: string,
  params: readonly unknown[],
): Promise<StoredResult> {
  return toStoredResult(await pool.query(rawConfig(sql, params)))
}

/**
 * Runs a statement for the cache: `BEGIN READ ONLY`, the statement, `COMMIT`, on a client of the
 * pool. `'refused'` when PostgreSQL would not run it there (SQLSTATE 25006: it would write, e.g.
 * a data-modifying `WITH` or a function that writes): it did not run, the transaction is rolled
 * back. A client whose connection failed, or whose transaction could not be ended, is destroyed
 * rather than returned to the pool.
 *
 * @internal
 */
export async function runReadOnly(
  pool: QueryCachePool,
  sql: string,
  params: readonly unknown[],
): Promise<StoredResult | 'refused'> {
  const client = await pool.connect()
  let result: PgResultLike
  try {
    await client.query('BEGIN READ ONLY')
    result = await client.query(rawConfig(sql, params))
  } catch (err) {
    const ended = await client.query('ROLLBACK').then(
      () => true,
      () => false,
    )
    release(client, !ended || !isStatementError(err))
    if (isReadOnlyRefusal(err)) return 'refused'
    throw err
  }
  try {
    await client.query('COMMIT')
  } catch (err) {
    release(client, true)
    throw err
  }
  release(client, false)
  return toStoredResult(result)
}

/** An error PostgreSQL answered for a statement (a SQLSTATE and a severity): the connection is fine. */
function isStatementError(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false
  const { code, severity } = err as { code?: unknown; severity?: unknown }
  return typeof code === 'string' && typeof severity === 'string'
}

function release(client: QueryCachePoolClient, destroy: boolean): void {
  if (typeof client.release === 'function') client.release(destroy)
  else void client.end?.().catch(() => {})
}
