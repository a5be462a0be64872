import { ValkitError } from '../../core/index.js'
import { installedTables, qualifiedName, triggerNames, type TriggerNames } from './catalog.js'
import { parseTableList } from './identifiers.js'
import { InvalidationBatcher } from './invalidation-batcher.js'
import { NotifyListener } from './notify-listener.js'
import type { PgTypeParsers } from './pg-types.js'
import {
  resolveQueryCacheOptions,
  type QueryCacheOptions,
  type ResolvedQueryCacheOptions,
} from './query-cache-options.js'
import { registerQueryCacheMetrics, type QueryCacheMetrics } from './query-cache-metrics.js'
import type {
  QueryCache,
  QueryCacheInstallOptions,
  QueryCacheQueryOptions,
  QueryCacheResult,
  QueryCacheStats,
  QueryCacheUninstallOptions,
} from './query-cache-types.js'
import { queryKey } from './query-key.js'
import { runDirect, runReadOnly } from './read-only-load.js'
import { decodeStored, isStored, type DecodedResult, type StoredResult } from './stored-result.js'
import { firstKeyword, mayBeCached } from './statement-kind.js'
import { TableRegistry, tableTag } from './table-registry.js'
import { installTriggers, uninstallTriggers, type InstallResult, type UninstallResult } from './triggers.js'

/**
 * Thrown by a loader whose statement turned out not to be a read: PostgreSQL refused it in the
 * READ ONLY transaction (`stored` undefined: it did not run), or it ran there and its command
 * is not `SELECT`. Never stored; every caller runs the statement itself.
 */
class Uncacheable extends Error {
  constructor(
    readonly stored: StoredResult | undefined,
    readonly command: string,
  ) {
    super('not a read: not cached')
  }
}

/** Loaded at runtime only (a variable, so the type checker does not need pg's types either). */
const PG_MODULE: string = 'pg'

/** Statements remembered for the one warning each gets when found uncacheable. */
const MAX_WARNED = 1000
/** Statements remembered as writers (refused in a READ ONLY transaction): run outside the cache at once. */
const MAX_WRITERS = 1000

function invalid(message: string, argument: string): ValkitError {
  return new ValkitError('VALKIT_INVALID_ARGUMENT', message, { details: { argument } })
}

function closedError(): ValkitError {
  return new ValkitError('VALKIT_CLOSED', 'This query cache is closed.')
}

/**
 * Creates a PostgreSQL query cache on a valkit {@link Cache}. Results are stored with one tag
 * per declared table (`pg:<schema>.<table>`); statement triggers (see `install()`) NOTIFY on
 * every INSERT, UPDATE, DELETE and TRUNCATE, and every instance LISTENs on a dedicated
 * connection and invalidates the table's tag, which drops the results from L2 and every
 * instance's L1. Options are validated here (`VALKIT_INVALID_OPTION` naming the path); it
 * starts listening at once, `ready()` resolves when it does.
 *
 * @example
 * ```ts
 * import pg from 'pg'
 * import { createValkit } from 'valkit'
 * import { createCache, createQueryCache } from 'valkit/cache'
 *
 * const valkit = createValkit({ url: process.env.REDIS_URL })
 * const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL })
 * const cache = createCache(valkit, { namespace: 'pg', ttl: '10m' })
 * const queries = createQueryCache({ cache, pool, valkit })
 * await queries.install({ tables: ['users', 'orgs'] }) // once, e.g. in a migration
 * await queries.ready()
 *
 * const { rows } = await queries.query('SELECT * FROM users WHERE org_id = $1', [orgId], { tables: ['users'] })
 * ```
 */
export function createQueryCache(options: QueryCacheOptions): QueryCache {
  return new PgQueryCache(resolveQueryCacheOptions(options))
}

