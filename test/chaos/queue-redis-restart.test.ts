/**
 * Redis killed (kill -9) and restarted, with the append-only file on and fsync'd on every
 * write, while producers add jobs and workers run them: every add acknowledged as `added`
 * completes, none is lost. At-least-once: a job whose lease ran out during the outage, or whose
 * fetch was applied but never answered, runs again; the duplicates are counted and reported.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { after, before, describe, it } from 'node:test'
import { createValkit, type Valkit } from '../../src/core/index.js'
import { createQueue, createWorker, type Queue, type Worker } from '../../src/queue/index.js'
import { cleanPrefix, startServer, testEngines, waitFor, type ServerHandle } from '../../src/testing/index.js'

const QUEUE = 'restart'
const PRODUCERS = 6
const LEASE_MS = 2000
/** Keep every completed job, so that the store can be asked about each acknowledged one. */
const QUEUE_OPTIONS = { defaultJobOptions: { removeOnComplete: false } } as const

interface Load {
  /** Ids acknowledged as `added`. */
  readonly added: Set<string>
  /** Ids answered `duplicate`: a retried add whose first attempt had been applied. */
  readonly duplicates: Set<string>
  errors: number
  stop(): Promise<void>
}

/** Producers adding jobs as fast as they are acknowledged; odd producers give ids, even ones let the queue number them. */
function startProducers(queues: readonly Queue[]): Load {
  let running = true
  const load: Load = {
    added: new Set(),
    duplicates: new Set(),
    errors: 0,
    stop: async () => {
      running = false
      await Promise.all(loops)
    },
  }
  const loops = Array.from({ length: PRODUCERS }, async (_, p) => {
    const queue = queues[p % queues.length]!
    for (let n = 0; running; n++) {
      try {
        const r = await queue.add('work', { p, n }, p % 2 === 1 ? { id: `order:${p}:${n}` } : undefined)
        if (r.outcome === 'added') load.added.add(r.id)
        else load.duplicates.add(r.id)
      } catch {
        load.errors++
        // Fail-fast while the server is down: do not spin.
        await sleep(10)
      }
    }
  })
  return load
}

for (const engine of testEngines()) {
  void describe(`queue chaos: Redis killed and restarted with AOF (${engine})`, { timeout: 90_000 }, () => {
    let server: ServerHandle
    const prefix = `t-queuer-${randomBytes(4).toString('hex')}`
    const valkits: Valkit[] = []
    const workers: Worker[] = []
    const queues: Queue[] = []

    before(async () => {
      server = await startServer({ engine, aof: true, args: ['--appendfsync', 'always'] })
      for (let i = 0; i < 2; i++) {
        const valkit = createValkit({
          url: server.url,
          env: {},
          logger: false,
          keyPrefix: prefix,
          health: { interval: 100, pingTimeout: 150, failuresToDegrade: 2 },
        })
        await valkit.supervisor.waitFor('ready', 10_000)
        valkits.push(valkit)
        queues.push(createQueue(valkit, QUEUE, QUEUE_OPTIONS))
      }
    })
    after(async () => {
      for (const w of workers) await w.close({ timeout: 1000 })
      for (const q of queues) await q.close()
      for (const v of valkits) await v.close()
      if (server?.alive) await cleanPrefix(server, `${prefix}:`).catch(() => {})
      await server?.stop()
    })

    it('kill -9 and restart under load: every acknowledged add completes; duplicates are counted', async (t) => {
      const runs = new Map<string, number>()
      for (const valkit of valkits) {
        workers.push(
          createWorker(
            valkit,
            QUEUE,
            async (job) => {
              await sleep(5)
              runs.set(job.id, (runs.get(job.id) ?? 0) + 1)
              return job.id
            },
            { concurrency: 8, lease: LEASE_MS, maxStalls: 10, schedules: false, queue: QUEUE_OPTIONS },
          ),
        )
      }
      const load = startProducers(queues)
      await waitFor(() => load.added.size >= 1000 && runs.size >= 500, {
        timeoutMs: 20_000,
        what: 'jobs added and run before the kill',
      })
      const beforeKill = load.added.size
      await server.kill('SIGKILL')
      await waitFor(() => load.errors >= 50, { what: 'producers to see the outage' })
      // The outage outlasts the lease: jobs running at the kill may run again (at-least-once).
      await sleep(LEASE_MS + 500)
      const duringOutage = load.added.size - beforeKill
      await server.restart()
      const afterRestart = load.added.size
      await waitFor(() => load.added.size >= afterRestart + 1000, {
        timeoutMs: 20_000,
        what: 'jobs added after the restart',
      })
      await load.stop()

      const missing = (): string[] => [...load.added, ...load.duplicates].filter((id) => !runs.has(id))
      await waitFor(() => missing().length === 0, {
        timeoutMs: 30_000,
        what: 'every acknowledged job to run',
      }).catch((err: unknown) => {
        throw new Error(
          `${missing().length} acknowledged jobs never ran, e.g. ${missing().slice(0, 5).join(', ')}`,
          {
            cause: err,
          },
        )
      })
      // And the store agrees: each acknowledged job is completed.
      const queue = queues[0]!
      const ids = [...load.added]
      const states = new Map<string, number>()
      for (let i = 0; i < ids.length; i += 200) {
        const jobs = await Promise.all(ids.slice(i, i + 200).map((id) => queue.getJob(id)))
        for (const job of jobs)
          states.set(job?.state ?? 'missing', (states.get(job?.state ?? 'missing') ?? 0) + 1)
      }
      assert.deepEqual(Object.fromEntries(states), { completed: ids.length })
      const counts = await waitFor(
        async () => {
          const c = await queue.counts()
          return c.active === 0 && c.waiting === 0 ? c : undefined
        },
        { what: 'the queue to be empty' },
      )
      assert.equal(counts.dead, 0)
      assert.equal(counts.delayed, 0)

      const ran = [...runs.values()]
      const duplicateRuns = ran.reduce((sum, n) => sum + n - 1, 0)
      const unacknowledgedRan = [...runs.keys()].filter(
        (id) => !load.added.has(id) && !load.duplicates.has(id),
      ).length
      t.diagnostic(
        `acknowledged ${load.added.size} (${beforeKill} before the kill, ${duringOutage} from the kill to the restart, ${
          load.added.size - afterRestart
        } after the restart), add errors ${load.errors}, 'duplicate' answers ${load.duplicates.size}`,
      )
      t.diagnostic(
        `runs ${ran.reduce((a, b) => a + b, 0)} of ${runs.size} jobs: ${duplicateRuns} duplicate runs (at-least-once), ` +
          `${unacknowledgedRan} jobs ran whose add was not acknowledged; stalls ${counts.totals.stalled}, completed total ${counts.totals.completed}`,
      )
    })
  })
}
