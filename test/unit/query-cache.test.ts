/**
 * The query cache's pure parts: table names and quoting, cache keys, the stored result and
 * its decoding, option validation, notification coalescing and the reconnect backoff.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { isValkitError } from '../../src/core/index.js'
import type { Cache } from '../../src/cache/index.js'
import { parseTableList, parseTableName, quoteIdent } from '../../src/cache/query/identifiers.js'
import { InvalidationBatcher } from '../../src/cache/query/invalidation-batcher.js'
import { backoff } from '../../src/cache/query/notify-listener.js'
import { resolveQueryCacheOptions, type QueryCachePool } from '../../src/cache/query/index.js'
import { queryKey } from '../../src/cache/query/query-key.js'
import { firstKeyword, isReadOnlyRefusal, mayBeCached } from '../../src/cache/query/statement-kind.js'
import { decodeStored, isStored, toStored } from '../../src/cache/query/stored-result.js'
import type { PgField, PgTypeParsers } from '../../src/cache/query/pg-types.js'

const invalidArgument = (err: unknown) => isValkitError(err, 'VALKIT_INVALID_ARGUMENT')

void describe('query cache: table names', () => {
  void it('accepts table and schema.table, quoted for SQL, case kept', () => {
    assert.deepEqual(parseTableName('users'), { schema: undefined, table: 'users', quoted: '"users"' })
    assert.deepEqual(parseTableName('Billing.Invoice$2'), {
      schema: 'Billing',
      table: 'Invoice$2',
      quoted: '"Billing"."Invoice$2"',
    })
    assert.equal(quoteIdent('a"b'), '"a""b"')
  })

  void it('refuses anything that is not one or two plain identifiers of at most 63 bytes', () => {
    const bad: unknown[] = [
      '',
      'users;drop',
      'a b',
      '"users"',
      'a.b.c',
      '.a',
      'a.',
      '9lives',
      'ü'.repeat(32),
      'x'.repeat(64),
      7,
      null,
    ]
    for (const name of bad) assert.throws(() => parseTableName(name), invalidArgument, String(name))
    assert.doesNotThrow(() => parseTableName('x'.repeat(63)))
  })

  void it('a table list must be non-empty; duplicates collapse', () => {
    assert.throws(() => parseTableList([], 'tables'), /could never be invalidated/)
    assert.throws(() => parseTableList(undefined, 'tables'), invalidArgument)
    assert.equal(parseTableList(['users', 'users', 'orgs'], 'tables').length, 2)
  })
})

void describe('query cache: keys', () => {
  const k = (sql: string, params: unknown[], key?: string) => queryKey(sql, params, key, ['public.users'])

  void it('is stable for equal input and keeps SQL and values out of the key', () => {
    const key = k('SELECT * FROM users WHERE email = $1', ['ada@example.com'])
    assert.equal(key, k('SELECT * FROM users WHERE email = $1', ['ada@example.com']))
    assert.match(key, /^pgq:[A-Za-z0-9_-]{43}$/)
    assert.ok(!key.includes('ada'))
  })

  void it('differs whenever pg could send something different', () => {
    const keys = [
      k('SELECT $1', [1]),
      k('SELECT $1', ['1']),
      k('SELECT $1', [1n]),
      k('SELECT $1', [true]),
      k('SELECT $1', [[1, 2]]),
      k('SELECT $1', [[[1], [2]]]),
      k('SELECT $1', ['a', 'b']),
      k('SELECT $1', ['ab']),
      k('SELECT $1', [Buffer.from('ab')]),
      k('SELECT $1', [new Date(0)]),
      k('SELECT $1', [{ a: 1 }]),
      k('SELECT $1', [{ toPostgres: () => 'x' }]),
      k('SELECT $1', [null]),
      k('SELECT $1', []),
      k('SELECT $1 ', [1]),
      k('SELECT $1', [1], 'tenant-1'),
    ]
    assert.equal(new Set(keys).size, keys.length)
    assert.equal(k('SELECT $1', [null]), k('SELECT $1', [undefined]), 'both are NULL for pg')
  })

  void it('differs by the tables the names resolved to (schema-per-tenant), not by their order', () => {
    const sql = 'SELECT name FROM users'
    const tenantA = queryKey(sql, [], undefined, ['tenant_a.users'])
    const tenantB = queryKey(sql, [], undefined, ['tenant_b.users'])
    assert.notEqual(tenantA, tenantB, 'one SQL text, two search_paths, two tables: two keys')
    assert.equal(
      queryKey(sql, [], undefined, ['app.users', 'app.orgs']),
      queryKey(sql, [], undefined, ['app.orgs', 'app.users', 'app.orgs']),
    )
    assert.notEqual(queryKey(sql, [], undefined, ['a.bc']), queryKey(sql, [], undefined, ['a.b', 'c']))
    assert.notEqual(queryKey(sql, [], 'x', []), queryKey(sql, [], undefined, ['x']))
  })

  void it('refuses parameters pg cannot send', () => {
    const circular: Record<string, unknown> = {}
    circular.self = circular
    assert.throws(() => k('SELECT $1', [() => 1]), invalidArgument)
    assert.throws(() => k('SELECT $1', [Symbol('s')]), invalidArgument)
    assert.throws(() => k('SELECT $1', [circular]), /\$1 is an object that cannot be serialized/)
  })
})

void describe('query cache: which statements may be cached', () => {
  void it('reads the first keyword past whitespace, comments and parentheses', () => {
    assert.equal(firstKeyword('  select 1'), 'SELECT')
    assert.equal(
      firstKeyword('-- note\n\t/* a /* nested */ comment */ (( With x AS (SELECT 1) TABLE x'),
      'WITH',
    )
    assert.equal(firstKeyword('INSERT INTO t VALUES (1)'), 'INSERT')
    assert.equal(firstKeyword('-- only a comment'), '')
    assert.equal(firstKeyword('"quoted"'), '')
  })

  void it('only SELECT, WITH, VALUES and TABLE go through the cache; anything else runs on its own', () => {
    for (const sql of [
      'SELECT 1',
      'with x as (select 1) select * from x',
      'VALUES (1)',
      'TABLE users',
      '(SELECT 1)',
    ])
      assert.equal(mayBeCached(sql), true, sql)
    for (const sql of [
      'INSERT INTO jobs VALUES ($1) RETURNING kind',
      'UPDATE users SET name = $1',
      'DELETE FROM users',
      'MERGE INTO t USING s ON true WHEN MATCHED THEN DELETE',
      'CALL enqueue($1)',
      'EXPLAIN ANALYZE SELECT 1',
      'COPY users TO STDOUT',
      'SELECTX 1',
      '/* unterminated comment SELECT 1',
    ])
      assert.equal(mayBeCached(sql), false, sql)
  })

  void it("recognises PostgreSQL's refusal in a read-only transaction by its SQLSTATE", () => {
    assert.equal(
      isReadOnlyRefusal({ code: '25006', message: 'cannot execute INSERT in a read-only transaction' }),
      true,
    )
    assert.equal(isReadOnlyRefusal({ code: '42601' }), false)
    assert.equal(isReadOnlyRefusal(new Error('cannot execute INSERT in a read-only transaction')), false)
  })
})

