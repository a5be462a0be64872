/**
 * The fenced database write of docs/coord.md, against a real PostgreSQL: the row keeps the
 * highest fencing token that wrote it, and an UPDATE (or an upsert) from a holder whose token
 * is older changes nothing.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import pg from 'pg'
import { createCoord, type AcquireResult, type Lease } from '../../src/coord/index.js'
import { testEngines } from '../../src/testing/index.js'
import { postgresBinDir, startPostgres, type PostgresHandle } from '../../src/testing/start-postgres.js'
import { serverPerSuite } from '../support/with-valkit.js'

const skip =
  postgresBinDir() === undefined ? 'no PostgreSQL server binaries (apt-get install postgresql)' : false

function leaseOf(result: AcquireResult): Lease {
  assert.equal(result.acquired, true)
  return (result as { lease: Lease }).lease
}

void describe('coord: a fenced PostgreSQL write', { skip, timeout: 120_000 }, () => {
  let postgres: PostgresHandle
  let pool: pg.Pool
  before(async () => {
    postgres = await startPostgres()
    pool = new pg.Pool({ connectionString: postgres.url, max: 2 })
    await pool.query(
      'CREATE TABLE invoices (id int PRIMARY KEY, total int NOT NULL, fence bigint NOT NULL DEFAULT 0)',
    )
  })
  after(async () => {
    await pool?.end()
    await postgres?.stop()
  })

  for (const engine of testEngines().slice(0, 1)) {
    void describe(`tokens from ${engine}`, () => {
      const suite = serverPerSuite(engine, 't-coordpg')

      it('a holder whose lock ran out cannot overwrite the row a newer holder wrote', async () => {
        const coord = createCoord(suite.valkit)
        await pool.query('INSERT INTO invoices (id, total) VALUES (42, 0)')
        const update = (total: number, token: number) =>
          pool.query('UPDATE invoices SET total = $1, fence = $2 WHERE id = $3 AND fence <= $2', [
            total,
            token,
            42,
          ])
        // The first holder stalls past its TTL (it never releases); the second takes over.
        const stale = leaseOf(await coord.acquire('invoice:42', { ttl: 100 }))
        const fresh = leaseOf(await coord.acquire('invoice:42', { wait: '10s' }))
        assert.equal((await update(200, fresh.token)).rowCount, 1)
        assert.equal((await update(100, stale.token)).rowCount, 0, 'the stale write changed nothing')
        const upsert = await pool.query(
          `INSERT INTO invoices (id, total, fence) VALUES ($1, $2, $3)
           ON CONFLICT (id) DO UPDATE SET total = EXCLUDED.total, fence = EXCLUDED.fence
           WHERE invoices.fence <= EXCLUDED.fence`,
          [42, 150, stale.token],
        )
        assert.equal(upsert.rowCount, 0, 'nor did a stale upsert')
        const row = await pool.query<{ total: number; fence: string }>(
          'SELECT total, fence FROM invoices WHERE id = 42',
        )
        assert.deepEqual(row.rows[0], { total: 200, fence: String(fresh.token) })
        await fresh.release()
        await coord.close()
      })
    })
  }
})
