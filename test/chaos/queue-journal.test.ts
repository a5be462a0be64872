/**
 * The local journal while Redis is unreachable. A producer cut off from Redis (a TCP proxy
 * blackholes and resets its connection) keeps adding: each add is written to the journal file
 * and answered `journaled`; jobs without an id get one (`journal:<uuid>`). When the network
 * heals, the journal is replayed by itself, once per job id — an id Redis already has, or one
 * journaled twice, is added once — and workers run every job once. And a producer killed
 * (SIGKILL) while cut off loses none of its journaled adds: a new process opening the same
 * journal once Redis answers adds them, once. (A new process that opens the journal while
 * Redis is still away: queue-journal-restart.test.ts.)
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { producer, type Producer } from './fixtures/queue-producer-handle.js'
import { createValkit, isValkitError, type Valkit } from '../../src/core/index.js'
import { createQueue, createWorker, type AddResult, type Queue, type Worker } from '../../src/queue/index.js'
import {
  cleanPrefix,
  startServer,
  tcpProxy,
  testEngines,
  waitFor,
  type ServerHandle,
  type TcpProxy,
} from '../../src/testing/index.js'

const HEALTH = { interval: 100, pingTimeout: 150, failuresToDegrade: 2 }

for (const engine of testEngines()) {
  void describe(
    `queue chaos: the journal while Redis is unreachable (${engine})`,
    { timeout: 90_000 },
    () => {
      let server: ServerHandle
      let proxy: TcpProxy
      let direct: Valkit
      const prefix = `t-queuej-${randomBytes(4).toString('hex')}`
      const dir = mkdtempSync(join(tmpdir(), 'valkit-queue-journal-'))
      const valkits: Valkit[] = []
      const queues: Queue[] = []
      const workers: Worker[] = []
      const producers: Producer[] = []

      /** Runs every job of `name` on a worker of `direct`; returns the runs per id. */
      const runAll = (name: string): Map<string, number> => {
        const runs = new Map<string, number>()
        workers.push(
          createWorker(direct, name, (job) => void runs.set(job.id, (runs.get(job.id) ?? 0) + 1), {
            concurrency: 4,
            schedules: false,
          }),
        )
        return runs
      }
      /** Cuts the proxy's clients off: every byte dropped, open connections reset. */
      const cut = (): void => {
        proxy.blackhole()
        proxy.resetConnections()
      }
      const heal = (): void => {
        proxy.heal()
        proxy.resetConnections()
      }

      before(async () => {
        server = await startServer({ engine })
        proxy = await tcpProxy({ target: { port: server.port } })
        direct = createValkit({ url: server.url, env: {}, logger: false, keyPrefix: prefix })
        valkits.push(direct)
        await direct.supervisor.waitFor('ready', 10_000)
      })
      after(async () => {
        for (const p of producers) await p.stop()
        for (const w of workers) await w.close({ timeout: 1000 })
        for (const q of queues) await q.close()
        for (const v of valkits) await v.close()
        await proxy?.close()
        if (server?.alive) await cleanPrefix(server, `${prefix}:`)
        await server?.stop()
        rmSync(dir, { recursive: true, force: true })
      })

      it('adds while cut off are journaled, then replayed once per job id when the network heals', async (t) => {
        const name = 'journal-heal'
        const path = join(dir, `${engine}-heal.journal`)
        const valkit = createValkit({
          url: proxy.url,
          env: {},
          logger: false,
          keyPrefix: prefix,
          health: HEALTH,
          commandTimeout: 300,
        })
        valkits.push(valkit)
        await valkit.supervisor.waitFor('ready', 10_000)
        const queue = createQueue(valkit, name, { journal: { path } })
        queues.push(queue)
        assert.deepEqual(await queue.add('email', { to: 'ada' }, { id: 'email:ada' }), {
          id: 'email:ada',
          outcome: 'added',
          state: 'waiting',
        })

        cut()
        await valkit.supervisor.waitFor('degraded', 10_000)
        await waitFor(() => !valkit.connection.isReady, { what: 'the connection to be down' })
        const results: AddResult[] = []
        // An id Redis already has, two new ones (one of them twice), three without an id.
        for (const id of ['email:ada', 'email:bob', 'email:eve', 'email:bob'])
          results.push(await queue.add('email', { to: id }, { id }))
        for (let i = 0; i < 3; i++) results.push(await queue.add('email', { to: `anon-${i}` }))
        assert.deepEqual(
          results.map((r) => r.outcome),
          Array<string>(7).fill('journaled'),
        )
        assert.deepEqual(
          results.map((r) => r.state),
          Array<string>(7).fill('journaled'),
        )
        assert.deepEqual(
          results.slice(0, 4).map((r) => r.id),
          ['email:ada', 'email:bob', 'email:eve', 'email:bob'],
        )
        const auto = results.slice(4).map((r) => r.id)
        for (const id of auto) assert.match(id, /^journal:[0-9a-f-]{36}$/)
        assert.equal(new Set(auto).size, 3)
        assert.ok(existsSync(path) && statSync(path).size > 0, 'the journal file holds them')
        assert.equal(await queue.journaled(), 7)
        assert.equal(
          await direct.connection.command(['EXISTS', direct.keys.key('queue', name, 'j:email:bob')]),
          0,
        )

        heal()
        await valkit.supervisor.waitFor('ready', 20_000)
        await waitFor(async () => (await queue.journaled()) === 0, { what: 'the journal to be replayed' })
        assert.equal(statSync(path).size, 0, 'the replayed records are gone from the file')

        const runs = runAll(name)
        const expected = ['email:ada', 'email:bob', 'email:eve', ...auto].sort()
        await waitFor(() => runs.size === expected.length, { what: 'every job to run' })
        assert.deepEqual([...runs.keys()].sort(), expected)
        assert.deepEqual([...runs.values()], Array<number>(expected.length).fill(1), 'each job ran once')
        const counts = await waitFor(
          async () => {
            const c = await queue.counts()
            return c.totals.completed === expected.length ? c : undefined
          },
          { what: 'the completions to be stored' },
        )
        assert.equal(counts.totals.added, expected.length, 'one add per job id')
        assert.equal(counts.waiting + counts.active + counts.delayed + counts.dead, 0)
        t.diagnostic(
          `journaled 7 adds (${expected.length - 1} new job ids); the replay added ${counts.totals.added - 1} jobs`,
        )
      })

      it('a producer killed (SIGKILL) while cut off: a new process with the same journal adds its jobs once', async (t) => {
        const name = 'journal-crash'
        const path = join(dir, `${engine}-crash.journal`)
        const args = (count: number, open: 'at-once' | 'when-ready'): string[] => [
          proxy.url,
          prefix,
          name,
          path,
          String(count),
          'sms',
          open,
        ]
        cut()
        const crashing = producer(args(-1, 'at-once'))
        producers.push(crashing)
        await waitFor(() => crashing.seen.filter((m) => m.event === 'add').length >= 20, {
          timeoutMs: 20_000,
          what: 'journaled adds',
        })
        crashing.process.kill('SIGKILL')
        await crashing.stop()
        const adds = crashing.seen.filter((m) => m.event === 'add')
        assert.deepEqual([...new Set(adds.map((m) => m.outcome))], ['journaled'])
        assert.equal(crashing.seen.filter((m) => m.event === 'add-error').length, 0)
        const acknowledged = adds.map((m) => String(m.id))
        assert.ok(statSync(path).size > 0)

        heal()
        const next = producer(args(0, 'when-ready'))
        producers.push(next)
        await next.next('journal', (m) => m.size === 0)
        const queue = createQueue(direct, name)
        queues.push(queue)
        // Every acknowledged add is in Redis; a record the killed process wrote without reporting it may be too.
        let missing = acknowledged
        await waitFor(
          async () => {
            const jobs = await Promise.all(missing.map((id) => queue.getJob(id)))
            missing = missing.filter((_, i) => jobs[i] === undefined)
            return missing.length === 0
          },
          { timeoutMs: 5000, what: 'the journaled jobs in Redis' },
        ).catch((err: unknown) => {
          throw new Error(`${missing.length} of ${acknowledged.length} journaled jobs were not replayed`, {
            cause: err,
          })
        })
        const counts = await queue.counts()
        assert.ok(
          counts.totals.added >= acknowledged.length && counts.totals.added <= acknowledged.length + 1,
        )
        const added = counts.totals.added

        // Once: the journal is empty now, so a third process replays nothing.
        await next.stop()
        const third = producer(args(0, 'when-ready'))
        producers.push(third)
        await third.next('journal', (m) => m.size === 0)
        await third.stop()
        const runs = runAll(name)
        await waitFor(() => runs.size === added, { what: 'every job to run' })
        assert.deepEqual([...new Set(runs.values())], [1], 'each job ran once')
        for (const id of acknowledged) assert.equal(runs.get(id), 1)
        assert.equal((await queue.counts()).totals.added, added, 'nothing was added twice')
        t.diagnostic(
          `${acknowledged.length} adds acknowledged as journaled before the kill; ${added} jobs replayed by the next process`,
        )
      })

      it('an add whose connection drops with it in flight is journaled only with an id: without one it may have been applied', async () => {
        const name = 'journal-in-flight'
        const path = join(dir, `${engine}-in-flight.journal`)
        const valkit = createValkit({ url: proxy.url, env: {}, logger: false, keyPrefix: prefix })
        valkits.push(valkit)
        await valkit.supervisor.waitFor('ready', 10_000)
        const queue = createQueue(valkit, name, { journal: { path } })
        queues.push(queue)
        await queue.add('warm-up', null, { id: 'warm-up' })
        const turn = () => new Promise((resolve) => setImmediate(resolve))
        try {
          // Held by the proxy: the server never sees them, but the client cannot know that.
          proxy.pause()
          const anonymous = queue.add('email', { to: 'anon' }).catch((err: unknown) => err)
          await turn()
          await turn()
          const named = queue.add('email', { to: 'ada' }, { id: 'email:ada' })
          await turn()
          await turn()
          proxy.resetConnections()
          const err = await anonymous
          assert.ok(isValkitError(err, 'VALKIT_UNAVAILABLE'), String(err))
          assert.equal(err.details?.maybeApplied, true)
          assert.equal((await named).outcome, 'journaled')
          assert.equal(await queue.journaled(), 1, 'only the add with an id is in the journal')
        } finally {
          proxy.heal()
        }
      })
    },
  )
}
