/**
 * Workers that die or freeze mid-job. A worker process killed (SIGKILL) while it runs a job
 * loses the job's lease: another worker runs it again and completes it, and the job's record
 * counts the second attempt and the stall. A worker stopped (SIGSTOP) past its lease loses the
 * job the same way; when it runs again, its late completion is refused as stale: the stored
 * result is the second worker's and the queue counts one completion. A job that stalls more
 * often than `maxStalls` goes to the dead letters instead of running a third time.
 */
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { after, before, describe, it } from 'node:test'
import { createValkit, type Valkit } from '../../src/core/index.js'
import { createQueue, createWorker, type Job, type Worker } from '../../src/queue/index.js'
import { parseEntry } from '../../src/queue/job-record.js'
import { cleanPrefix, startServer, testEngines, waitFor, type ServerHandle } from '../../src/testing/index.js'

const CHILD = fileURLToPath(new URL('./fixtures/queue-worker-child.ts', import.meta.url))
const CHILD_LEASE_MS = 1000

type Message = Record<string, unknown>

interface ChildWorker {
  readonly process: ChildProcess
  readonly seen: Message[]
  /** The first message of `event` that matches `where`, once it has come. */
  next(event: string, where?: (m: Message) => boolean): Promise<Message>
  send(line: string): void
  /** Kills the child if it still runs and waits for its exit. */
  stop(): Promise<void>
}

/** A worker process (fixtures/queue-worker-child.ts) on `queue`, once it is ready. */
async function childWorker(url: string, prefix: string, queue: string): Promise<ChildWorker> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', CHILD, url, prefix, queue, String(CHILD_LEASE_MS)],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  )
  const exited = new Promise((resolve) => child.once('exit', resolve).once('error', resolve))
  const seen: Message[] = []
  createInterface({ input: child.stdout }).on('line', (line) => seen.push(JSON.parse(line) as Message))
  const handle: ChildWorker = {
    process: child,
    seen,
    next: (event, where = () => true) =>
      waitFor(() => seen.find((m) => m.event === event && where(m)), {
        timeoutMs: 20_000,
        what: `the worker process to report ${event}`,
      }),
    send: (line) => void child.stdin.write(`${line}\n`),
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGCONT')
        child.kill('SIGKILL')
      }
      await exited
    },
  }
  await handle.next('ready')
  return handle
}