/** @internal */
class PgQueryCache implements QueryCache {
  private readonly names: TriggerNames
  private readonly tables: TableRegistry
  private readonly listener: NotifyListener
  private readonly batcher: InvalidationBatcher
  private readonly metrics: QueryCacheMetrics | undefined
  private readonly decoded = new WeakMap<StoredResult, DecodedResult>()
  private readonly warned = new Set<string>()
  /** SQL texts found to write although they start like a read (a data-modifying WITH, a writing function). */
  private readonly writers = new Set<string>()
  private parsers: Promise<PgTypeParsers> | undefined
  private parsersNow: PgTypeParsers | undefined
  private closed = false
  private hits = 0
  private misses = 0
  private bypassed = 0
  private uncacheable = 0
  private notifications = 0
  private invalidations = 0

  constructor(private readonly o: ResolvedQueryCacheOptions) {
    this.names = triggerNames(o.channel, o.functionSchema)
    this.tables = new TableRegistry(o.pool, this.names, o.autoInstall, async (tables) => {
      const result = await installTriggers(o.pool, this.names, tables, o.lockTimeoutMs)
      return result.tables
    })
    this.metrics =
      o.metrics === undefined
        ? undefined
        : registerQueryCacheMetrics(o.metrics, o.cache.name, () =>
            this.closed ? undefined : this.listener.listening,
          )
    this.batcher = new InvalidationBatcher(o.coalesceMs, (tags) => this.invalidateTags(tags))
    this.listener = new NotifyListener({
      channel: o.channel,
      connect: o.connectListener ?? (() => o.pool.connect()),
      initialDelayMs: o.reconnect.initialDelayMs,
      maxDelayMs: o.reconnect.maxDelayMs,
      heartbeatMs: o.heartbeatMs,
      logger: o.logger,
      onNotify: (payload) => this.onNotify(payload),
      onListening: (reconnect) => this.onListening(reconnect),
      onLost: () => {
        o.logger?.warn('cache query: stopped listening for table changes', {
          channel: o.channel,
          whileNotListening: o.whileNotListening,
        })
      },
    })
  }

  async query<R = Record<string, unknown>>(
    sql: string,
    params: readonly unknown[],
    options: QueryCacheQueryOptions,
  ): Promise<QueryCacheResult<R>> {
    if (this.closed) throw closedError()
    if (typeof sql !== 'string' || sql.trim() === '')
      throw invalid('query() needs the SQL text as a non-empty string.', 'sql')
    if (!Array.isArray(params)) throw invalid('query() params must be an array (use [] for none).', 'params')
    if (typeof options !== 'object' || options === null) {
      throw invalid("query() needs options with the tables it reads: { tables: ['users'] }.", 'options')
    }
    const declared = parseTableList(options.tables, 'query() options.tables')
    const userKey: unknown = options.key
    if (userKey !== undefined && typeof userKey !== 'string')
      throw invalid('query() options.key must be a string.', 'key')
    const ttl = options.ttl ?? this.o.ttlMs
    const verified = this.tables.forQuery(declared)
    const qualified = Array.isArray(verified) ? verified : await verified
    // A statement that may write runs on its own, every time: never shared with a concurrent
    // identical call (three concurrent INSERTs are three INSERTs).
    if (!mayBeCached(sql)) return this.uncached<R>(sql, params, firstKeyword(sql) || 'unknown')
    if (this.writers.has(sql)) return this.uncached<R>(sql, params, 'writes in a read-only transaction')
    // The tables the names resolved to (through this pool's search_path) are part of the key.
    const key = queryKey(sql, params, userKey, qualified)
    if (!this.listener.listening && this.o.whileNotListening === 'bypass') {
      this.bypassed++
      this.metrics?.bypass.inc()
      const stored = await this.run(sql, params)
      if (stored.c !== 'SELECT') this.noteUncacheable(sql, stored.c)
      return this.answer<R>(stored, false)
    }
    const tags = qualified.map(tableTag)
    let ran = false
    let value: unknown
    try {
      value = await this.o.cache.getOrSet(
        key,
        () => {
          ran = true
          return this.load(sql, params)
        },
        ttl === undefined ? { tags } : { tags, ttl },
      )
    } catch (err) {
      if (!(err instanceof Uncacheable)) throw err
      // This call's own run answers it; a caller that shared another's run runs the statement itself.
      if (ran && err.stored !== undefined) {
        this.noteUncacheable(sql, err.command)
        return this.answer<R>(err.stored, false)
      }
      return this.uncached<R>(sql, params, err.command)
    }
    // The load found that it writes but the cache answered with an older value (grace): run it.
    if (this.writers.has(sql)) return this.uncached<R>(sql, params, 'writes in a read-only transaction')
    // Something else is stored under this key (not our format): read PostgreSQL.
    if (!isStored(value)) return this.answer<R>(await this.run(sql, params), false)
    if (ran) {
      this.misses++
      this.metrics?.miss.inc()
    } else {
      this.hits++
      this.metrics?.hit.inc()
    }
    return this.answer<R>(value, !ran)
  }

