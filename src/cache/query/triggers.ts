import { createHash } from 'node:crypto'
import { ValkitError } from '../../core/index.js'
import {
  installedTables,
  isTriggerable,
  lookupTables,
  qualifiedName,
  type CatalogTable,
  type TriggerNames,
} from './catalog.js'
import { quoteIdent, quoteLiteral, type TableName } from './identifiers.js'
import type { QueryCacheClient, QueryCachePool } from './pg-types.js'

/**
 * The trigger function's body: one NOTIFY per statement on the channel given as the trigger's
 * argument, with `schema.table` as payload. PostgreSQL delivers it when (and only if) the
 * writing transaction commits, and folds identical ones within a transaction.
 */
const FUNCTION_BODY = `
BEGIN
  PERFORM pg_catalog.pg_notify(TG_ARGV[0], TG_TABLE_SCHEMA || '.' || TG_TABLE_NAME);
  RETURN NULL;
END
`

/**
 * What {@link QueryCache.install} did.
 *
 * @example
 * ```ts
 * const { created, enabled } = await queries.install({ tables: ['users'] })
 * log.info('query cache triggers', { created, enabled })
 * ```
 */
export interface InstallResult {
  /** `schema.table` of every table that got the trigger now. */
  readonly created: readonly string[]
  /** Tables whose trigger was there but disabled, and is enabled again. */
  readonly enabled: readonly string[]
  /** Tables whose trigger was already installed and enabled. */
  readonly unchanged: readonly string[]
}

/**
 * What {@link QueryCache.uninstall} did.
 *
 * @example
 * ```ts
 * const { dropped, functionDropped } = await queries.uninstall()
 * ```
 */
export interface UninstallResult {
  /** `schema.table` of every table whose trigger was dropped. */
  readonly dropped: readonly string[]
  /** Whether the trigger function was dropped too (no table uses it any more). */
  readonly functionDropped: boolean
}

/** The advisory lock every installer of one channel takes: a 64-bit key from its names. */
function lockKey(names: TriggerNames): string {
  const digest = createHash('sha256')
    .update(`valkit:query-cache:${names.functionSchema}.${names.channel}`)
    .digest()
  return digest.readBigInt64BE(0).toString()
}

/**
 * Runs `work` in a transaction on a client of the pool, after `lock_timeout` is set and the
 * channel's advisory lock taken: installers of many instances run one after the other, so
 * `CREATE OR REPLACE FUNCTION` and the check-then-create of each trigger never race.
 */
async function locked<T>(
  pool: QueryCachePool,
  names: TriggerNames,
  lockTimeoutMs: number,
  work: (client: QueryCacheClient) => Promise<T>,
): Promise<T> {
  const client = await pool.connect()
  let broken: Error | undefined
  try {
    await client.query('BEGIN')
    try {
      await client.query(`SET LOCAL lock_timeout = ${Math.round(lockTimeoutMs)}`)
      await client.query('SELECT pg_catalog.pg_advisory_xact_lock($1::bigint)', [lockKey(names)])
      const result = await work(client)
      await client.query('COMMIT')
      return result
    } catch (err) {
      await client.query('ROLLBACK').catch((rollbackError: unknown) => {
        broken = rollbackError instanceof Error ? rollbackError : new Error(String(rollbackError))
      })
      throw err
    }
  } finally {
    client.release?.(broken)
  }
}

function notFound(tables: readonly CatalogTable[]): ValkitError {
  const list = tables.map((t) => t.declared.quoted).join(', ')
  return new ValkitError(
    'VALKIT_INVALID_ARGUMENT',
    `install(): no table ${list} is visible to the pool's connections (check the schema, the ` +
      'search_path and the spelling: names are case-sensitive as stored in the catalog).',
    { details: { argument: 'tables' } },
  )
}

function notTriggerable(tables: readonly CatalogTable[]): ValkitError {
  const list = tables.map((t) => `${t.declared.quoted} (relkind ${t.kind ?? '?'})`).join(', ')
  return new ValkitError(
    'VALKIT_INVALID_ARGUMENT',
    `install(): ${list} is not a table or partitioned table, so no write on it can be seen by a ` +
      'trigger; declare the tables it reads from instead (a view: its base tables).',
    { details: { argument: 'tables' } },
  )
}