for (const engine of testEngines()) {
  void describe(`queue chaos: workers killed and frozen mid-job (${engine})`, { timeout: 90_000 }, () => {
    let server: ServerHandle
    let valkit: Valkit
    const prefix = `t-queuex-${randomBytes(4).toString('hex')}`
    const children: ChildWorker[] = []
    const workers: Worker[] = []
    const spawnWorker = async (queue: string): Promise<ChildWorker> => {
      const child = await childWorker(server.url, prefix, queue)
      children.push(child)
      return child
    }
    /** A worker in this process that completes every job with `{ by: 'parent' }`. */
    const parentWorker = (queue: string, runs: Job[], maxStalls = 1): Worker => {
      const worker = createWorker(
        valkit,
        queue,
        (job) => {
          runs.push(job)
          return { by: 'parent' }
        },
        { lease: '5s', maxStalls, schedules: false },
      )
      workers.push(worker)
      return worker
    }
    /** The queue's events for `id`, read from its stream. */
    const eventsOf = async (queue: string, id: string): Promise<string[]> => {
      const reply = (await server.command('XRANGE', valkit.keys.key('queue', queue, 'e'), '-', '+')) as [
        string,
        string[],
      ][]
      // One entry holds the events of one script call (docs/queue.md): parsed as the store does.
      const out: string[] = []
      for (const [entry, fields] of reply)
        for (const e of parseEntry(entry, fields))
          if (e.jobId === id) out.push(e.type === 'stalled' ? `stalled:${e.final ? 1 : 0}` : e.type)
      return out
    }

    before(async () => {
      server = await startServer({ engine })
      valkit = createValkit({ url: server.url, env: {}, logger: false, keyPrefix: prefix })
      await valkit.supervisor.waitFor('ready', 10_000)
    })
    after(async () => {
      for (const c of children) await c.stop()
      for (const w of workers) await w.close({ timeout: 1000 })
      await valkit?.close()
      if (server?.alive) await cleanPrefix(server, `${prefix}:`)
      await server?.stop()
    })

    it('a worker killed (SIGKILL) mid-job: the job runs again elsewhere and completes; attempts and stalls count it', async () => {
      const name = 'stall-kill'
      const queue = createQueue(valkit, name)
      const first = await spawnWorker(name)
      assert.deepEqual(await queue.add('resize', { image: 7 }, { id: 'image:7' }), {
        id: 'image:7',
        outcome: 'added',
        state: 'waiting',
      })
      const started = await first.next('started')
      assert.deepEqual({ ...started, token: 0 }, { event: 'started', id: 'image:7', attempt: 1, token: 0 })
      first.process.kill('SIGKILL')
      await first.stop()

      const runs: Job[] = []
      parentWorker(name, runs)
      const done = await waitFor(
        async () => {
          const job = await queue.getJob('image:7')
          return job?.state === 'completed' ? job : undefined
        },
        { what: 'the job to complete on the second worker' },
      )
      assert.equal(runs.length, 1)
      assert.equal(runs[0]!.attempt, 2)
      assert.ok(runs[0]!.token > Number(started.token), 'the new lease has a higher fencing token')
      assert.deepEqual(done.result, { by: 'parent' })
      assert.equal(done.attemptsMade, 2)
      assert.equal(done.stalls, 1)
      const counts = await queue.counts()
      assert.equal(counts.totals.stalled, 1)
      assert.equal(counts.totals.completed, 1)
      assert.equal(counts.active, 0)
      assert.deepEqual(await eventsOf(name, 'image:7'), [
        'added',
        'active',
        'stalled:0',
        'active',
        'completed',
      ])
      await queue.close()
    })

    it('a worker frozen (SIGSTOP) past its lease: another completes the job; resumed, its late completion is refused as stale', async () => {
      const name = 'stall-freeze'
      const queue = createQueue(valkit, name)
      const frozen = await spawnWorker(name)
      await queue.add('charge', { order: 42 }, { id: 'order:42' })
      const started = await frozen.next('started')
      assert.equal(started.attempt, 1)
      frozen.process.kill('SIGSTOP')

      const runs: Job[] = []
      parentWorker(name, runs)
      await waitFor(async () => (await queue.getJob('order:42'))?.state === 'completed', {
        what: 'the job to complete on the second worker',
      })
      assert.equal(runs.length, 1)
      assert.equal(runs[0]!.attempt, 2)
      assert.ok(runs[0]!.token > Number(started.token))

      frozen.process.kill('SIGCONT')
      // Its first lease extension after the freeze tells the resumed worker that the lease is gone.
      await frozen.next('lost', (m) => m.id === 'order:42')
      frozen.send('finish')
      // Its completion is refused as stale: it counts it so, and never reports the job completed.
      const outcomes = await frozen.next('outcomes', (m) => m.stale === 1)
      assert.equal(outcomes.lost, 1)
      assert.equal(outcomes.completed ?? 0, 0)

      const job = await queue.getJob('order:42')
      assert.equal(job?.state, 'completed')
      assert.deepEqual(job.result, { by: 'parent' }, "the stored result is the second worker's")
      assert.equal(job.attemptsMade, 2)
      assert.equal(job.stalls, 1)
      const counts = await queue.counts()
      assert.equal(counts.totals.completed, 1, 'the store counts one completion')
      assert.equal(counts.completed, 1)
      assert.deepEqual(
        (await queue.list('completed')).map((j) => j.id),
        ['order:42'],
      )
      assert.deepEqual(await eventsOf(name, 'order:42'), [
        'added',
        'active',
        'stalled:0',
        'active',
        'completed',
      ])
      await queue.close()
    })

    it('a job that stalls more often than maxStalls goes to the dead letters, with the stalls as its error', async () => {
      const name = 'stall-twice'
      const queue = createQueue(valkit, name)
      const tokens: number[] = []
      for (let attempt = 1; attempt <= 2; attempt++) {
        const child = await spawnWorker(name)
        if (attempt === 1) await queue.add('flaky', null, { id: 'flaky:1' })
        const started = await child.next('started')
        assert.equal(started.attempt, attempt)
        tokens.push(Number(started.token))
        child.process.kill('SIGKILL')
        await child.stop()
      }
      assert.ok(tokens[1]! > tokens[0]!)

      const runs: Job[] = []
      parentWorker(name, runs, 1)
      const dead = await waitFor(
        async () => {
          const job = await queue.getJob('flaky:1')
          return job?.state === 'dead' ? job : undefined
        },
        { what: 'the job to be dead-lettered' },
      )
      assert.equal(runs.length, 0, 'it did not run a third time')
      assert.equal(dead.stalls, 2)
      assert.equal(dead.attemptsMade, 2)
      assert.equal(dead.errors.at(-1)?.code, 'VALKIT_JOB_STALLED')
      const counts = await queue.counts()
      assert.equal(counts.dead, 1)
      assert.equal(counts.totals.stalled, 2)
      assert.equal(counts.totals.dead, 1)
      assert.deepEqual(await eventsOf(name, 'flaky:1'), [
        'added',
        'active',
        'stalled:0',
        'active',
        'stalled:1',
      ])
      await queue.close()
    })
  })
}
