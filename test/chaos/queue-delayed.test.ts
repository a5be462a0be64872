/**
 * 100,000 delayed jobs (due in 30 days) do not make adding or running other jobs cost more:
 * the scripts only look at the delayed jobs that are due (a bounded ZRANGEBYSCORE), so the
 * commands the server runs per job, and the keys it looks up per job, are the same with them
 * as without them. Both are counted by the server (INFO commandstats, keyspace hits and
 * misses) and compared; the throughputs are printed, not asserted. And the delayed jobs stay
 * as they were: none promoted, none run.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { performance } from 'node:perf_hooks'
import { after, before, describe, it, type TestContext } from 'node:test'
import { createValkit, type Valkit } from '../../src/core/index.js'
import { createQueue, createWorker, type BulkJob } from '../../src/queue/index.js'
import { cleanPrefix, startServer, testEngines, waitFor, type ServerHandle } from '../../src/testing/index.js'

const JOBS = 5000
const DELAYED = 100_000
const PRODUCERS = 20
/** Commands that are not the queue's: the health checker's, the launcher's and the test's own. */
const NOT_QUEUE_WORK = new Set(['ping', 'info', 'config', 'client', 'hello', 'select', 'script'])

/** The server's work since the last reset: commands run (scripts' inner commands included) and key lookups. */
interface Work {
  readonly commands: number
  readonly scripts: number
  readonly lookups: number
  /** Microseconds per script call, as the server measured them. */
  readonly usecPerScript: number
  readonly byCommand: Record<string, number>
}

async function resetWork(server: ServerHandle): Promise<void> {
  await server.command('CONFIG', 'RESETSTAT')
}

async function readWork(server: ServerHandle): Promise<Work> {
  const stats = await server.info('commandstats')
  const byCommand: Record<string, number> = {}
  let scripts = 0
  let scriptUsec = 0
  for (const [field, value] of Object.entries(stats)) {
    const name = field.replace(/^cmdstat_/, '')
    const calls = Number(/calls=(\d+)/.exec(value)?.[1] ?? 0)
    if (name === 'evalsha' || name === 'eval') {
      // An EVALSHA answered NOSCRIPT (the first calls on a fresh server) is followed by the EVAL.
      scripts += calls - Number(/failed_calls=(\d+)/.exec(value)?.[1] ?? 0)
      scriptUsec += Number(/usec=(\d+)/.exec(value)?.[1] ?? 0)
    } else if (!NOT_QUEUE_WORK.has(name.split('|')[0]!)) byCommand[name] = calls
  }
  const keyspace = await server.info('stats')
  return {
    commands: Object.values(byCommand).reduce((a, b) => a + b, 0),
    scripts,
    lookups: Number(keyspace.keyspace_hits) + Number(keyspace.keyspace_misses),
    usecPerScript: scripts === 0 ? 0 : scriptUsec / scripts,
    byCommand,
  }
}

interface Phase {
  readonly add: Work
  readonly run: Work
  readonly addPerSecond: number
  readonly runPerSecond: number
}