/**
 * Creates the trigger function (when missing or different) and the statement trigger on each
 * table (when missing), enables a disabled one, in one transaction under the channel's
 * advisory lock. Idempotent; safe to run from many instances at once.
 *
 * @internal
 */
export async function installTriggers(
  pool: QueryCachePool,
  names: TriggerNames,
  declared: readonly TableName[],
  lockTimeoutMs: number,
): Promise<InstallResult & { readonly tables: readonly CatalogTable[] }> {
  return locked(pool, names, lockTimeoutMs, async (client) => {
    const existing = await client.query(
      'SELECT prosrc FROM pg_catalog.pg_proc WHERE oid = pg_catalog.to_regprocedure($1)',
      [names.functionSignature],
    )
    const source = (existing.rows[0] as { prosrc?: unknown } | undefined)?.prosrc
    if (source !== FUNCTION_BODY) {
      await client.query(
        `CREATE OR REPLACE FUNCTION ${names.functionSql}() RETURNS trigger LANGUAGE plpgsql AS $valkit$${FUNCTION_BODY}$valkit$`,
      )
    }
    const tables = await lookupTables({ client }, declared, names)
    const missing = tables.filter((t) => t.schema === undefined)
    if (missing.length > 0) throw notFound(missing)
    const wrongKind = tables.filter((t) => !isTriggerable(t.kind))
    if (wrongKind.length > 0) throw notTriggerable(wrongKind)
    const created: string[] = []
    const enabled: string[] = []
    const unchanged: string[] = []
    const trigger = quoteIdent(names.channel)
    for (const t of tables) {
      const target = `${quoteIdent(t.schema!)}.${quoteIdent(t.table!)}`
      const name = qualifiedName(t.schema!, t.table!)
      if (t.trigger === 'ours' && (t.enabled === 'O' || t.enabled === 'A')) {
        unchanged.push(name)
        continue
      }
      if (t.trigger === 'ours') {
        await client.query(`ALTER TABLE ${target} ENABLE TRIGGER ${trigger}`)
        enabled.push(name)
        continue
      }
      // A trigger of this name calling another function (another functionSchema): replace it.
      if (t.trigger === 'other') await client.query(`DROP TRIGGER ${trigger} ON ${target}`)
      await client.query(
        `CREATE TRIGGER ${trigger} AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON ${target} ` +
          `FOR EACH STATEMENT EXECUTE FUNCTION ${names.functionSql}(${quoteLiteral(names.channel)})`,
      )
      created.push(name)
    }
    return { created, enabled, unchanged, tables }
  })
}

/**
 * Drops this channel's trigger from the given tables (every table carrying it when `declared`
 * is undefined), then the function once no trigger uses it. Tables that do not exist or carry
 * no trigger are skipped. One transaction under the channel's advisory lock.
 *
 * @internal
 */
export async function uninstallTriggers(
  pool: QueryCachePool,
  names: TriggerNames,
  declared: readonly TableName[] | undefined,
  lockTimeoutMs: number,
): Promise<UninstallResult> {
  return locked(pool, names, lockTimeoutMs, async (client) => {
    let targets: { schema: string; table: string }[]
    if (declared === undefined) {
      targets = await installedTables({ client }, names)
    } else {
      targets = (await lookupTables({ client }, declared, names))
        .filter((t) => t.trigger === 'ours')
        .map((t) => ({ schema: t.schema!, table: t.table! }))
    }
    const dropped: string[] = []
    for (const { schema, table } of targets) {
      await client.query(
        `DROP TRIGGER IF EXISTS ${quoteIdent(names.channel)} ON ${quoteIdent(schema)}.${quoteIdent(table)}`,
      )
      dropped.push(qualifiedName(schema, table))
    }
    // Drop the function once no trigger at all (whatever its name) calls it.
    const usage = await client.query(
      `SELECT pg_catalog.to_regprocedure($1) IS NOT NULL AS present,
        (SELECT count(*) FROM pg_catalog.pg_trigger WHERE tgfoid = pg_catalog.to_regprocedure($1))::int AS users`,
      [names.functionSignature],
    )
    const row = usage.rows[0] as { present?: unknown; users?: unknown } | undefined
    let functionDropped = false
    if (row?.present === true && Number(row.users) === 0) {
      await client.query(`DROP FUNCTION ${names.functionSql}()`)
      functionDropped = true
    }
    return { dropped, functionDropped }
  })
}
