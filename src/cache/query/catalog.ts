import type { TableName } from './identifiers.js'
import { quoteIdent } from './identifiers.js'
import type { QueryCacheClient, QueryCachePool } from './pg-types.js'
import { RAW_TYPES } from './stored-result.js'

/** A declared table as the catalog knows it. @internal */
export interface CatalogTable {
  readonly declared: TableName
  /** Undefined when no relation of that name is visible (search_path, privileges). */
  readonly schema: string | undefined
  readonly table: string | undefined
  /** `pg_class.relkind`: `r` table, `p` partitioned table, `v` view, `m` materialized view... */
  readonly kind: string | undefined
  /** The trigger named after the channel: missing, ours (calls our function) or another one. */
  readonly trigger: 'missing' | 'ours' | 'other'
  /** `pg_trigger.tgenabled` (`O` fires, `D` disabled, `R` replica only, `A` always). */
  readonly enabled: string | undefined
}

/** Names of the objects one channel installs. @internal */
export interface TriggerNames {
  readonly channel: string
  readonly functionSchema: string
  /** `"schema"."<channel>_notify"`. */
  readonly functionSql: string
  /** `"schema"."<channel>_notify"()`, for `to_regprocedure`. */
  readonly functionSignature: string
}

/** @internal */
export function triggerNames(channel: string, functionSchema: string): TriggerNames {
  const functionSql = `${quoteIdent(functionSchema)}.${quoteIdent(`${channel}_notify`)}`
  return { channel, functionSchema, functionSql, functionSignature: `${functionSql}()` }
}

/** `schema.table`: the NOTIFY payload and the name in tags. @internal */
export function qualifiedName(schema: string, table: string): string {
  return `${schema}.${table}`
}

/** Whether a relation of this kind can carry the statement triggers (table or partitioned table). @internal */
export function isTriggerable(kind: string | undefined): boolean {
  return kind === 'r' || kind === 'p'
}

/** Whether an installed trigger fires for ordinary sessions. @internal */
export function fires(table: CatalogTable): boolean {
  return table.trigger === 'ours' && (table.enabled === 'O' || table.enabled === 'A')
}

const LOOKUP_SQL = `SELECT n.nspname AS schema_name, c.relname AS table_name, c.relkind::text AS kind,
  t.tgenabled::text AS enabled, (t.tgfoid = pg_catalog.to_regprocedure($3))::text AS ours
FROM pg_catalog.unnest($1::text[]) WITH ORDINALITY AS d(name, i)
LEFT JOIN pg_catalog.pg_class c ON c.oid = pg_catalog.to_regclass(d.name)
LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_catalog.pg_trigger t ON t.tgrelid = c.oid AND t.tgname = $2
ORDER BY d.i`

const INSTALLED_SQL = `SELECT n.nspname AS schema_name, c.relname AS table_name
FROM pg_catalog.pg_trigger t
JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE t.tgname = $1 AND t.tgfoid = pg_catalog.to_regprocedure($2)`

type Row = (string | null)[]

/** Runs a catalog query through the pool: rows as arrays of text. */
async function poolRows(pool: QueryCachePool, text: string, values: unknown[]): Promise<Row[]> {
  const result = await pool.query({
    text,
    values,
    rowMode: 'array',
    types: RAW_TYPES,
    queryMode: 'extended',
    binary: false,
  })
  return result.rows as Row[]
}

/** Runs a catalog query on a client (inside a transaction): rows as arrays of text. */
async function clientRows(client: QueryCacheClient, text: string, values: unknown[]): Promise<Row[]> {
  const result = await client.query(text, values)
  return result.rows.map((row) => Object.values(row as Record<string, unknown>).map(asText))
}

function asText(value: unknown): string | null {
  if (value === null || value === undefined) return null
  return typeof value === 'string' ? value : JSON.stringify(value)
}

function toCatalogTables(declared: readonly TableName[], rows: Row[]): CatalogTable[] {
  return declared.map((name, i) => {
    const [schema, table, kind, enabled, ours] = rows[i] ?? []
    return {
      declared: name,
      schema: schema ?? undefined,
      table: table ?? undefined,
      kind: kind ?? undefined,
      trigger: enabled === null || enabled === undefined ? 'missing' : ours === 'true' ? 'ours' : 'other',
      enabled: enabled ?? undefined,
    }
  })
}

/**
 * Looks declared tables up: unqualified names resolve through the session's `search_path`, as
 * in the SQL that reads them. Through the pool, or on `client` inside a transaction.
 *
 * @internal
 */
export async function lookupTables(
  via: { pool: QueryCachePool } | { client: QueryCacheClient },
  declared: readonly TableName[],
  names: TriggerNames,
): Promise<CatalogTable[]> {
  const values = [declared.map((d) => d.quoted), names.channel, names.functionSignature]
  const rows =
    'pool' in via
      ? await poolRows(via.pool, LOOKUP_SQL, values)
      : await clientRows(via.client, LOOKUP_SQL, values)
  return toCatalogTables(declared, rows)
}

/** Every table carrying this channel's trigger. @internal */
export async function installedTables(
  via: { pool: QueryCachePool } | { client: QueryCacheClient },
  names: TriggerNames,
): Promise<{ schema: string; table: string }[]> {
  const values = [names.channel, names.functionSignature]
  const rows =
    'pool' in via
      ? await poolRows(via.pool, INSTALLED_SQL, values)
      : await clientRows(via.client, INSTALLED_SQL, values)
  return rows.map(([schema, table]) => ({ schema: schema ?? '', table: table ?? '' }))
}