for (const engine of testEngines()) {
  void describe(`queue chaos: 100k delayed jobs (${engine})`, { timeout: 90_000 }, () => {
    let server: ServerHandle
    let valkit: Valkit
    const prefix = `t-queued-${randomBytes(4).toString('hex')}`

    before(async () => {
      server = await startServer({ engine })
      valkit = createValkit({ url: server.url, env: {}, logger: false, keyPrefix: prefix })
      await valkit.supervisor.waitFor('ready', 10_000)
    })
    after(async () => {
      await valkit?.close()
      if (server?.alive) await cleanPrefix(server, `${prefix}:`)
      await server?.stop()
    })

    /** Adds JOBS jobs (PRODUCERS at a time), then runs them on one worker taking one job per call, counting the server's work for each half. */
    async function measure(name: string): Promise<Phase> {
      const queue = createQueue(valkit, name)
      await resetWork(server)
      let next = 0
      const addStart = performance.now()
      await Promise.all(
        Array.from({ length: PRODUCERS }, async () => {
          while (next < JOBS) await queue.add('work', { n: next++ })
        }),
      )
      const addMs = performance.now() - addStart
      const add = await readWork(server)

      const runs = new Map<string, number>()
      await resetWork(server)
      const runStart = performance.now()
      // One job per call: the same calls per job whatever the timing, so the counts compare exactly.
      const worker = createWorker(valkit, name, (job) => void runs.set(job.id, (runs.get(job.id) ?? 0) + 1), {
        concurrency: 1,
        schedules: false,
      })
      await waitFor(() => runs.size === JOBS, { timeoutMs: 60_000, what: `${JOBS} jobs to run` })
      await worker.close()
      const runMs = performance.now() - runStart
      const run = await readWork(server)

      assert.deepEqual([...new Set(runs.values())], [1], 'each job ran once')
      const counts = await queue.counts()
      assert.equal(counts.totals.completed, JOBS)
      assert.equal(counts.waiting + counts.active, 0)
      await queue.close()
      return {
        add,
        run,
        addPerSecond: Math.round((JOBS / addMs) * 1000),
        runPerSecond: Math.round((JOBS / runMs) * 1000),
      }
    }

    const report = (t: TestContext, label: string, p: Phase): void => {
      const per = (n: number): string => (n / JOBS).toFixed(2)
      t.diagnostic(
        `${label}: add ${p.addPerSecond}/s (${per(p.add.commands)} commands, ${per(p.add.lookups)} key lookups, ${per(p.add.scripts)} scripts of ${p.add.usecPerScript.toFixed(1)} µs per job); ` +
          `run ${p.runPerSecond}/s (${per(p.run.commands)} commands, ${per(p.run.lookups)} key lookups, ${per(p.run.scripts)} scripts of ${p.run.usecPerScript.toFixed(1)} µs per job)`,
      )
    }

    it(`adding and running ${JOBS} jobs costs the server the same per job with ${DELAYED} delayed jobs waiting`, async (t) => {
      const plain = await measure('plain')

      const crowdedQueue = createQueue(valkit, 'crowded')
      const fillStart = performance.now()
      const in30Days = Date.now() + 30 * 24 * 3_600_000
      for (let i = 0; i < DELAYED; i += 1000) {
        const bulk: BulkJob[] = Array.from({ length: 1000 }, (_, k) => ({
          name: 'later',
          data: { k: i + k },
          options: { id: `later:${i + k}`, runAt: in30Days },
        }))
        const results = await crowdedQueue.addBulk(bulk)
        assert.ok(results.every((r) => r.outcome === 'added' && r.state === 'delayed'))
      }
      t.diagnostic(`${DELAYED} delayed jobs added in ${Math.round(performance.now() - fillStart)} ms`)
      const crowded = await measure('crowded')

      report(t, 'without delayed jobs', plain)
      report(t, `with ${DELAYED} delayed jobs`, crowded)
      t.diagnostic(
        `throughput with / without: add ${(crowded.addPerSecond / plain.addPerSecond).toFixed(2)}, run ${(crowded.runPerSecond / plain.runPerSecond).toFixed(2)}; ` +
          `server time per script with / without: add ${(crowded.add.usecPerScript / plain.add.usecPerScript).toFixed(2)}, run ${(crowded.run.usecPerScript / plain.run.usecPerScript).toFixed(2)}`,
      )

      for (const half of ['add', 'run'] as const) {
        const a = plain[half]
        const b = crowded[half]
        assert.equal(b.scripts, a.scripts, `${half}: script calls`)
        // The last call or two may differ (when the worker goes to sleep); not one command more per job.
        t.diagnostic(
          `${half}: ${a.commands} commands and ${a.lookups} key lookups without the delayed jobs, ${b.commands} and ${b.lookups} with them`,
        )
        assert.ok(
          Math.abs(b.commands - a.commands) <= JOBS / 100,
          `${half}: ${b.commands} commands with the delayed jobs, ${a.commands} without\n${JSON.stringify({ with: b.byCommand, without: a.byCommand })}`,
        )
        assert.ok(
          Math.abs(b.lookups - a.lookups) <= JOBS / 100,
          `${half}: ${b.lookups} key lookups with the delayed jobs, ${a.lookups} without`,
        )
      }

      // The delayed jobs are untouched: still delayed, none promoted, none run.
      const queue = createQueue(valkit, 'crowded')
      const counts = await queue.counts()
      assert.equal(counts.delayed, DELAYED)
      assert.equal(counts.totals.added, DELAYED + JOBS)
      assert.equal(counts.totals.completed, JOBS)
      for (const id of ['later:0', `later:${DELAYED / 2}`, `later:${DELAYED - 1}`]) {
        const job = await queue.getJob(id)
        assert.equal(job?.state, 'delayed')
        assert.equal(job.attemptsMade, 0)
      }
      await queue.close()
      await crowdedQueue.close()
    })
  })
}