  async install(options: QueryCacheInstallOptions): Promise<InstallResult> {
    if (this.closed) throw closedError()
    if (typeof options !== 'object' || options === null) {
      throw invalid("install() needs { tables: ['users', ...] }.", 'options')
    }
    const declared = parseTableList(options.tables, 'install() tables')
    const { tables, ...result } = await installTriggers(
      this.o.pool,
      this.names,
      declared,
      this.o.lockTimeoutMs,
    )
    this.tables.installed(tables)
    return result
  }

  async uninstall(options: QueryCacheUninstallOptions = {}): Promise<UninstallResult> {
    if (this.closed) throw closedError()
    if (typeof options !== 'object' || options === null)
      throw invalid('uninstall() options must be an object.', 'options')
    const declared =
      options.tables === undefined ? undefined : parseTableList(options.tables, 'uninstall() tables')
    const result = await uninstallTriggers(this.o.pool, this.names, declared, this.o.lockTimeoutMs)
    this.tables.forgetVerified()
    // Their results could no longer be invalidated by writes: drop them now.
    if (result.dropped.length > 0) await this.invalidateTags(result.dropped.map(tableTag))
    return result
  }

  async invalidate(tables: readonly string[]): Promise<void> {
    if (this.closed) throw closedError()
    const qualified = await this.tables.resolve(parseTableList(tables, 'invalidate() tables'))
    await this.invalidateTags(qualified.map(tableTag), true)
  }

  ready(): Promise<void> {
    return this.listener.firstListen
  }

  stats(): QueryCacheStats {
    return {
      hits: this.hits,
      misses: this.misses,
      bypassed: this.bypassed,
      uncacheable: this.uncacheable,
      notifications: this.notifications,
      invalidations: this.invalidations,
      reconnects: this.listener.reconnects,
      listening: this.listener.listening,
      listenerPid: this.listener.pid,
    }
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    await this.listener.close(closedError())
    await this.batcher.flush()
  }

  /** Runs a statement outside the cache, through the pool. */
  private run(sql: string, params: readonly unknown[]): Promise<StoredResult> {
    return runDirect(this.o.pool, sql, params)
  }

  /** Runs a statement that does not only read: on its own, every time, counted in `uncacheable`. */
  private async uncached<R>(
    sql: string,
    params: readonly unknown[],
    command: string,
  ): Promise<QueryCacheResult<R>> {
    this.noteUncacheable(sql, command)
    return this.answer<R>(await this.run(sql, params), false)
  }

  /**
   * A cached load (a miss), in a READ ONLY transaction: throws {@link Uncacheable} (and remembers
   * the statement as a writer) when PostgreSQL refused it there or its command is not `SELECT`.
   */
  private async load(sql: string, params: readonly unknown[]): Promise<StoredResult> {
    const stored = await runReadOnly(this.o.pool, sql, params)
    if (stored === 'refused') {
      this.rememberWriter(sql)
      throw new Uncacheable(undefined, 'writes in a read-only transaction')
    }
    if (stored.c !== 'SELECT') {
      this.rememberWriter(sql)
      throw new Uncacheable(stored, stored.c)
    }
    return stored
  }

