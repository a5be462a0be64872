/**
 * The PostgreSQL query cache against a real PostgreSQL (started by the launcher, or
 * VALKIT_TEST_PG_URL) and real Redis/Valkey: results cached and served, invalidated by the
 * triggers' NOTIFY for each kind of write and across instances, the write/read race, the
 * listener's loss and reconnection, install/uninstall, refused input, Redis down.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import pg from 'pg'
import { createValkit, isValkitError, type Valkit } from '../../src/core/index.js'
import { createCache, type Cache } from '../../src/cache/index.js'
import {
  createQueryCache,
  type QueryCache,
  type PgRawQueryConfig,
  type PgResultLike,
  type QueryCacheOptions,
  type QueryCachePool,
} from '../../src/cache/query/index.js'
import {
  cleanPrefix,
  startServer,
  tcpProxy,
  testEngines,
  waitFor,
  type ServerHandle,
} from '../../src/testing/index.js'
import { postgresBinDir, startPostgres, type PostgresHandle } from '../../src/testing/start-postgres.js'

const FALLBACK_URL = 'postgres://postgres@127.0.0.1:5432/test'
const COMMAND_TIMEOUT_MS = 500

/** Where PostgreSQL comes from: VALKIT_TEST_PG_URL, else our own server, else the local one; or why not. */
async function choosePostgres(): Promise<{ url?: string; launch: boolean } | { skip: string }> {
  const url = process.env.VALKIT_TEST_PG_URL?.trim()
  if (url)
    return (await reachable(url))
      ? { url, launch: false }
      : { skip: `VALKIT_TEST_PG_URL (${url}) is not reachable` }
  if (postgresBinDir() !== undefined) return { launch: true }
  if (await reachable(FALLBACK_URL)) return { url: FALLBACK_URL, launch: false }
  return {
    skip: `no PostgreSQL: install its server binaries (apt-get install postgresql) or set VALKIT_TEST_PG_URL (tried ${FALLBACK_URL})`,
  }
}

async function reachable(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 })
  try {
    await client.connect()
    await client.end()
    return true
  } catch {
    return false
  }
}

const source = await choosePostgres()
const skip = 'skip' in source ? source.skip : false
if (skip) console.log(`# query-cache tests skipped: ${skip}`)

const hex = (): string => randomBytes(4).toString('hex')
const USERS = 'SELECT id, name, org_id FROM users ORDER BY id'
const ORGS = 'SELECT id, name FROM orgs ORDER BY id'

/**
 * A real pg.Pool seen through a wrapper that records each statement's text (through `pool.query`
 * and through the clients of `pool.connect()`, where cached loads run) and can hold a result back.
 */
interface WatchedPool {
  readonly pool: pg.Pool
  readonly watched: QueryCachePool
  /** How many times `sql` ran through the pool or one of its clients. */
  runs(sql: string): number
  /** The next run of `sql` reads its rows, resolves `read`, then waits for `release` before answering. */
  hold(sql: string): { read: Promise<void>; release: () => void }
}

function watch(pool: pg.Pool): WatchedPool {
  const ran: string[] = []
  const holds = new Map<string, { read: () => void; released: Promise<void> }>()
  const record = async (config: PgRawQueryConfig, send: () => Promise<PgResultLike>) => {
    const result = await send()
    ran.push(config.text)
    const held = holds.get(config.text)
    if (held !== undefined) {
      holds.delete(config.text)
      held.read()
      await held.released
    }
    return result
  }
  const watched: QueryCachePool = {
    query: (config) => record(config, () => pool.query(config)),
    connect: async () => {
      const client = await pool.connect()
      const wrapped = {
        query: (config: PgRawQueryConfig | string, values?: unknown[]) =>
          typeof config === 'string'
            ? client.query(config, values)
            : record(config, () => client.query(config) as Promise<PgResultLike>),
        on: (event: string, listener: (...args: never[]) => void) =>
          client.on(event as 'error', listener as (err: Error) => void),
        release: (err?: Error | boolean) => client.release(err),
        get processID() {
          return (client as unknown as { processID?: number }).processID
        },
      }
      return wrapped
    },
    options: pool.options,
  }
  return {
    pool,
    watched,
    runs: (sql) => ran.filter((t) => t === sql).length,
    hold(sql) {
      let read!: () => void
      let release!: () => void
      const readP = new Promise<void>((r) => (read = r))
      const released = new Promise<void>((r) => (release = r))
      holds.set(sql, { read, released })
      return { read: readP, release }
    },
  }
}

