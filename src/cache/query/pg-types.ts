/**
 * The parts of `pg` (node-postgres) the query cache uses, described structurally so that `pg`
 * stays an optional peer: a `pg.Pool` and its clients fit these shapes, and nothing here loads
 * `pg` at runtime.
 */

/**
 * A column of a result, as `pg` describes it (`FieldDef`).
 *
 * @example
 * ```ts
 * const names = result.fields.map((f: PgField) => f.name)
 * ```
 */
export interface PgField {
  readonly name: string
  readonly tableID: number
  readonly columnID: number
  readonly dataTypeID: number
  readonly dataTypeSize: number
  readonly dataTypeModifier: number
  readonly format: string
}

/**
 * Turns the text of a column into a value: what `pg.types.getTypeParser(oid, 'text')` returns.
 *
 * @example
 * ```ts
 * const parseNumeric: PgTypeParser = (text) => Number(text)
 * ```
 */
export type PgTypeParser = (text: string) => unknown

/**
 * Where type parsers come from: `pg.types`, or a pool's `types` option (`CustomTypesConfig`).
 *
 * @example
 * ```ts
 * import pg from 'pg'
 * const types: PgTypeParsers = pg.types
 * ```
 */
export interface PgTypeParsers {
  getTypeParser(oid: number, format?: 'text' | 'binary'): PgTypeParser
}

/**
 * The query config the query cache sends: cells as raw text, rows as arrays, the extended
 * protocol (one statement). Statements run outside the cache go to `pool.query`; a cached load
 * (a miss) goes to `client.query` on a client from `pool.connect()`, between `BEGIN READ ONLY`
 * and `COMMIT`. A wrapper around a pool receives exactly this, in both places.
 *
 * @example
 * ```ts
 * const timed: QueryCachePool = {
 *   query: async (config: PgRawQueryConfig) => {
 *     const started = performance.now()
 *     try { return await pool.query(config) } finally { histogram.observe(performance.now() - started) }
 *   },
 *   connect: () => pool.connect(),
 *   options: pool.options,
 * }
 * ```
 */
export interface PgRawQueryConfig {
  readonly text: string
  readonly values: unknown[]
  readonly rowMode: 'array'
  readonly types: PgTypeParsers
  readonly queryMode: 'extended'
  readonly binary: false
}

/**
 * What a query resolves with (the fields of `pg.QueryResult` the query cache reads).
 *
 * @example
 * ```ts
 * const result: PgResultLike = await pool.query(config)
 * ```
 */
export interface PgResultLike {
  readonly command: string
  readonly rowCount: number | null
  readonly rows: unknown[]
  readonly fields: readonly PgField[]
}

/**
 * A LISTEN notification (`pg.Notification`).
 *
 * @example
 * ```ts
 * client.on('notification', (message: PgNotification) => console.log(message.channel, message.payload))
 * ```
 */
export interface PgNotification {
  readonly channel: string
  readonly payload?: string | undefined
  readonly processId: number
}

/**
 * A connected client: a `pg.PoolClient` (from `pool.connect()`) or a `pg.Client` made for the
 * listener. The listener needs `on('notification' | 'error' | 'end')`; `release` (a pool client)
 * or `end` (a plain client) gives it up.
 *
 * @example
 * ```ts
 * import pg from 'pg'
 * const connectListener = async (): Promise<QueryCacheClient> => {
 *   const client = new pg.Client({ connectionString: process.env.PRIMARY_URL })
 *   await client.connect()
 *   return client
 * }
 * ```
 */
export interface QueryCacheClient {
  query(text: string, values?: unknown[]): Promise<{ readonly rows: unknown[] }>
  on(event: 'notification', listener: (message: PgNotification) => void): unknown
  on(event: 'error', listener: (err: Error) => void): unknown
  on(event: 'end', listener: () => void): unknown
  /** A pool client: given back (or destroyed with a truthy argument). */
  release?(err?: Error | boolean): void
  /** A plain client: closed. */
  end?(): Promise<void>
  /** The backend's process id, once connected (`pg.Client#processID`). */
  readonly processID?: number | null
}

/**
 * A client checked out of the pool (`pg.PoolClient`): cached loads run on it inside a READ ONLY
 * transaction, so PostgreSQL refuses a statement that would write.
 *
 * @example
 * ```ts
 * const client: QueryCachePoolClient = await pool.connect()
 * try {
 *   await client.query('BEGIN READ ONLY')
 *   const result = await client.query(config)
 *   await client.query('COMMIT')
 * } finally {
 *   client.release?.()
 * }
 * ```
 */
export interface QueryCachePoolClient extends QueryCacheClient {
  query(config: PgRawQueryConfig): Promise<PgResultLike>
  query(text: string, values?: unknown[]): Promise<{ readonly rows: unknown[] }>
}

/**
 * The pool the query cache reads through: a `pg.Pool` fits.
 *
 * @example
 * ```ts
 * import pg from 'pg'
 * const pool: QueryCachePool = new pg.Pool({ connectionString: process.env.DATABASE_URL })
 * ```
 */
export interface QueryCachePool {
  /** Runs statements outside the cache (and catalog lookups). */
  query(config: PgRawQueryConfig): Promise<PgResultLike>
  /** A client for a cached load (and, by default, the listener's connection). */
  connect(): Promise<QueryCachePoolClient>
  /** The pool's options: a `types` override here is used to parse cached rows. */
  readonly options?: { readonly types?: PgTypeParsers | undefined }
}