  private rememberWriter(sql: string): void {
    if (this.writers.size >= MAX_WRITERS) this.writers.delete(this.writers.values().next().value!)
    this.writers.add(sql)
  }

  private noteUncacheable(sql: string, command: string): void {
    this.uncacheable++
    this.warnUncacheable(sql, command)
  }

  /** The result as the caller gets it; decoded once per stored object (an L1 hit reuses it). */
  private async answer<R>(stored: StoredResult, fromCache: boolean): Promise<QueryCacheResult<R>> {
    let decoded = this.decoded.get(stored)
    if (decoded === undefined) {
      decoded = decodeStored(stored, this.parsersNow ?? (await this.typeParsers()))
      this.decoded.set(stored, decoded)
    }
    return {
      rows: decoded.rows as R[],
      rowCount: decoded.rowCount,
      fields: decoded.fields,
      command: decoded.command,
      fromCache,
    }
  }

  private typeParsers(): Promise<PgTypeParsers> {
    this.parsers ??= (async () => {
      const configured = this.o.types ?? this.o.pool.options?.types
      if (configured !== undefined) return configured
      // pg is an optional peer: loaded only here, by an application that uses it.
      const pg = (await import(PG_MODULE)) as {
        types?: PgTypeParsers
        default?: { types?: PgTypeParsers }
      }
      const types = pg.types ?? pg.default?.types
      if (types === undefined) {
        throw new ValkitError(
          'VALKIT_INVALID_OPTION',
          "Invalid option `queryCache.types`: pg.types could not be loaded. Expected pg.types or the pool's `types`.",
          { details: { path: 'queryCache.types' } },
        )
      }
      return types
    })()
    this.parsers.then(
      (parsers) => {
        this.parsersNow = parsers
      },
      () => {
        this.parsers = undefined
      },
    )
    return this.parsers
  }

  private warnUncacheable(sql: string, command: string): void {
    if (this.warned.size >= MAX_WARNED || this.warned.has(sql)) return
    this.warned.add(sql)
    // The statement's text stays out of the log: it may carry values.
    this.o.logger?.warn(
      'cache query: a statement that does not only read ran through query(); it runs every time and is never cached',
      { command },
    )
  }

  private onNotify(payload: string): void {
    if (this.closed || payload.length === 0 || payload.length > 200) return
    this.notifications++
    this.metrics?.notification.inc()
    this.batcher.add(tableTag(payload))
  }

  /**
   * LISTEN is (again) active. Anything written while it was not may have been missed: every
   * table this instance has cached results of is invalidated (after a reconnect also every
   * table carrying the trigger, whose results other instances may have stored), before the
   * listener counts as listening.
   */
  private async onListening(reconnect: boolean): Promise<void> {
    const targets = new Set(this.tables.known)
    if (reconnect || this.o.invalidateOnStart) {
      this.tables.forgetVerified()
      try {
        for (const t of await installedTables({ pool: this.o.pool }, this.names)) {
          targets.add(qualifiedName(t.schema, t.table))
        }
      } catch (err) {
        this.o.logger?.warn('cache query: could not list the tables carrying the trigger', {
          error: err instanceof Error ? err.message : String(err),
        })
      }
    }
    if (targets.size > 0) await this.invalidateTags([...targets].map(tableTag))
    if (reconnect) {
      this.metrics?.reconnect.inc()
      this.o.logger?.info(
        'cache query: listening again; invalidated every table it may have missed writes to',
        {
          channel: this.o.channel,
          tables: targets.size,
        },
      )
    }
  }

  /** Invalidates tags in the cache; a failure is logged (or, for a caller's `invalidate()`, thrown). */
  private async invalidateTags(tags: string[], rethrow = false): Promise<void> {
    try {
      await this.o.cache.invalidateTags(tags)
      this.invalidations += tags.length
      this.metrics?.invalidation.inc(tags.length)
    } catch (err) {
      if (rethrow) throw err
      this.o.logger?.warn('cache query: invalidation failed', {
        tags: tags.length,
        error: err instanceof Error ? err.message : String(err),
      })
    }
  }
}