void describe('query cache (PostgreSQL)', { skip, timeout: 180_000 }, () => {
  let postgres: PostgresHandle | undefined
  let pgUrl: string

  before(async () => {
    if ('skip' in source) return
    if (source.launch) {
      postgres = await startPostgres()
      pgUrl = postgres.url
    } else pgUrl = source.url!
  })
  after(async () => {
    await postgres?.stop()
  })

  for (const engine of testEngines()) {
    void describe(`on ${engine}`, () => {
      let server: ServerHandle
      const prefix = `t-qc-${hex()}`
      const cleanups: (() => Promise<void>)[] = []
      /** A process-local cache for query caches that only install or refuse (their results are not the point). */
      let adminValkit: Valkit
      let localCache: Cache

      before(async () => {
        server = await startServer({ engine })
        adminValkit = createValkit({ url: server.url, env: {}, logger: false, keyPrefix: prefix })
        localCache = createCache(adminValkit, { l2: false })
      })
      after(async () => {
        for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {})
        await localCache?.close()
        await adminValkit?.close()
        if (server?.alive) await cleanPrefix(server, `${prefix}:`)
        await server?.stop()
      })

      /** A fresh schema (users, orgs) and channel for one test; dropped afterwards. */
      async function schema(): Promise<{ name: string; channel: string; admin: pg.Pool }> {
        const name = `qc_${hex()}`
        const admin = newPool(name)
        await admin.query(`CREATE SCHEMA ${name}`)
        await admin.query(`CREATE TABLE users (id int PRIMARY KEY, name text NOT NULL, org_id int)`)
        await admin.query(`CREATE TABLE orgs (id int PRIMARY KEY, name text NOT NULL)`)
        await admin.query(`INSERT INTO orgs VALUES (1, 'Acme'), (2, 'Globex')`)
        await admin.query(`INSERT INTO users VALUES (1, 'Ada', 1), (2, 'Grace', 2)`)
        cleanups.push(async () => {
          await admin.query(`DROP SCHEMA ${name} CASCADE`)
          await admin.end()
        })
        return { name, channel: `qc_${hex()}`, admin }
      }

      function newPool(searchPath: string, max = 4): pg.Pool {
        const pool = new pg.Pool({ connectionString: pgUrl, options: `-c search_path=${searchPath}`, max })
        pool.on('error', () => {}) // an idle client whose backend was terminated
        return pool
      }

      /** One application instance: its own valkit (connections, L1), cache, pg pool and query cache. */
      async function instance(
        s: { name: string; channel: string },
        options: Partial<QueryCacheOptions> = {},
        redisUp = true,
      ): Promise<{ valkit: Valkit; cache: Cache; pool: WatchedPool; qc: QueryCache }> {
        const valkit = createValkit({
          url: server.url,
          env: {},
          logger: false,
          keyPrefix: prefix,
          commandTimeout: COMMAND_TIMEOUT_MS,
        })
        const cache = createCache(valkit, { namespace: `pg-${s.name}`, jitter: 0 })
        if (redisUp) {
          await valkit.supervisor.waitFor('ready', 10_000)
          await cache.ready()
        }
        const pool = watch(newPool(s.name))
        const qc = createQueryCache({
          cache,
          pool: pool.watched,
          channel: s.channel,
          functionSchema: s.name,
          valkit,
          ...options,
        })
        cleanups.push(async () => {
          await qc.close()
          await cache.close()
          await valkit.close()
          await pool.pool.end()
        })
        return { valkit, cache, pool, qc }
      }

      /** Installs the triggers as a migration would: its own pool, a query cache used only for that. */
      async function installed(s: { name: string; channel: string }, ...tables: string[]): Promise<void> {
        const pool = newPool(s.name, 2) // one client for the listener, one for install()
        const qc = createQueryCache({ cache: localCache, pool, channel: s.channel, functionSchema: s.name })
        try {
          await qc.install({ tables })
        } finally {
          await qc.close()
          await pool.end()
        }
      }

      it('a second identical query is served from the cache: the pool runs it once', async () => {
        const s = await schema()
        await installed(s, 'users')
        const a = await instance(s)
        await a.qc.ready()
        const first = await a.qc.query(USERS, [], { tables: ['users'] })
        assert.equal(first.fromCache, false)
        assert.deepEqual(first.rows, [
          { id: 1, name: 'Ada', org_id: 1 },
          { id: 2, name: 'Grace', org_id: 2 },
        ])
        const second = await a.qc.query(USERS, [], { tables: ['users'] })
        assert.equal(second.fromCache, true)
        assert.deepEqual(second.rows, first.rows)
        assert.equal(a.pool.runs(USERS), 1, 'the pool saw one query')
        // Parameters and the user key are part of the cache key.
        const byId = 'SELECT name FROM users WHERE id = $1'
        assert.deepEqual((await a.qc.query(byId, [1], { tables: ['users'] })).rows, [{ name: 'Ada' }])
        assert.deepEqual((await a.qc.query(byId, [2], { tables: ['users'] })).rows, [{ name: 'Grace' }])
        assert.equal((await a.qc.query(byId, [1], { tables: ['users'], key: 'tenant-9' })).fromCache, false)
        assert.equal((await a.qc.query(byId, [1], { tables: ['users'] })).fromCache, true)
        assert.equal(a.pool.runs(byId), 3)
        const stats = a.qc.stats()
        assert.equal(stats.misses, 4)
        assert.equal(stats.hits, 2)
        assert.match(
          a.valkit.metrics.toPrometheus(),
          /valkit_cache_query_hits_total\{namespace="pg-qc_[0-9a-f]+"\} 2/,
        )
      })

      it('results read from L2 by another instance carry the same types as a direct pg query', async () => {
        const s = await schema()
        await s.admin.query(`CREATE TABLE typed (id bigint PRIMARY KEY, at timestamptz, doc jsonb, raw bytea,
          price numeric, tags text[], ratio float8, flag boolean, day date)`)
        await s.admin.query(
          `INSERT INTO typed VALUES (9007199254740993, '2024-05-01T10:00:00Z', '{"a":[1,{"b":null}]}', '\\x00ff',
            '12.50', '{x,"y z"}', 'NaN', true, '2024-02-29'), (2, NULL, NULL, NULL, NULL, NULL, 'Infinity', false, NULL)`,
        )
        await installed(s, 'typed')
        const a = await instance(s)
        const b = await instance(s)
        await Promise.all([a.qc.ready(), b.qc.ready()])
        const sql = 'SELECT * FROM typed ORDER BY id'
        const direct = (await s.admin.query(sql)).rows
        assert.ok(direct[1].at instanceof Date && Buffer.isBuffer(direct[1].raw), 'pg parses these types')
        const loaded = await a.qc.query(sql, [], { tables: ['typed'] })
        const fromL2 = await b.qc.query(sql, [], { tables: ['typed'] })
        assert.equal(fromL2.fromCache, true)
        assert.equal(b.cache.stats().hitsL2, 1, 'b read it from Redis')
        assert.deepEqual(loaded.rows, direct)
        assert.deepEqual(fromL2.rows, direct)
        assert.deepEqual(
          fromL2.fields.map((f) => f.name),
          ['id', 'at', 'doc', 'raw', 'price', 'tags', 'ratio', 'flag', 'day'],
        )
        assert.equal(fromL2.rowCount, 2)
      })

      it('INSERT, UPDATE, DELETE and TRUNCATE each invalidate the cached result', async () => {
        const s = await schema()
        await installed(s, 'users')
        const a = await instance(s)
        await a.qc.ready()
        const names = async () => (await a.qc.query(USERS, [], { tables: ['users'] })).rows.map((r) => r.name)
        assert.deepEqual(await names(), ['Ada', 'Grace'])
        const steps: [string, string[]][] = [
          [`INSERT INTO users VALUES (3, 'Linus', 1)`, ['Ada', 'Grace', 'Linus']],
          [`UPDATE users SET name = 'Ada L.' WHERE id = 1`, ['Ada L.', 'Grace', 'Linus']],
          [`DELETE FROM users WHERE id = 2`, ['Ada L.', 'Linus']],
          [`TRUNCATE users`, []],
        ]
        for (const [statement, expected] of steps) {
          assert.equal(
            (await a.qc.query(USERS, [], { tables: ['users'] })).fromCache,
            true,
            `cached before ${statement}`,
          )
          await s.admin.query(statement)
          await waitFor(async () => JSON.stringify(await names()) === JSON.stringify(expected), {
            what: `the cached result to reflect ${statement.split(' ')[0]}`,
          })
        }
        assert.equal(a.qc.stats().notifications, 4)
        assert.equal(a.pool.runs(USERS), 5, 'one load per write, plus the first')
      })

      it("two instances: a write through instance A's pool invalidates B's cached result", async () => {
        const s = await schema()
        await installed(s, 'users')
        const a = await instance(s)
        const b = await instance(s)
        await Promise.all([a.qc.ready(), b.qc.ready()])
        const sql = 'SELECT name FROM users WHERE id = $1'
        await a.qc.query(sql, [1], { tables: ['users'] })
        const cachedInB = await b.qc.query(sql, [1], { tables: ['users'] })
        assert.equal(cachedInB.fromCache, true, 'B read A’s result from L2')
        assert.equal(
          (await b.qc.query(sql, [1], { tables: ['users'] })).fromCache,
          true,
          'and keeps it in L1',
        )
        await a.pool.pool.query(`UPDATE users SET name = 'Countess' WHERE id = 1`)
        await waitFor(
          async () => (await b.qc.query(sql, [1], { tables: ['users'] })).rows[0]?.name === 'Countess',
          {
            what: 'B to see the write made through A',
          },
        )
        assert.equal(b.pool.runs(sql), 1, 'B loaded it once, after the write')
        assert.equal(a.pool.runs(sql), 1)
        assert.ok(
          b.qc.stats().notifications >= 1 && a.qc.stats().notifications >= 1,
          'both instances heard it',
        )
      })

      it("only the declared table's results are dropped", async () => {
        const s = await schema()
        await installed(s, 'users', 'orgs')
        const a = await instance(s)
        await a.qc.ready()
        const joined =
          'SELECT u.name, o.name AS org FROM users u JOIN orgs o ON o.id = u.org_id ORDER BY u.id'
        await a.qc.query(USERS, [], { tables: ['users'] })
        await a.qc.query(ORGS, [], { tables: ['orgs'] })
        await a.qc.query(joined, [], { tables: ['users', 'orgs'] })
        await s.admin.query(`UPDATE orgs SET name = 'Acme Inc' WHERE id = 1`)
        await waitFor(
          async () => (await a.qc.query(ORGS, [], { tables: ['orgs'] })).rows[0]?.name === 'Acme Inc',
          {
            what: 'the orgs result to be invalidated',
          },
        )
        const join = await a.qc.query<{ org: string }>(joined, [], { tables: ['users', 'orgs'] })
        assert.equal(join.fromCache, false, 'a query declaring both tables is dropped too')
        assert.equal(join.rows[0]?.org, 'Acme Inc')
        const users = await a.qc.query(USERS, [], { tables: ['users'] })
        assert.equal(users.fromCache, true, 'the users-only result survived')
        assert.equal(a.pool.runs(USERS), 1)
      })

      it('invalidate(): read-your-writes without waiting for the notification, in every instance', async () => {
        const s = await schema()
        await installed(s, 'users')
        // Notifications are held for 10 minutes: only invalidate() can explain a fresh read.
        const a = await instance(s, { coalesce: '10m' })
        const b = await instance(s, { coalesce: '10m' })
        await Promise.all([a.qc.ready(), b.qc.ready()])
        await a.qc.query(USERS, [], { tables: ['users'] })
        assert.equal((await b.qc.query(USERS, [], { tables: ['users'] })).fromCache, true)
        await a.pool.pool.query(`UPDATE users SET name = 'Written' WHERE id = 1`)
        await a.qc.invalidate(['users'])
        assert.equal((await a.qc.query(USERS, [], { tables: ['users'] })).rows[0]?.name, 'Written')
        await waitFor(
          async () => (await b.qc.query(USERS, [], { tables: ['users'] })).rows[0]?.name === 'Written',
          {
            what: "B's L1 entry to be dropped by the cache's invalidation message",
          },
        )
        await assert.rejects(a.qc.invalidate(['no_such_table']), /no table "no_such_table" is visible/)
      })

      it('a query that read old rows while a write committed does not store them after the invalidation', async () => {
        const s = await schema()
        await installed(s, 'users')
        const a = await instance(s)
        const b = await instance(s)
        await Promise.all([a.qc.ready(), b.qc.ready()])
        const held = a.pool.hold(USERS)
        const slow = a.qc.query(USERS, [], { tables: ['users'] })
        await held.read // the query has read the old rows; its result is not stored yet
        const before = a.qc.stats().invalidations
        await s.admin.query(`UPDATE users SET name = 'Ada (new)' WHERE id = 1`)
        await waitFor(() => a.qc.stats().invalidations > before && b.qc.stats().invalidations > 0, {
          what: 'the write’s invalidation in both instances',
        })
        held.release()
        const old = await slow
        assert.equal(old.rows[0]?.name, 'Ada', 'the overlapping query answers what it read')
        const next = await a.qc.query(USERS, [], { tables: ['users'] })
        assert.equal(
          next.rows[0]?.name,
          'Ada (new)',
          'the old rows were not stored in L1 after the invalidation',
        )
        assert.equal(next.fromCache, false)
        const other = await b.qc.query(USERS, [], { tables: ['users'] })
        assert.equal(other.rows[0]?.name, 'Ada (new)', 'nor in L2')
      })

      it('losing the LISTEN connection: it reconnects and invalidates every table it knows', async () => {
        const s = await schema()
        await installed(s, 'users', 'orgs')
        let gate: Promise<void> = Promise.resolve()
        let open = (): void => {}
        const pool = newPool(s.name)
        cleanups.push(() => pool.end())
        const a = await instance(s, {
          whileNotListening: 'cache',
          reconnect: { initialDelay: '20ms', maxDelay: '100ms' },
          connectListener: async () => {
            await gate
            return pool.connect()
          },
        })
        await a.qc.ready()
        await a.qc.query(USERS, [], { tables: ['users'] })
        await a.qc.query(ORGS, [], { tables: ['orgs'] })
        gate = new Promise<void>((resolve) => (open = resolve)) // hold the reconnection back
        const pid = a.qc.stats().listenerPid
        assert.ok(pid !== undefined)
        await s.admin.query('SELECT pg_terminate_backend($1)', [pid])
        await waitFor(() => !a.qc.stats().listening, { what: 'the listener to notice its loss' })
        await s.admin.query(`UPDATE users SET name = 'Missed' WHERE id = 1`) // its NOTIFY reaches no one
        const stale = await a.qc.query(USERS, [], { tables: ['users'] })
        assert.equal(stale.fromCache, true, "whileNotListening: 'cache' keeps serving")
        assert.equal(stale.rows[0]?.name, 'Ada', 'the write was not heard')
        open()
        await waitFor(() => a.qc.stats().listening && a.qc.stats().reconnects === 1, {
          what: 'the reconnection',
        })
        const fresh = await a.qc.query(USERS, [], { tables: ['users'] })
        assert.equal(fresh.rows[0]?.name, 'Missed', 'everything known was invalidated on reconnect')
        assert.equal((await a.qc.query(ORGS, [], { tables: ['orgs'] })).fromCache, false, 'orgs too')
        assert.notEqual(a.qc.stats().listenerPid, pid)
        // And it hears writes again.
        await s.admin.query(`UPDATE users SET name = 'Heard' WHERE id = 1`)
        await waitFor(
          async () => (await a.qc.query(USERS, [], { tables: ['users'] })).rows[0]?.name === 'Heard',
          {
            what: 'a write after the reconnection to be heard',
          },
        )
      })

      it('while the listener is down queries read PostgreSQL and store nothing (bypass, the default)', async () => {
        const s = await schema()
        await installed(s, 'users')
        let gate: Promise<void> = Promise.resolve()
        let open = (): void => {}
        const pool = newPool(s.name)
        cleanups.push(() => pool.end())
        const a = await instance(s, {
          reconnect: { initialDelay: '20ms', maxDelay: '100ms' },
          connectListener: async () => {
            await gate
            return pool.connect()
          },
        })
        await a.qc.ready()
        await a.qc.query(USERS, [], { tables: ['users'] })
        gate = new Promise<void>((resolve) => (open = resolve))
        await s.admin.query('SELECT pg_terminate_backend($1)', [a.qc.stats().listenerPid])
        await waitFor(() => !a.qc.stats().listening, { what: 'the listener to notice its loss' })
        await s.admin.query(`UPDATE users SET name = 'Direct' WHERE id = 1`)
        const direct = await a.qc.query(USERS, [], { tables: ['users'] })
        assert.equal(direct.fromCache, false)
        assert.equal(direct.rows[0]?.name, 'Direct')
        await a.qc.query(USERS, [], { tables: ['users'] })
        assert.equal(a.qc.stats().bypassed, 2)
        assert.equal(a.pool.runs(USERS), 3)
        open()
        await waitFor(() => a.qc.stats().listening, { what: 'the reconnection' })
        assert.equal((await a.qc.query(USERS, [], { tables: ['users'] })).rows[0]?.name, 'Direct')
        assert.equal((await a.qc.query(USERS, [], { tables: ['users'] })).fromCache, true, 'cached again')
      })

      it('a silently dead LISTEN connection is found by the heartbeat, and missed writes are invalidated', async () => {
        const s = await schema()
        await installed(s, 'users')
        const target = new URL(pgUrl)
        const proxy = await tcpProxy({ target: { port: Number(target.port) } })
        cleanups.push(() => proxy.close())
        const a = await instance(s, {
          heartbeat: '100ms',
          reconnect: { initialDelay: '20ms', maxDelay: '200ms' },
          // The listener goes through the proxy (a plain client, as for a direct primary connection).
          connectListener: async () => {
            const client = new pg.Client({
              host: proxy.host,
              port: proxy.port,
              user: decodeURIComponent(target.username),
              database: target.pathname.slice(1),
              connectionTimeoutMillis: 500,
            })
            client.on('error', () => {})
            await client.connect()
            return client
          },
        })
        await a.qc.ready()
        await a.qc.query(USERS, [], { tables: ['users'] })
        proxy.blackhole() // nothing is closed: only the heartbeat can tell
        await s.admin.query(`UPDATE users SET name = 'Unheard' WHERE id = 1`)
        await waitFor(() => !a.qc.stats().listening, { what: 'the heartbeat to give the connection up' })
        proxy.heal()
        await waitFor(() => a.qc.stats().listening && a.qc.stats().reconnects === 1, {
          what: 'the reconnection',
        })
        const fresh = await a.qc.query(USERS, [], { tables: ['users'] })
        assert.equal(
          fresh.rows[0]?.name,
          'Unheard',
          'the write missed while blackholed was invalidated on reconnect',
        )
        assert.equal(a.pool.runs(USERS), 2)
      })

      it('schema-per-tenant: the same SQL through pools with different search_paths gives each tenant its own rows', async () => {
        const tenantA = await schema()
        const tenantB = await schema()
        await tenantB.admin.query(`UPDATE users SET name = 'Tenant B only' WHERE id = 1`)
        const channel = tenantA.channel
        await installed({ name: tenantA.name, channel }, `${tenantA.name}.users`, `${tenantB.name}.users`)
        // One cache, one query cache per tenant pool (each pool's search_path names its schema).
        const valkit = createValkit({ url: server.url, env: {}, logger: false, keyPrefix: prefix })
        const cache = createCache(valkit, { namespace: `pg-tenants-${hex()}`, jitter: 0 })
        const tenants = [tenantA, tenantB].map((s) => {
          const pool = newPool(s.name)
          return { pool, qc: createQueryCache({ cache, pool, channel, functionSchema: tenantA.name }) }
        })
        cleanups.push(async () => {
          for (const t of tenants) await t.qc.close()
          await cache.close()
          await valkit.close()
          for (const t of tenants) await t.pool.end()
        })
        await valkit.supervisor.waitFor('ready', 10_000)
        await cache.ready()
        await Promise.all(tenants.map((t) => t.qc.ready()))
        const [a, b] = tenants.map((t) => t.qc)
        const sql = 'SELECT name FROM users WHERE id = 1'
        const read = (qc: QueryCache) => qc.query<{ name: string }>(sql, [], { tables: ['users'] })
        assert.equal((await read(a!)).rows[0]?.name, 'Ada')
        const first = await read(b!)
        assert.equal(first.rows[0]?.name, 'Tenant B only', "tenant B is not served tenant A's row")
        assert.equal(first.fromCache, false)
        assert.equal((await read(a!)).fromCache, true)
        assert.equal((await read(b!)).fromCache, true)
        // Each result is tagged with its own tenant's table: a write to B's drops B's result only.
        await tenantB.admin.query(`UPDATE users SET name = 'Tenant B, later' WHERE id = 1`)
        await waitFor(async () => (await read(b!)).rows[0]?.name === 'Tenant B, later', {
          what: "tenant B's write to invalidate tenant B's result",
        })
        const stillA = await read(a!)
        assert.deepEqual([stillA.rows[0]?.name, stillA.fromCache], ['Ada', true], "A's result survived")
      })

      it('statements that write run once per call, even when identical calls run concurrently', async () => {
        const s = await schema()
        await s.admin.query('CREATE TABLE jobs (id serial PRIMARY KEY, kind text NOT NULL)')
        await installed(s, 'jobs')
        const a = await instance(s)
        await a.qc.ready()
        const count = async () =>
          (await s.admin.query<{ n: number }>('SELECT count(*)::int AS n FROM jobs')).rows[0]!.n
        const insert = 'INSERT INTO jobs (kind) VALUES ($1) RETURNING id'
        const inserted = await Promise.all(
          [1, 2, 3].map(() => a.qc.query(insert, ['email'], { tables: ['jobs'] })),
        )
        assert.deepEqual(
          inserted.map((r) => [r.rowCount, r.fromCache]),
          [
            [1, false],
            [1, false],
            [1, false],
          ],
        )
        assert.equal(new Set(inserted.map((r) => r.rows[0]?.id)).size, 3, 'three rows, three ids')
        assert.equal(await count(), 3)
        assert.equal(a.qc.stats().uncacheable, 3)
      })

      it('a data-modifying WITH or a SELECT that writes is refused by the READ ONLY load and runs on its own', async () => {
        const s = await schema()
        await s.admin.query('CREATE TABLE jobs (id serial PRIMARY KEY, kind text NOT NULL)')
        await installed(s, 'jobs')
        const a = await instance(s)
        await a.qc.ready()
        const count = async () =>
          (await s.admin.query<{ n: number }>('SELECT count(*)::int AS n FROM jobs')).rows[0]!.n
        // A data-modifying WITH reports SELECT; PostgreSQL refuses it in the READ ONLY load and it
        // runs on its own: concurrently and one after the other, every call inserts.
        const cte = 'WITH ins AS (INSERT INTO jobs (kind) VALUES ($1) RETURNING id) SELECT id FROM ins'
        const together = await Promise.all(
          [1, 2, 3].map(() => a.qc.query(cte, ['sms'], { tables: ['jobs'] })),
        )
        assert.equal(new Set(together.map((r) => r.rows[0]?.id)).size, 3)
        for (let i = 0; i < 3; i++) {
          const one = await a.qc.query(cte, ['push'], { tables: ['jobs'] })
          assert.equal(one.fromCache, false)
        }
        assert.equal(await count(), 6)
        // A SELECT that writes through a function (nextval) is refused in the READ ONLY load too.
        const next = "SELECT nextval('jobs_id_seq') AS n"
        const values = await Promise.all([1, 2, 3].map(() => a.qc.query(next, [], { tables: ['jobs'] })))
        assert.equal(new Set(values.map((r) => String(r.rows[0]?.n))).size, 3, 'three sequence values')
        assert.equal(a.qc.stats().hits, 0, 'nothing was served from the cache')
        assert.equal(a.qc.stats().uncacheable, 9)
        // A read is still cached (once the inserts' notifications are in), its load READ ONLY.
        await waitFor(() => a.qc.stats().notifications >= 6, { what: "the inserts' notifications" })
        const mode = "SELECT current_setting('transaction_read_only') AS ro, count(*)::int AS n FROM jobs"
        assert.deepEqual((await a.qc.query(mode, [], { tables: ['jobs'] })).rows, [{ ro: 'on', n: 6 }])
        await waitFor(async () => (await a.qc.query(mode, [], { tables: ['jobs'] })).fromCache, {
          what: 'the read to be served from the cache',
        })
      })

      it('install is idempotent and safe from many instances at once; uninstall takes it back', async () => {
        const s = await schema()
        // Each pool: one client for its listener, one for install() (a pool of 1 would wait forever).
        const pools = Array.from({ length: 4 }, () => newPool(s.name, 2))
        cleanups.push(async () => {
          for (const p of pools) await p.end()
        })
        const cache = localCache
        const caches = pools.map((pool) =>
          createQueryCache({ cache, pool, channel: s.channel, functionSchema: s.name, heartbeat: false }),
        )
        cleanups.push(async () => {
          for (const qc of caches) await qc.close()
        })
        const results = await Promise.all(caches.map((qc) => qc.install({ tables: ['users', 'orgs'] })))
        const created = results.flatMap((r) => r.created).sort()
        assert.deepEqual(created, [`${s.name}.orgs`, `${s.name}.users`], 'each trigger created exactly once')
        assert.equal(results.flatMap((r) => r.unchanged).length, 6)
        const triggers = async (): Promise<unknown[]> =>
          (
            await s.admin.query<{ relname: string; n: number }>(
              `SELECT c.relname, count(*)::int AS n FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
               WHERE t.tgname = $1 GROUP BY c.relname ORDER BY c.relname`,
              [s.channel],
            )
          ).rows
        assert.deepEqual(await triggers(), [
          { relname: 'orgs', n: 1 },
          { relname: 'users', n: 1 },
        ])
        assert.deepEqual(await caches[0]!.install({ tables: ['users', `${s.name}.orgs`] }), {
          created: [],
          enabled: [],
          unchanged: [`${s.name}.users`, `${s.name}.orgs`],
        })
        // A disabled trigger cannot invalidate: query() refuses the table, install() enables it again.
        await s.admin.query(`ALTER TABLE users DISABLE TRIGGER ${s.channel}`)
        const freshPool = newPool(s.name, 2)
        const fresh = createQueryCache({ cache, pool: freshPool, channel: s.channel, functionSchema: s.name })
        cleanups.push(async () => {
          await fresh.close()
          await freshPool.end()
        })
        await assert.rejects(
          fresh.query(USERS, [], { tables: ['users'] }),
          /carries no enabled .* trigger.*install/,
        )
        assert.deepEqual((await fresh.install({ tables: ['users'] })).enabled, [`${s.name}.users`])
        assert.equal((await fresh.query(USERS, [], { tables: ['users'] })).rowCount, 2)

        assert.deepEqual(await caches[2]!.uninstall({ tables: ['orgs'] }), {
          dropped: [`${s.name}.orgs`],
          functionDropped: false,
        })
        assert.deepEqual(await caches[2]!.uninstall({ tables: ['orgs'] }), {
          dropped: [],
          functionDropped: false,
        })
        await assert.rejects(caches[2]!.query(ORGS, [], { tables: ['orgs'] }), (err) =>
          isValkitError(err, 'VALKIT_INVALID_ARGUMENT'),
        )
        assert.deepEqual(await caches[3]!.uninstall(), {
          dropped: [`${s.name}.users`],
          functionDropped: true,
        })
        assert.deepEqual(await triggers(), [])
        const fn = await s.admin.query(`SELECT to_regprocedure($1) AS f`, [`${s.name}.${s.channel}_notify()`])
        assert.equal(fn.rows[0].f, null, 'the function is gone')
      })

      it('undeclared tables and invalid identifiers are refused; autoInstall installs on first use', async () => {
        const s = await schema()
        const a = await instance(s)
        const refused = (code: string) => (err: unknown) => isValkitError(err) && err.code === code
        await assert.rejects(a.qc.query(USERS, [], { tables: [] }), /could never be invalidated/)
        await assert.rejects(a.qc.query(USERS, [], {} as never), refused('VALKIT_INVALID_ARGUMENT'))
        await assert.rejects(
          a.qc.query(USERS, undefined as never, { tables: ['users'] }),
          refused('VALKIT_INVALID_ARGUMENT'),
        )
        for (const bad of [
          'users; DROP TABLE users',
          'a"b',
          'x.y.z',
          '1users',
          '',
          'u'.repeat(64),
          'my table',
          'a.',
        ]) {
          await assert.rejects(
            a.qc.query(USERS, [], { tables: [bad] }),
            refused('VALKIT_INVALID_ARGUMENT'),
            bad,
          )
          await assert.rejects(a.qc.install({ tables: [bad] }), refused('VALKIT_INVALID_ARGUMENT'), bad)
        }
        await assert.rejects(
          a.qc.install({ tables: ['missing_table'] }),
          /no table "missing_table" is visible/,
        )
        await s.admin.query('CREATE VIEW user_names AS SELECT name FROM users')
        await assert.rejects(a.qc.install({ tables: ['user_names'] }), /not a table.*base tables/)
        await assert.rejects(
          a.qc.query(USERS, [], { tables: ['users'] }),
          /install\(\{ tables: \['qc_[0-9a-f]+\.users'\] \}\)/,
        )
        assert.equal(a.pool.runs(USERS), 0, 'a refused query never ran')
        assert.throws(
          () => createQueryCache({ cache: a.cache, pool: a.pool.watched, channel: 'bad-channel' }),
          (err) => isValkitError(err, 'VALKIT_INVALID_OPTION') && /queryCache\.channel/.test(err.message),
        )
        assert.throws(() => createQueryCache({ cache: a.cache, pool: {} as never }), /queryCache\.pool/)
        const auto = await instance({ name: s.name, channel: `qc_${hex()}` }, { autoInstall: true })
        await auto.qc.ready()
        assert.equal((await auto.qc.query(USERS, [], { tables: ['users'] })).rowCount, 2)
        await s.admin.query(`DELETE FROM users WHERE id = 2`)
        await waitFor(async () => (await auto.qc.query(USERS, [], { tables: ['users'] })).rowCount === 1, {
          what: 'the auto-installed trigger to invalidate',
        })
        // A write statement runs every time and is never stored.
        const insert = 'INSERT INTO orgs VALUES ($1, $2) RETURNING id'
        await auto.qc.query(insert, [10, 'Initech'], { tables: ['orgs'] })
        const again = await auto.qc.query(insert, [11, 'Hooli'], { tables: ['orgs'] })
        assert.equal(again.fromCache, false)
        assert.equal((await s.admin.query('SELECT count(*)::int AS n FROM orgs')).rows[0].n, 4)
        assert.equal(auto.qc.stats().uncacheable, 2)
      })

      it('Redis down: queries are still answered from PostgreSQL and writes still invalidate', async () => {
        const s = await schema()
        await installed(s, 'users')
        const a = await instance(s)
        await a.qc.ready()
        await a.qc.query(USERS, [], { tables: ['users'] })
        await server.kill()
        try {
          await waitFor(() => a.valkit.supervisor.state === 'degraded', { what: 'valkit to degrade' })
          const fromL1 = await a.qc.query(USERS, [], { tables: ['users'] })
          assert.equal(fromL1.fromCache, true)
          await s.admin.query(`UPDATE users SET name = 'Offline' WHERE id = 1`)
          await waitFor(
            async () => (await a.qc.query(USERS, [], { tables: ['users'] })).rows[0]?.name === 'Offline',
            {
              what: 'the notification to drop the L1 entry while Redis is down',
            },
          )
          const b = await instance(s, {}, false)
          await b.qc.ready()
          const direct = await b.qc.query(USERS, [], { tables: ['users'] })
          assert.equal(direct.rows[0]?.name, 'Offline', 'a new instance answers from PostgreSQL')
        } finally {
          await server.restart()
        }
      })
    })
  }
})
