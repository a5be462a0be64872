import type { Duration } from '../../core/index.js'
import type { PgField } from './pg-types.js'
import type { InstallResult, UninstallResult } from './triggers.js'

/**
 * Options of one {@link QueryCache.query}.
 *
 * @example
 * ```ts
 * const options: QueryCacheQueryOptions = { tables: ['users', 'orgs'], ttl: '1m', key: `tenant:${tenantId}` }
 * ```
 */
export interface QueryCacheQueryOptions {
  /**
   * Every table the query reads (`'users'`, `'billing.invoices'`): a write to any of them
   * invalidates the result. Unqualified names resolve through the pool's `search_path`, as in
   * your SQL (once per process, again after each reconnect), and the tables they resolved to are
   * part of the cache key: the same SQL through one pool per tenant schema gives each tenant its
   * own results. Names are case-sensitive as stored in the catalog. Required and non-empty.
   */
  readonly tables: readonly string[]
  /**
   * Time to live of this result (milliseconds or `'30s'`).
   * @defaultValue the query cache's `ttl`, else the cache's
   */
  readonly ttl?: Duration
  /**
   * Mixed into the cache key with the SQL and parameters: set it when the result depends on
   * more than those, e.g. on the role or tenant a connection runs as (`SET ROLE`, row-level
   * security reading `current_setting`).
   * @defaultValue none
   */
  readonly key?: string
}

/**
 * A query's result, shaped like `pg`'s `QueryResult`: rows as objects with the values `pg`'s
 * type parsers give (the same whether the result came from L1, L2 or PostgreSQL).
 *
 * @example
 * ```ts
 * const result: QueryCacheResult<{ id: number }> = await queries.query('SELECT id FROM users', [], { tables: ['users'] })
 * if (!result.fromCache) log.debug('loaded from PostgreSQL', { rows: result.rowCount })
 * ```
 */
export interface QueryCacheResult<R = Record<string, unknown>> {
  /** The rows. Shared with other callers of the same cached result: do not mutate them. */
  readonly rows: R[]
  readonly rowCount: number | null
  readonly fields: readonly PgField[]
  /** The command tag: `'SELECT'`. */
  readonly command: string
  /** Whether this call was answered without running the query (from L1, L2 or another caller's run). */
  readonly fromCache: boolean
}

/**
 * Options of {@link QueryCache.install}.
 *
 * @example
 * ```ts
 * await queries.install({ tables: ['users', 'billing.invoices'] })
 * ```
 */
export interface QueryCacheInstallOptions {
  /** Tables to put the trigger on (`'users'`, `'billing.invoices'`). */
  readonly tables: readonly string[]
}

/**
 * Options of {@link QueryCache.uninstall}.
 *
 * @example
 * ```ts
 * await queries.uninstall({ tables: ['legacy_events'] })
 * ```
 */
export interface QueryCacheUninstallOptions {
  /** Tables to take the trigger off. @defaultValue every table carrying this channel's trigger */
  readonly tables?: readonly string[]
}

/**
 * What {@link QueryCache.stats} returns: counters since creation.
 *
 * @example
 * ```ts
 * const { hits, misses, reconnects }: QueryCacheStats = queries.stats()
 * ```
 */
export interface QueryCacheStats {
  /** Queries answered without running them. */
  readonly hits: number
  /** Queries run against PostgreSQL and stored. */
  readonly misses: number
  /** Queries run against PostgreSQL without the cache, because the listener was down (`whileNotListening: 'bypass'`). */
  readonly bypassed: number
  /**
   * Calls whose statement does not only read, run on their own and never stored: the first
   * keyword is not `SELECT`/`WITH`/`VALUES`/`TABLE`, PostgreSQL refused it in the READ ONLY
   * transaction of a cached load (a data-modifying `WITH`, a function that writes), or its
   * command was not `SELECT`.
   */
  readonly uncacheable: number
  /** Table change notifications received. */
  readonly notifications: number
  /** Table tags invalidated: after notifications (coalesced), reconnects and `invalidate()`. */
  readonly invalidations: number
  /** Times the LISTEN connection was re-established after a loss. */
  readonly reconnects: number
  /** Whether LISTEN is active now. */
  readonly listening: boolean
  /** The backend pid of the listening connection (for `pg_stat_activity`), while listening. */
  readonly listenerPid: number | undefined
}

