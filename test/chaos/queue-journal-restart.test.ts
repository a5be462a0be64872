/**
 * The journal's records are removed only once Redis has the jobs. A process that starts while
 * Redis is still unreachable, with a journal left by a process that was killed, keeps it until
 * Redis answers and then adds every job; a replay asked for while Redis is down fails and
 * keeps the journal as it was.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { producer, type Producer } from './fixtures/queue-producer-handle.js'
import { createValkit, type Valkit } from '../../src/core/index.js'
import { createQueue, type Queue } from '../../src/queue/index.js'
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
    `queue chaos: the journal across a restart during the outage (${engine})`,
    { timeout: 60_000 },
    () => {
      let server: ServerHandle
      let proxy: TcpProxy
      let direct: Valkit
      const prefix = `t-queuejr-${randomBytes(4).toString('hex')}`
      const dir = mkdtempSync(join(tmpdir(), 'valkit-queue-journal-'))
      const valkits: Valkit[] = []
      const queues: Queue[] = []
      const producers: Producer[] = []

      before(async () => {
        server = await startServer({ engine })
        proxy = await tcpProxy({ target: { port: server.port } })
        direct = createValkit({ url: server.url, env: {}, logger: false, keyPrefix: prefix })
        valkits.push(direct)
        await direct.supervisor.waitFor('ready', 10_000)
      })
      after(async () => {
        for (const p of producers) await p.stop()
        for (const q of queues) await q.close()
        for (const v of valkits) await v.close()
        await proxy?.close()
        if (server?.alive) await cleanPrefix(server, `${prefix}:`)
        await server?.stop()
        rmSync(dir, { recursive: true, force: true })
      })

      it('a process started while Redis is still unreachable keeps the journal of the killed one, and adds its jobs when Redis answers', async () => {
        const name = 'journal-restart'
        const path = join(dir, `${engine}-restart.journal`)
        const args = (count: number): string[] => [
          proxy.url,
          prefix,
          name,
          path,
          String(count),
          'push',
          'at-once',
        ]
        proxy.blackhole()
        proxy.resetConnections()
        const crashing = producer(args(-1))
        producers.push(crashing)
        await waitFor(() => crashing.seen.filter((m) => m.event === 'add').length >= 10, {
          what: 'journaled adds',
        })
        crashing.process.kill('SIGKILL')
        await crashing.stop()
        const acknowledged = crashing.seen.filter((m) => m.event === 'add').map((m) => String(m.id))

        // The application comes back up while Redis is still unreachable.
        const next = producer(args(0))
        producers.push(next)
        const opened = await next.next('journal')
        assert.ok(
          Number(opened.size) >= acknowledged.length,
          `the new process's journal holds the ${acknowledged.length} acknowledged jobs (it has ${String(opened.size)})`,
        )
        proxy.heal()
        proxy.resetConnections()
        await next.next('journal', (m) => m.size === 0)
        const queue = createQueue(direct, name)
        queues.push(queue)
        let missing = acknowledged
        await waitFor(
          async () => {
            const jobs = await Promise.all(missing.map((id) => queue.getJob(id)))
            missing = missing.filter((_, i) => jobs[i] === undefined)
            return missing.length === 0
          },
          { timeoutMs: 5000, what: 'the journaled jobs in Redis' },
        ).catch((err: unknown) => {
          throw new Error(`${missing.length} of ${acknowledged.length} journaled jobs were lost`, {
            cause: err,
          })
        })
      })

      it('replayJournal() while Redis is unreachable fails and keeps the journaled jobs', async () => {
        const name = 'journal-replay-down'
        const path = join(dir, `${engine}-replay.journal`)
        const valkit = createValkit({
          url: proxy.url,
          env: {},
          logger: false,
          keyPrefix: prefix,
          health: HEALTH,
        })
        valkits.push(valkit)
        await valkit.supervisor.waitFor('ready', 10_000)
        const queue = createQueue(valkit, name, { journal: { path } })
        queues.push(queue)
        proxy.blackhole()
        proxy.resetConnections()
        await waitFor(() => !valkit.connection.isReady, { what: 'the connection to be down' })
        assert.equal((await queue.add('ping', null, { id: 'ping:1' })).outcome, 'journaled')
        assert.equal(await queue.journaled(), 1)

        await assert.rejects(queue.replayJournal(), { code: 'VALKIT_UNAVAILABLE' })
        assert.equal(await queue.journaled(), 1, 'the failed replay keeps the record')

        proxy.heal()
        proxy.resetConnections()
        await valkit.supervisor.waitFor('ready', 20_000)
        await waitFor(async () => (await queue.journaled()) === 0, { what: 'the replay on recovery' })
        assert.equal((await queue.getJob('ping:1'))?.state, 'waiting')
      })
    },
  )
}