void describe('query cache: stored results', () => {
  const field = (name: string, dataTypeID: number): PgField => ({
    name,
    tableID: 0,
    columnID: 0,
    dataTypeID,
    dataTypeSize: -1,
    dataTypeModifier: -1,
    format: 'text',
  })
  const parsers: PgTypeParsers = {
    getTypeParser: (oid) => (oid === 23 ? (text) => Number(text) : (text) => `<${text}>`),
  }

  void it('decodes like pg: objects in column order, parsers per type, NULL kept, a later duplicate wins', () => {
    const stored = toStored({
      command: 'SELECT',
      rowCount: 2,
      fields: [field('id', 23), field('name', 25), field('id', 25), field('__proto__', 25)],
      rows: [
        ['1', 'Ada', '7', 'p'],
        ['2', null, null, null],
      ],
    })
    assert.ok(isStored(JSON.parse(JSON.stringify(stored))), 'the stored form survives JSON')
    const decoded = decodeStored(stored, parsers)
    assert.deepEqual(Object.keys(decoded.rows[0] as object), ['id', 'name', '__proto__'])
    const [first, second] = decoded.rows as Record<string, unknown>[]
    assert.equal(first!.id, '<7>')
    assert.equal(first!.name, '<Ada>')
    assert.equal(Object.getPrototypeOf(first), Object.prototype, 'a __proto__ column is a plain property')
    assert.equal(Object.getOwnPropertyDescriptor(first, '__proto__')?.value, '<p>')
    assert.equal(second!.name, null)
    assert.equal(decoded.rowCount, 2)
  })

  void it('recognises only its own format', () => {
    assert.equal(isStored({ rows: [] }), false)
    assert.equal(isStored(null), false)
    assert.equal(isStored({ v: 2, c: 'SELECT', f: [], r: [] }), false)
  })
})