/**
 * PostgreSQL query results cached in a valkit {@link Cache}, invalidated when the tables they
 * read change: triggers NOTIFY on every INSERT, UPDATE, DELETE and TRUNCATE, and every instance
 * LISTENs and invalidates the table's tag. Made by `createQueryCache`.
 *
 * @example
 * ```ts
 * const queries: QueryCache = createQueryCache({ cache, pool, valkit })
 * const { rows } = await queries.query('SELECT * FROM orgs WHERE id = $1', [orgId], { tables: ['orgs'] })
 * ```
 */
export interface QueryCache {
  /**
   * Runs a read-only query through the cache: the cached result, or the query's result stored
   * with a tag per declared table. A miss runs the statement in a `READ ONLY` transaction on a
   * client of the pool; concurrent identical misses share one run. While the listener is down,
   * reads PostgreSQL directly (see `whileNotListening`). A statement that does not only read (its
   * first keyword is not `SELECT`, `WITH`, `VALUES` or `TABLE`, or PostgreSQL refuses it in the
   * read-only transaction) runs through `pool.query` on every call, is never shared with another
   * call and never stored.
   * @throws ValkitError `VALKIT_INVALID_ARGUMENT` without `tables`, for an invalid table name, a
   *   table that does not exist or (without `autoInstall`) has no trigger; PostgreSQL's errors as
   *   `pg` reports them.
   *
   * @example
   * ```ts
   * const { rows } = await queries.query<{ id: number; name: string }>(
   *   'SELECT u.id, u.name FROM users u JOIN orgs o ON o.id = u.org_id WHERE o.slug = $1',
   *   [slug],
   *   { tables: ['users', 'orgs'], ttl: '10m' },
   * )
   * ```
   */
  query<R = Record<string, unknown>>(
    sql: string,
    params: readonly unknown[],
    options: QueryCacheQueryOptions,
  ): Promise<QueryCacheResult<R>>
  /**
   * Creates the trigger function and a statement trigger on each table (when missing), in one
   * transaction under an advisory lock: idempotent, safe to run from many instances at once.
   * @throws ValkitError `VALKIT_INVALID_ARGUMENT` for an invalid name, a missing table or a view.
   *
   * @example
   * ```ts
   * await queries.install({ tables: ['users', 'orgs', 'billing.invoices'] }) // e.g. in a migration
   * ```
   */
  install(options: QueryCacheInstallOptions): Promise<InstallResult>
  /**
   * Drops the triggers (of the given tables, or all of this channel's), the function once unused,
   * and invalidates those tables' cached results.
   *
   * @example
   * ```ts
   * await queries.uninstall({ tables: ['orgs'] })
   * ```
   */
  uninstall(options?: QueryCacheUninstallOptions): Promise<UninstallResult>
  /**
   * Invalidates every cached result of these tables now, in every instance: for read-your-writes
   * right after a write, without waiting for its notification.
   *
   * @example
   * ```ts
   * await pool.query('UPDATE users SET name = $1 WHERE id = $2', [name, id])
   * await queries.invalidate(['users'])
   * ```
   */
  invalidate(tables: readonly string[]): Promise<void>
  /**
   * Resolves once LISTEN is first established (queries are cached from then on); rejects with
   * `VALKIT_CLOSED` if the query cache is closed first.
   *
   * @example
   * ```ts
   * await queries.ready()
   * ```
   */
  ready(): Promise<void>
  /**
   * Counters and the listener's state.
   *
   * @example
   * ```ts
   * const { hits, misses, listening } = queries.stats()
   * ```
   */
  stats(): QueryCacheStats
  /**
   * Stops listening (the listener's connection is destroyed) and sends pending invalidations.
   * The cache and the pool stay open. Idempotent.
   *
   * @example
   * ```ts
   * await queries.close()
   * await pool.end()
   * ```
   */
  close(): Promise<void>
}