void describe('query cache: options', () => {
  // Only the shapes are checked here; the integration tests use real caches and pools.
  const cache = { getOrSet: async () => undefined, invalidateTags: async () => {} } as unknown as Cache
  const pool = { query: async () => ({}), connect: async () => ({}) } as unknown as QueryCachePool

  void it('applies defaults and parses durations', () => {
    const o = resolveQueryCacheOptions({ cache, pool, coalesce: '20ms', heartbeat: false, ttl: '1m' })
    assert.equal(o.channel, 'valkit_query_cache')
    assert.equal(o.functionSchema, 'public')
    assert.equal(o.autoInstall, false)
    assert.equal(o.whileNotListening, 'bypass')
    assert.equal(o.coalesceMs, 20)
    assert.equal(o.heartbeatMs, false)
    assert.equal(o.ttlMs, 60_000)
    assert.deepEqual(o.reconnect, { initialDelayMs: 100, maxDelayMs: 10_000 })
  })

  void it('names the option path of a bad value', () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ cache: {}, pool }, 'queryCache.cache'],
      [{ cache, pool: {} }, 'queryCache.pool'],
      [{ cache, pool, channel: 'has-dash' }, 'queryCache.channel'],
      [{ cache, pool, channel: 'c'.repeat(57) }, 'queryCache.channel'],
      [{ cache, pool, functionSchema: 'a.b' }, 'queryCache.functionSchema'],
      [{ cache, pool, whileNotListening: 'serve' }, 'queryCache.whileNotListening'],
      [{ cache, pool, coalesce: 'soon' }, 'queryCache.coalesce'],
      [{ cache, pool, reconnect: { initialDelay: '1s', maxDelay: '10ms' } }, 'queryCache.reconnect.maxDelay'],
      [{ cache, pool, ttl: 0 }, 'queryCache.ttl'],
      [{ cache, pool, autoInstall: 'yes' }, 'queryCache.autoInstall'],
      [{ cache, pool, types: {} }, 'queryCache.types'],
    ]
    for (const [options, path] of cases) {
      assert.throws(
        () => resolveQueryCacheOptions(options as never),
        (err) => isValkitError(err, 'VALKIT_INVALID_OPTION') && err.details?.path === path,
        path,
      )
    }
  })
})

void describe('query cache: coalescing and backoff', () => {
  void it('notifications within the window become one invalidation of their distinct tags', async () => {
    const batches: string[][] = []
    const batcher = new InvalidationBatcher(5, async (tags) => void batches.push(tags))
    for (let i = 0; i < 100; i++) batcher.add(i % 2 === 0 ? 'pg:s.users' : 'pg:s.orgs')
    await batcher.flush()
    assert.deepEqual(batches, [['pg:s.users', 'pg:s.orgs']])
    batcher.add('pg:s.users')
    await batcher.flush()
    assert.equal(batches.length, 2, 'a later notification is a new batch')
  })

  void it('backoff doubles up to its cap, jittered within the upper half', () => {
    for (let attempt = 1; attempt < 40; attempt++) {
      const ceiling = Math.min(1000, 50 * 2 ** (attempt - 1))
      const delay = backoff(50, 1000, attempt)
      assert.ok(delay >= ceiling / 2 && delay <= ceiling, `attempt ${attempt}: ${delay}`)
    }
  })
})
