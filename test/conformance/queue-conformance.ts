/**
 * The job queue contract, written once and run against every backend: the memory backend (no
 * server), standalone Redis and Valkey, and a Cluster. A behaviour that differs between
 * backends is a bug unless docs/queue.md documents it (it documents none).
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { afterEach, it } from 'node:test'
import { isValkitError, type Valkit } from '../../src/core/index.js'
import {
  createQueue,
  createWorker,
  FatalJobError,
  type Job,
  type JobRecord,
  type Processor,
  type Queue,
  type QueueEvent,
  type QueueOptions,
  type Worker,
  type WorkerOptions,
} from '../../src/queue/index.js'
import { waitFor } from '../../src/testing/index.js'

/** The backend a conformance run uses. */
export interface QueueBackend {
  /** `memory`: the in-process store; `redis`: Redis or Valkey, standalone or Cluster. */
  readonly kind: 'memory' | 'redis'
  /** The instance queues and workers are opened on. */
  readonly valkit: Valkit
  /**
   * A second instance on the same data, as another process would be: its own connection on
   * Redis; on the memory backend the same instance (the in-process store lives in it).
   */
  readonly peer: Valkit
}

interface Gate {
  readonly promise: Promise<void>
  open(): void
}

function gate(): Gate {
  let open!: () => void
  const promise = new Promise<void>((resolve) => (open = resolve))
  return { promise, open }
}

/**
 * Reads a queue's events from `from` (only new ones when undefined) until `done(seen)` holds,
 * or 10 s pass. Breaking out between two events leaves no read in flight, so the queue closes at once.
 */
async function readEvents(
  queue: Queue,
  from: string | undefined,
  done: (seen: readonly QueueEvent[]) => boolean,
): Promise<QueueEvent[]> {
  const seen: QueueEvent[] = []
  const signal = AbortSignal.timeout(10_000)
  for await (const e of queue.events({ ...(from !== undefined && { from }), signal })) {
    seen.push(e)
    if (done(seen)) break
  }
  return seen
}

/** The types of job `id`'s events, in order; `stalled` events carry `:final` or `:requeued`. */
function typesOf(events: readonly QueueEvent[], id: string): string[] {
  return events
    .filter((e) => e.jobId === id)
    .map((e) => (e.type === 'stalled' ? `stalled:${e.final ? 'final' : 'requeued'}` : e.type))
}

/** Replays every event of the queue until job `id` has one of type `type`. */
const replayUntil = (queue: Queue, id: string, type: string) =>
  readEvents(queue, '0', (seen) => typesOf(seen, id).includes(type))

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
const until = (check: () => unknown, what: string, timeoutMs = 10_000) =>
  waitFor(async () => ((await check()) ? true : undefined), { what, timeoutMs, intervalMs: 10 })

/** `queue_worker_jobs_total{queue, outcome}` as this process counts it. */
function workerJobs(valkit: Valkit, queue: string, outcome: string): number {
  for (const metric of valkit.metrics.snapshot()) {
    if (!metric.name.endsWith('queue_worker_jobs_total') || metric.type === 'histogram') continue
    const sample = metric.samples.find((s) => s.labels.queue === queue && s.labels.outcome === outcome)
    return sample?.value ?? 0
  }
  return 0
}

/** What one test opened: a queue name of its own, its queues, workers and gates. */
class Scope {
  readonly name = `q-${randomBytes(4).toString('hex')}`
  readonly #queues: Queue<never>[] = []
  readonly #workers: Worker<never, unknown>[] = []
  readonly #gates: Gate[] = []

  constructor(readonly backend: QueueBackend) {}

  queue<Data = unknown>(options: QueueOptions = {}, valkit = this.backend.valkit): Queue<Data> {
    const queue = createQueue<Data>(valkit, this.name, options)
    this.#queues.push(queue as Queue<never>)
    return queue
  }

  worker<Data = unknown, Result = unknown>(
    processor: Processor<Data, Result>,
    options: WorkerOptions = {},
    valkit = this.backend.valkit,
  ): Worker<Data, Result> {
    const worker = createWorker<Data, Result>(valkit, this.name, processor, options)
    this.#workers.push(worker as unknown as Worker<never, unknown>)
    return worker
  }

  gate(): Gate {
    const g = gate()
    this.#gates.push(g)
    return g
  }

  async close(): Promise<void> {
    // Let held processors finish first, so no worker is left with a job it cannot settle.
    for (const g of this.#gates) g.open()
    for (const worker of this.#workers) await worker.close({ timeout: 2000 })
    for (const queue of this.#queues) await queue.close()
  }
}

async function jobOf<Data>(queue: Queue<Data>, id: string): Promise<JobRecord<Data>> {
  const job = await queue.getJob(id)
  assert.ok(job !== undefined, `job ${id} is kept`)
  return job
}

/** Waits until job `id` is in `state` and returns it. */
function settledAs<Data>(
  queue: Queue<Data>,
  id: string,
  state: JobRecord['state'],
): Promise<JobRecord<Data>> {
  return waitFor(
    async () => {
      const job = await queue.getJob(id)
      return job?.state === state ? job : undefined
    },
    { what: `job ${id} to be ${state}`, intervalMs: 10 },
  )
}

const EMPTY_TOTALS = { added: 0, completed: 0, failed: 0, dead: 0, stalled: 0, refused: 0, dropped: 0 }

/** Registers the contract's tests in the current `describe`. */
export function queueConformance(backend: () => QueueBackend): void {
  let scopes: Scope[] = []
  const open = (): Scope => {
    const scope = new Scope(backend())
    scopes.push(scope)
    return scope
  }
  afterEach(async () => {
    const closing = scopes
    scopes = []
    for (const scope of closing) await scope.close()
  })

  it('a processor that returns nothing stores no result; null is a result', async () => {
    const t = open()
    const queue = t.queue<{ n: number }>()
    await queue.add('nothing', { n: 1 })
    await queue.add('null', { n: 2 })
    t.worker<{ n: number }>((job) => (job.name === 'null' ? null : undefined))
    await until(async () => (await queue.counts()).totals.completed === 2, 'both jobs to complete')
    const nothing = await jobOf(queue, '1')
    assert.equal(nothing.state, 'completed')
    assert.equal('result' in nothing, false)
    assert.equal((await jobOf(queue, '2')).result, null)
  })

  it('add: a worker runs each job once with its data; the result is stored; ids are numbered', async () => {
    const t = open()
    const queue = t.queue<{ n: number }>()
    const before = Date.now()
    assert.deepEqual(await queue.add('double', { n: 1 }), { id: '1', outcome: 'added', state: 'waiting' })
    assert.deepEqual(await queue.add('double', { n: 2 }), { id: '2', outcome: 'added', state: 'waiting' })
    const waiting = await jobOf(queue, '1')
    assert.deepEqual(
      { ...waiting, createdAt: 0 },
      {
        id: '1',
        name: 'double',
        data: { n: 1 },
        state: 'waiting',
        attemptsMade: 0,
        priority: 0,
        createdAt: 0,
        errors: [],
        stalls: 0,
      },
    )
    assert.ok(waiting.createdAt >= before && waiting.createdAt <= Date.now())

    const runs: Job<{ n: number }>[] = []
    t.worker<{ n: number }>((job) => {
      runs.push(job)
      return { doubled: job.data.n * 2 }
    })
    await until(async () => (await queue.counts()).totals.completed === 2, 'both jobs to complete')
    assert.deepEqual(
      runs.map((j) => [j.id, j.name, j.data, j.attempt, j.attempts, j.queue]),
      [
        ['1', 'double', { n: 1 }, 1, 1, t.name],
        ['2', 'double', { n: 2 }, 1, 1, t.name],
      ],
    )
    assert.ok(Number.isSafeInteger(runs[0]!.token) && runs[0]!.token > 0)
    assert.ok(runs[1]!.token > runs[0]!.token, 'lease tokens increase')
    const done = await jobOf(queue, '1')
    assert.equal(done.state, 'completed')
    assert.deepEqual(done.result, { doubled: 2 })
    assert.equal(done.attemptsMade, 1)
    assert.ok(done.finishedAt !== undefined && done.finishedAt >= done.createdAt)
    assert.deepEqual(
      (await queue.list('completed')).map((j) => j.id),
      ['2', '1'],
      'newest first',
    )
    assert.deepEqual(await queue.counts(), {
      waiting: 0,
      delayed: 0,
      active: 0,
      completed: 2,
      dead: 0,
      paused: false,
      totals: { ...EMPTY_TOTALS, added: 2, completed: 2 },
    })
    assert.equal(runs.length, 2, 'each job ran once')
  })

  it('a custom id de-duplicates: a second add changes nothing and answers duplicate', async () => {
    const t = open()
    const queue = t.queue()
    assert.deepEqual(await queue.add('charge', { cents: 100 }, { id: 'order:7' }), {
      id: 'order:7',
      outcome: 'added',
      state: 'waiting',
    })
    const again = await queue.add('refund', { cents: 5 }, { id: 'order:7', priority: 9, delay: '1h' })
    assert.equal(again.id, 'order:7')
    assert.equal(again.outcome, 'duplicate')
    const bulk = await queue.addBulk([
      { name: 'charge', data: 1, options: { id: 'order:8' } },
      { name: 'charge', data: 2, options: { id: 'order:8' } },
    ])
    assert.deepEqual(
      bulk.map((r) => [r.id, r.outcome]),
      [
        ['order:8', 'added'],
        ['order:8', 'duplicate'],
      ],
    )
    const kept = await jobOf(queue, 'order:7')
    assert.deepEqual(
      [kept.name, kept.data, kept.priority, kept.state],
      ['charge', { cents: 100 }, 0, 'waiting'],
    )
    assert.equal((await jobOf(queue, 'order:8')).data, 1)
    const counts = await queue.counts()
    assert.equal(counts.waiting, 2)
    assert.equal(counts.delayed, 0)
    assert.equal(counts.totals.added, 2)

    // Still a duplicate once it completed, while it is kept.
    const worker = t.worker(() => 'ok')
    await settledAs(queue, 'order:7', 'completed')
    await settledAs(queue, 'order:8', 'completed')
    await worker.close()
    assert.equal((await queue.add('charge', null, { id: 'order:7' })).outcome, 'duplicate')
    assert.equal((await queue.counts()).waiting, 0)

    await assert.rejects(
      queue.add('charge', null, { id: '42' }),
      (err: unknown) => isValkitError(err, 'VALKIT_INVALID_OPTION') && err.details?.path === 'job.options.id',
    )
    assert.equal((await queue.counts()).totals.added, 2)
  })

  it('priority: lower runs first, and jobs of one priority run in the order they were added', async () => {
    const t = open()
    const queue = t.queue()
    const plan: [string, number][] = [
      ['p5-a', 5],
      ['p1-a', 1],
      ['p5-b', 5],
      ['p0-a', 0],
      ['p1-b', 1],
      ['p0-b', 0],
      ['p1048576', 1_048_576],
      ['p1-c', 1],
    ]
    await queue.addBulk(plan.slice(0, 4).map(([name, priority]) => ({ name, options: { priority } })))
    for (const [name, priority] of plan.slice(4)) await queue.add(name, null, { priority })
    assert.deepEqual(
      (await queue.list('waiting')).map((j) => j.name),
      ['p0-a', 'p0-b', 'p1-a', 'p1-b', 'p1-c', 'p5-a', 'p5-b', 'p1048576'],
    )
    const order: string[] = []
    t.worker((job) => void order.push(job.name), { concurrency: 1 })
    await until(() => order.length === plan.length, 'every job to run')
    assert.deepEqual(order, ['p0-a', 'p0-b', 'p1-a', 'p1-b', 'p1-c', 'p5-a', 'p5-b', 'p1048576'])
  })

  it('delay and runAt: a job does not start before it is due, then runs; promote() runs a delayed job now', async () => {
    const t = open()
    const queue = t.queue()
    const started = new Map<string, number>()
    t.worker(
      (job) => {
        started.set(job.name, Date.now())
      },
      { concurrency: 4 },
    )
    const before = Date.now()
    const delayed = await queue.add('in-300ms', null, { delay: 300 })
    assert.equal(delayed.state, 'delayed')
    const runAt = Date.now() + 150
    await queue.add('at', null, { runAt: new Date(runAt) })
    const later = await queue.add('in-1h', null, { delay: '1h' })
    const record = await jobOf(queue, delayed.id)
    assert.equal(record.state, 'delayed')
    assert.equal(record.runAt, record.createdAt + 300, 'runAt is the add time plus the delay (server clock)')
    assert.equal((await queue.counts()).delayed, 3)
    assert.deepEqual(
      (await queue.list('delayed')).map((j) => j.name),
      ['at', 'in-300ms', 'in-1h'],
    )

    await until(() => started.has('in-300ms') && started.has('at'), 'the delayed jobs to run')
    // The server stores run-at on its clock: the same host's clock here. A job starts at or after it.
    assert.ok(started.get('in-300ms')! >= record.runAt, 'not before its run-at')
    assert.ok(started.get('in-300ms')! >= before + 300, 'not before its delay from the add')
    assert.ok(started.get('at')! >= runAt, 'not before runAt')
    await settledAs(queue, delayed.id, 'completed')
    assert.equal(started.has('in-1h'), false)

    assert.equal(await queue.promote(later.id), 1)
    assert.equal(await queue.promote(later.id), 0, 'it is not delayed any more')
    await settledAs(queue, later.id, 'completed')

    // promote() without ids makes every delayed job ready.
    await queue.add('a', null, { delay: '1h' })
    await queue.add('b', null, { delay: '2h' })
    assert.equal(await queue.promote(), 2)
    await until(() => started.has('a') && started.has('b'), 'the promoted jobs to run')
    assert.equal((await queue.counts()).delayed, 0)
  })

  it('attempts with fixed backoff: two failures then success; attempts numbered, errors kept in order', async () => {
    const t = open()
    const queue = t.queue()
    const attempts: number[] = []
    const failedAt: number[] = []
    const startedAt: number[] = []
    const failures: { final: boolean; delayMs: number }[] = []
    const worker = t.worker((job) => {
      attempts.push(job.attempt)
      startedAt.push(Date.now())
      if (job.attempt < 3) {
        failedAt.push(Date.now())
        throw new Error(`boom ${job.attempt}`)
      }
      return 'third time'
    })
    worker.on('failed', (_job, _err, info) => failures.push(info))
    const { id } = await queue.add('flaky', null, { attempts: 3, backoff: { type: 'fixed', delay: 100 } })
    const done = await settledAs(queue, id, 'completed')
    assert.deepEqual(attempts, [1, 2, 3])
    assert.deepEqual(failures, [
      { final: false, delayMs: 100 },
      { final: false, delayMs: 100 },
    ])
    assert.ok(startedAt[1]! - failedAt[0]! >= 100, 'the second attempt waits the backoff')
    assert.ok(startedAt[2]! - failedAt[1]! >= 100, 'the third attempt waits the backoff')
    assert.equal(done.attemptsMade, 3)
    assert.equal(done.result, 'third time')
    assert.deepEqual(
      done.errors.map((e) => [e.message, e.attempt]),
      [
        ['boom 1', 1],
        ['boom 2', 2],
      ],
    )
    assert.ok(done.errors.every((e) => typeof e.at === 'number' && e.at >= done.createdAt))
    const counts = await queue.counts()
    assert.deepEqual(counts.totals, { ...EMPTY_TOTALS, added: 1, completed: 1, failed: 2 })
    assert.equal(counts.dead, 0)
  })

  it('attempts with exponential backoff (no jitter) double the wait; a worker backoff function serves jobs without one', async () => {
    const t = open()
    const queue = t.queue()
    const failures: [string, number][] = []
    const startedAt = new Map<string, number[]>()
    const worker = t.worker(
      (job) => {
        startedAt.set(job.id, [...(startedAt.get(job.id) ?? []), Date.now()])
        if (job.attempt < job.attempts) throw new Error('again')
        return job.attempt
      },
      { backoff: (attempt) => 30 * attempt },
    )
    worker.on('failed', (job, _err, info) => failures.push([job.name, info.delayMs]))
    await queue.add('exp', null, {
      id: 'exp',
      attempts: 3,
      backoff: { type: 'exponential', delay: 60, jitter: false },
    })
    await settledAs(queue, 'exp', 'completed')
    await queue.add('fn', null, { id: 'fn', attempts: 3 })
    await settledAs(queue, 'fn', 'completed')
    assert.deepEqual(failures, [
      ['exp', 60],
      ['exp', 120],
      ['fn', 30],
      ['fn', 60],
    ])
    const exp = startedAt.get('exp')!
    assert.ok(
      exp[1]! - exp[0]! >= 60 && exp[2]! - exp[1]! >= 120,
      `waits ${exp[1]! - exp[0]!}, ${exp[2]! - exp[1]!}`,
    )
  })

  it('a job out of attempts is dead: in the dead letters with its errors, a dead-lettered event; retry() runs it again', async () => {
    const t = open()
    const queue = t.queue()
    let healthy = false
    const finals: boolean[] = []
    const worker = t.worker((job) => {
      if (!healthy) throw Object.assign(new Error(`down ${job.attempt}`), { code: 'E_DOWN' })
      return 'recovered'
    })
    worker.on('failed', (_job, _err, info) => finals.push(info.final))
    const { id } = await queue.add('sync', { shop: 1 }, { attempts: 2 })
    const dead = await settledAs(queue, id, 'dead')
    assert.deepEqual(finals, [false, true])
    assert.equal(dead.attemptsMade, 2)
    assert.deepEqual(
      dead.errors.map((e) => [e.message, e.code, e.attempt]),
      [
        ['down 1', 'E_DOWN', 1],
        ['down 2', 'E_DOWN', 2],
      ],
    )
    assert.ok(dead.finishedAt !== undefined)
    assert.deepEqual(
      (await queue.list('dead')).map((j) => j.id),
      [id],
    )
    const counts = await queue.counts()
    assert.equal(counts.dead, 1)
    assert.deepEqual(counts.totals, { ...EMPTY_TOTALS, added: 1, failed: 2, dead: 1 })
    const event = (await replayUntil(queue, id, 'dead-lettered')).find((e) => e.type === 'dead-lettered')!
    assert.equal(event.error?.message, 'down 2')
    assert.equal(event.error?.code, 'E_DOWN')

    healthy = true
    assert.equal(await queue.retry(id), 1)
    const done = await settledAs(queue, id, 'completed')
    assert.equal(done.result, 'recovered')
    assert.equal(done.attemptsMade, 1, 'retry() starts the attempts again')
    assert.equal(done.errors.length, 2, 'the error history is kept')
    assert.equal((await queue.counts()).dead, 0)
    assert.deepEqual(await queue.list('dead'), [])
    assert.equal(await queue.retry(id), 0, 'a completed job is not retried')
  })

  it('operator actions write events: retry() and promote() a waiting event, remove() and drain() a removed one', async () => {
    const t = open()
    const queue = t.queue()
    const worker = t.worker(() => {
      throw new FatalJobError('bad input')
    })
    const dead = await queue.add('dead', null)
    await settledAs(queue, dead.id, 'dead')
    await worker.close()
    const delayed = await queue.add('later', null, { delay: 60_000 })
    const waiting = await queue.add('waiting', null)
    const drained = await queue.add('drained', null)
    const from = (await readEvents(queue, '0', (seen) => typesOf(seen, drained.id).includes('added'))).at(-1)!
    assert.equal(await queue.retry(dead.id), 1)
    assert.equal(await queue.promote(delayed.id), 1)
    assert.equal(await queue.remove(waiting.id), 1)
    assert.equal(await queue.drain(), 3, 'the retried and the promoted job, and the last one')
    const ids = [dead.id, delayed.id, waiting.id, drained.id]
    const after = await readEvents(queue, from.streamId, (seen) =>
      ids.every((id) => typesOf(seen, id).includes('removed')),
    )
    assert.deepEqual(typesOf(after, dead.id), ['waiting', 'removed'])
    assert.deepEqual(typesOf(after, delayed.id), ['waiting', 'removed'])
    assert.deepEqual(typesOf(after, waiting.id), ['removed'])
    assert.deepEqual(typesOf(after, drained.id), ['removed'])
  })

  it('FatalJobError sends the job to the dead letters after one attempt; retry() without ids takes every dead job', async () => {
    const t = open()
    const queue = t.queue()
    let fatal = true
    t.worker((job) => {
      if (fatal) throw new FatalJobError(`bad input ${String(job.data)}`)
      return 'ok'
    })
    const a = await queue.add('parse', 'x', { attempts: 5 })
    const b = await queue.add('parse', 'y', { attempts: 5 })
    const dead = await settledAs(queue, a.id, 'dead')
    await settledAs(queue, b.id, 'dead')
    assert.equal(dead.attemptsMade, 1)
    assert.deepEqual(
      dead.errors.map((e) => [e.message, e.attempt]),
      [['bad input x', 1]],
    )
    assert.deepEqual((await queue.counts()).totals, { ...EMPTY_TOTALS, added: 2, failed: 2, dead: 2 })
    fatal = false
    assert.equal(await queue.retry(), 2)
    await settledAs(queue, a.id, 'completed')
    await settledAs(queue, b.id, 'completed')
  })

  it('timeout: a processor that ignores its deadline fails with VALKIT_JOB_TIMEOUT and its signal aborts', async () => {
    const t = open()
    const queue = t.queue()
    const release = t.gate()
    let signal: AbortSignal | undefined
    let finished = false
    t.worker(async (job) => {
      signal = job.signal
      await release.promise // ignores job.signal
      finished = true
      return 'too late'
    })
    const { id } = await queue.add('slow', null, { timeout: 100 })
    const dead = await settledAs(queue, id, 'dead')
    assert.equal(dead.errors.length, 1)
    assert.equal(dead.errors[0]!.code, 'VALKIT_JOB_TIMEOUT')
    assert.equal(dead.errors[0]!.attempt, 1)
    assert.ok(signal?.aborted)
    assert.ok(isValkitError(signal.reason, 'VALKIT_JOB_TIMEOUT'))
    release.open()
    await until(() => finished, 'the processor to return')
    await sleep(50)
    const after = await jobOf(queue, id)
    assert.equal(after.state, 'dead', 'the late result changes nothing')
    assert.equal(after.result, undefined)
  })

  it('removeOnComplete: true removes the job, a number keeps only that many newest', async () => {
    const t = open()
    const queue = t.queue()
    const worker = t.worker(() => 'done')
    const gone = await queue.add('a', null, { removeOnComplete: true })
    await until(async () => (await queue.counts()).totals.completed === 1, 'the job to complete')
    assert.equal(await queue.getJob(gone.id), undefined)
    assert.equal((await queue.counts()).completed, 0)
    await worker.close()

    const ids = (
      await queue.addBulk(
        Array.from({ length: 5 }, (_, i) => ({ name: `n${i}`, options: { removeOnComplete: 2 } })),
      )
    ).map((r) => r.id)
    t.worker(() => 'done')
    await until(async () => (await queue.counts()).totals.completed === 6, 'the five jobs to complete')
    assert.deepEqual(
      (await queue.list('completed')).map((j) => j.id),
      [ids[4], ids[3]],
    )
    assert.equal((await queue.counts()).completed, 2)
    for (const id of ids.slice(0, 3)) assert.equal(await queue.getJob(id), undefined)
  })

  it('removeOnFail: true removes a dead job, false keeps it (the default keeps every dead job)', async () => {
    const t = open()
    const queue = t.queue()
    t.worker(() => {
      throw new Error('no')
    })
    const removed = await queue.add('r', null, { removeOnFail: true })
    const kept = await queue.add('k', null, { removeOnFail: false })
    const byDefault = await queue.add('d', null)
    await settledAs(queue, kept.id, 'dead')
    await settledAs(queue, byDefault.id, 'dead')
    await until(async () => (await queue.counts()).totals.dead === 3, 'the three jobs to die')
    assert.equal(await queue.getJob(removed.id), undefined)
    assert.deepEqual((await queue.list('dead')).map((j) => j.id).sort(), [kept.id, byDefault.id].sort())
    assert.equal((await queue.counts()).dead, 2)
  })

  it('progress() stores the value on the job and emits progress events', async () => {
    const t = open()
    const queue = t.queue()
    const step = t.gate()
    t.worker(async (job) => {
      await job.progress(50)
      await job.progress({ stage: 'upload', of: 3 })
      await step.promise
      return 'ok'
    })
    const { id } = await queue.add('render', null)
    await until(async () => (await queue.getJob(id))?.progress !== undefined, 'progress to be stored')
    await until(async () => {
      const job = await queue.getJob(id)
      return JSON.stringify(job?.progress) === JSON.stringify({ stage: 'upload', of: 3 })
    }, 'the last progress to be stored')
    assert.equal((await jobOf(queue, id)).state, 'active')
    step.open()
    const done = await settledAs(queue, id, 'completed')
    assert.deepEqual(done.progress, { stage: 'upload', of: 3 })
    const events = await replayUntil(queue, id, 'completed')
    assert.deepEqual(
      events.filter((e) => e.type === 'progress').map((e) => e.progress),
      [50, { stage: 'upload', of: 3 }],
    )
    assert.deepEqual(typesOf(events, id), ['added', 'active', 'progress', 'progress', 'completed'])
  })

  it('a worker closed without grace loses its job to its lease: what its processor returns later is not stored', async () => {
    const t = open()
    const queue = t.queue()
    const late = t.gate()
    const tokens: number[] = []
    let returned = false
    const a = t.worker(
      async (job) => {
        tokens.push(job.token)
        await late.promise
        returned = true
        return 'from a'
      },
      { lease: 200 },
    )
    const { id } = await queue.add('charge', null)
    await until(() => tokens.length === 1, 'worker a to start the job')
    // Closed without grace, a stops extending the lease while its processor runs on: to the
    // queue it is a worker that froze.
    await a.close({ timeout: 0 })
    t.worker(
      (job) => {
        tokens.push(job.token)
        return 'from b'
      },
      { lease: 200 },
    )
    const done = await settledAs(queue, id, 'completed')
    assert.equal(done.result, 'from b')
    assert.equal(done.attemptsMade, 2)
    assert.equal(done.stalls, 1)
    assert.ok(tokens[1]! > tokens[0]!, 'the second lease has a larger token')

    late.open()
    await until(() => returned, 'a’s processor to return')
    // A stale settlement would be refused by the store anyway (the chaos and integration tests
    // show that with a frozen process and a cut connection); a closed worker does not even send it.
    await new Promise((resolve) => setImmediate(resolve))
    const after = await jobOf(queue, id)
    assert.equal(after.result, 'from b')
    assert.equal(after.state, 'completed')
    const counts = await queue.counts()
    assert.equal(counts.totals.completed, 1)
    assert.equal(counts.completed, 1)
    assert.equal(counts.totals.failed, 0)
  })

  it('a job whose worker closed without grace runs again after its lease; past maxStalls it is dead with VALKIT_JOB_STALLED', async () => {
    const t = open()
    const queue = t.queue()
    const hold = t.gate()
    const runs: [string, number][] = []
    const stuck =
      (label: string): Processor =>
      async (job) => {
        runs.push([label, job.attempt])
        await hold.promise // ignores job.signal
        return label
      }
    const a = t.worker(stuck('a'), { lease: 200, maxStalls: 1 })
    const { id } = await queue.add('crawl', null)
    await until(() => runs.length === 1, 'worker a to start the job')
    await a.close({ timeout: 0 })
    const b = t.worker(stuck('b'), { lease: 200, maxStalls: 1 })
    await until(() => runs.length === 2, 'worker b to get the job after a’s lease')
    assert.deepEqual(runs, [
      ['a', 1],
      ['b', 2],
    ])
    const running = await jobOf(queue, id)
    assert.equal(running.state, 'active')
    assert.equal(running.stalls, 1)
    assert.equal((await queue.counts()).totals.stalled, 1)

    await b.close({ timeout: 0 })
    t.worker(stuck('c'), { lease: 200, maxStalls: 1 })
    const dead = await settledAs(queue, id, 'dead')
    assert.equal(runs.length, 2, 'a job past maxStalls is not run again')
    assert.equal(dead.stalls, 2)
    assert.equal(dead.errors.at(-1)?.code, 'VALKIT_JOB_STALLED')
    assert.deepEqual(
      (await queue.list('dead')).map((j) => j.id),
      [id],
    )
    const counts = await queue.counts()
    assert.equal(counts.active, 0)
    assert.equal(counts.dead, 1)
    assert.deepEqual(counts.totals, { ...EMPTY_TOTALS, added: 1, stalled: 2, dead: 1 })
    assert.deepEqual(typesOf(await replayUntil(queue, id, 'stalled:final'), id), [
      'added',
      'active',
      'stalled:requeued',
      'active',
      'stalled:final',
    ])
  })

  it('a stalled job goes back to the front of its priority', async () => {
    const t = open()
    const queue = t.queue()
    const hold = t.gate()
    const order: string[] = []
    const a = t.worker(
      async (job) => {
        order.push(job.name)
        await hold.promise
      },
      { lease: 200 },
    )
    await queue.add('stalls', null)
    await until(() => order.length === 1, 'worker a to start the job')
    await queue.add('next', null)
    await queue.add('last', null)
    await a.close({ timeout: 0 })
    // Past the lease of the frozen worker (200 ms after its last extension, before close()).
    await sleep(300)
    t.worker((job) => void order.push(`${job.name}:${job.attempt}`))
    await until(() => order.length === 4, 'the three jobs to run')
    assert.deepEqual(order, ['stalls', 'stalls:2', 'next:1', 'last:1'])
  })

  it('close({ timeout }) leaves a job that honours its signal to its lease: it runs again elsewhere, not failed', async () => {
    const t = open()
    const queue = t.queue()
    const a = t.worker(
      (job) =>
        new Promise((_, reject) =>
          job.signal.addEventListener('abort', () => reject(job.signal.reason as Error)),
        ),
      { lease: 200 },
    )
    const { id } = await queue.add('fetch', null)
    await until(() => a.running === 1, 'worker a to start the job')
    await a.close({ timeout: 0 })
    t.worker((job) => job.attempt, { lease: 200 })
    const done = await settledAs(queue, id, 'completed')
    assert.equal(done.result, 2)
    assert.deepEqual(done.errors, [])
    assert.equal(done.stalls, 1)
    assert.equal((await queue.counts()).totals.failed, 0)
  })

  it('pause: no job starts while paused; adds go on; resume() starts them', async () => {
    const t = open()
    const queue = t.queue()
    await queue.pause()
    assert.equal((await queue.counts()).paused, true)
    await queue.add('a', null)
    const started: string[] = []
    t.worker((job) => void started.push(job.name), { concurrency: 2 })
    await queue.add('b', null)
    await queue.add('c', null, { delay: 50 })
    // An absence can only be watched for a while: four times the delayed job's delay.
    await sleep(200)
    assert.deepEqual(started, [])
    const paused = await queue.counts()
    assert.equal(paused.waiting + paused.delayed, 3)
    assert.equal(paused.active, 0)
    await queue.resume()
    assert.equal((await queue.counts()).paused, false)
    await until(() => started.length === 3, 'the jobs to run after resume()')
    assert.deepEqual(started.slice(0, 2), ['a', 'b'])
  })

  it('drain: removes waiting and delayed jobs; the running job finishes, completed ones stay', async () => {
    const t = open()
    const queue = t.queue()
    const release = t.gate()
    t.worker(async (job) => {
      if (job.name === 'held') await release.promise
      return job.name
    })
    const first = await queue.add('quick', null)
    await settledAs(queue, first.id, 'completed')
    const held = await queue.add('held', null)
    await until(async () => (await queue.getJob(held.id))?.state === 'active', 'the held job to run')
    const drained = await queue.addBulk([
      { name: 'w1' },
      { name: 'w2' },
      { name: 'd', options: { delay: '1h' } },
    ])
    assert.equal(await queue.drain(), 3)
    for (const r of drained) assert.equal(await queue.getJob(r.id), undefined)
    let counts = await queue.counts()
    assert.deepEqual([counts.waiting, counts.delayed, counts.active, counts.completed], [0, 0, 1, 1])
    release.open()
    await settledAs(queue, held.id, 'completed')
    counts = await queue.counts()
    assert.equal(counts.completed, 2)
    assert.equal(counts.totals.completed, 2)
  })

  it('remove: takes jobs out whatever their state; a running job’s worker finds its lease lost', async () => {
    const t = open()
    const queue = t.queue()
    const release = t.gate()
    const running: Job[] = []
    let progressError: unknown
    const worker = t.worker(
      async (job) => {
        running.push(job)
        await release.promise
        await job.progress(1).catch((err: unknown) => (progressError = err))
        return 'finished anyway'
      },
      { lease: 300 },
    )
    const lost: string[] = []
    worker.on('lost', (job) => lost.push(job.id))
    const active = await queue.add('active', null)
    await until(() => running.length === 1, 'the job to start')
    const waiting = await queue.add('waiting', null)
    const delayed = await queue.add('delayed', null, { delay: '1h' })
    assert.equal(await queue.remove([active.id, waiting.id, delayed.id, 'not-there']), 3)
    assert.equal(await queue.remove(waiting.id), 0)
    for (const id of [active.id, waiting.id, delayed.id]) assert.equal(await queue.getJob(id), undefined)
    await until(() => lost.length > 0, 'the worker to find the lease lost')
    assert.deepEqual(lost, [active.id])
    assert.ok(running[0]!.signal.aborted)
    assert.ok(isValkitError(running[0]!.signal.reason, 'VALKIT_LOCK_LOST'))
    release.open()
    await until(() => workerJobs(t.backend.valkit, t.name, 'stale') === 1, 'its completion to be refused')
    assert.ok(isValkitError(progressError, 'VALKIT_LOCK_LOST'), 'progress() of a lost job rejects')
    assert.equal(await queue.getJob(active.id), undefined, 'a refused completion does not bring it back')
    const counts = await queue.counts()
    assert.deepEqual([counts.waiting, counts.delayed, counts.active, counts.completed], [0, 0, 0, 0])
    assert.equal(counts.totals.completed, 0)

    const done = await queue.add('done', null)
    await settledAs(queue, done.id, 'completed')
    assert.equal(await queue.remove(done.id), 1)
    assert.deepEqual(await queue.list('completed'), [])
  })

  it('obliterate: every job, counter, event and schedule of the queue is gone', async () => {
    const t = open()
    const queue = t.queue()
    const worker = t.worker((job) => {
      if (job.name === 'bad') throw new FatalJobError('bad')
      return 1
    })
    const ok = await queue.add('ok', null)
    const bad = await queue.add('bad', null)
    await settledAs(queue, ok.id, 'completed')
    await settledAs(queue, bad.id, 'dead')
    await worker.close()
    const waiting = await queue.add('waiting', null)
    const delayed = await queue.add('delayed', null, { delay: '1h' })
    await queue.schedule('hourly', { cron: '0 * * * *', job: { name: 'tick' } })
    await queue.pause()
    assert.ok((await queue.obliterate()) > 0)
    for (const id of [ok.id, bad.id, waiting.id, delayed.id]) assert.equal(await queue.getJob(id), undefined)
    assert.deepEqual(await queue.counts(), {
      waiting: 0,
      delayed: 0,
      active: 0,
      completed: 0,
      dead: 0,
      paused: false,
      totals: EMPTY_TOTALS,
    })
    assert.deepEqual(await queue.schedules(), [])
    // The events went too: a replay from the start finds only what came after.
    const next = await queue.add('after', null)
    assert.equal(next.id, '1', 'the numbering starts again')
    const events = await readEvents(queue, '0', (seen) => seen.length > 0)
    assert.deepEqual(
      events.map((e) => [e.type, e.jobId]),
      [['added', '1']],
    )
  })

  it('after obliterate(), a sleeping worker is woken by the next add', async () => {
    const t = open()
    const queue = t.queue()
    const ran: string[] = []
    t.worker((job) => void ran.push(job.name), { idlePoll: '1h' })
    await queue.add('before', null)
    await until(() => ran.length === 1, 'the first job to run')
    await sleep(50)
    await queue.obliterate()
    await queue.add('after', null)
    await until(() => ran.length === 2, 'the job added after obliterate() to run')
  })

  it('globalConcurrency: two workers of two instances never run more jobs at once than the limit', async () => {
    const t = open()
    const queue = t.queue()
    let inFlight = 0
    let peak = 0
    const work: Processor = async () => {
      peak = Math.max(peak, ++inFlight)
      await sleep(20)
      inFlight--
    }
    await queue.addBulk(Array.from({ length: 12 }, (_, i) => ({ name: `j${i}` })))
    t.worker(work, { concurrency: 3, globalConcurrency: 2 })
    t.worker(work, { concurrency: 3, globalConcurrency: 2 }, t.backend.peer)
    await until(async () => (await queue.counts()).totals.completed === 12, 'every job to complete')
    assert.equal(peak, 2)
  })

  it('rateLimit: no more starts per window than the limit, across two workers of two instances', async () => {
    const t = open()
    const queue = t.queue()
    const windowMs = 250
    const max = 2
    const starts: number[] = []
    const work: Processor = () => void starts.push(Date.now())
    await queue.addBulk(Array.from({ length: 6 }, (_, i) => ({ name: `j${i}` })))
    // The server counts starts in windows aligned on its clock (epoch multiples of the window);
    // this host's clock is the server's. Starting just after a boundary keeps the first batch,
    // which starts at once, well inside its window; later batches start after the boundary.
    await until(() => Date.now() % windowMs < 20, 'the start of a window', 2000)
    const options = { concurrency: 5, rateLimit: { max, window: windowMs } }
    t.worker(work, options)
    t.worker(work, options, t.backend.peer)
    await until(() => starts.length === 6, 'every job to start')
    const perWindow = new Map<number, number>()
    for (const s of starts)
      perWindow.set(Math.floor(s / windowMs), (perWindow.get(Math.floor(s / windowMs)) ?? 0) + 1)
    assert.ok(
      [...perWindow.values()].every((n) => n <= max),
      `starts per window: ${[...perWindow.values()].join(', ')}`,
    )
    assert.ok(perWindow.size >= 3, 'six starts at two per window take three windows')
    assert.equal(perWindow.get(Math.floor(starts[0]! / windowMs)), max, 'the first window admits the limit')
  })

  it('maxLength with overflow reject: a full queue refuses the add with VALKIT_QUEUE_FULL and counts it', async () => {
    const t = open()
    const queue = t.queue({ maxLength: 2 })
    await queue.add('a', null, { id: 'a:1' })
    await queue.add('b', null, { delay: '1h' })
    const err = await queue.add('c', null).then(
      () => assert.fail('the third add is refused'),
      (e: unknown) => e,
    )
    assert.ok(isValkitError(err, 'VALKIT_QUEUE_FULL'))
    assert.deepEqual(err.details, { queue: t.name, maxLength: 2, refused: 1, dropped: 0 })
    const counts = await queue.counts()
    assert.equal(counts.waiting + counts.delayed, 2)
    assert.equal(counts.totals.added, 2)
    assert.equal(counts.totals.refused, 1)
    // A duplicate of a kept job is not refused: it adds nothing.
    assert.equal((await queue.add('a', null, { id: 'a:1' })).outcome, 'duplicate')
    assert.equal((await queue.counts()).totals.refused, 1)
  })

  it('maxLength with drop-lowest: a higher-priority add evicts the lowest waiting job; otherwise the new one is dropped', async () => {
    const t = open()
    const queue = t.queue({ maxLength: 2, overflow: 'drop-lowest' })
    const low = await queue.add('low', null, { priority: 5 })
    const mid = await queue.add('mid', null, { priority: 1 })
    const high = await queue.add('high', null, { priority: 0 })
    assert.equal(high.outcome, 'added')
    assert.equal(await queue.getJob(low.id), undefined, 'the lowest priority job was evicted')
    assert.deepEqual(
      (await queue.list('waiting')).map((j) => j.id),
      [high.id, mid.id],
    )
    let counts = await queue.counts()
    assert.equal(counts.totals.dropped, 1)

    for (const priority of [1, 9]) {
      const err = await queue.add('not-higher', null, { priority }).then(
        () => assert.fail(`priority ${priority} evicts nothing`),
        (e: unknown) => e,
      )
      assert.ok(isValkitError(err, 'VALKIT_QUEUE_FULL'))
      assert.equal(err.details?.dropped, 1)
    }
    counts = await queue.counts()
    assert.deepEqual(
      (await queue.list('waiting')).map((j) => j.id),
      [high.id, mid.id],
    )
    assert.equal(counts.totals.dropped, 3)
    assert.equal(counts.totals.refused, 0)
    assert.equal(counts.totals.added, 3)
  })

  it('maxLength with backpressure: add waits until a worker takes a job, then adds', async () => {
    const t = open()
    const queue = t.queue({ maxLength: 1, overflow: 'backpressure', backpressureTimeout: '10s' })
    const order: string[] = []
    await queue.add('first', null)
    const second = queue.add('second', null).then((r) => {
      order.push('second added')
      return r
    })
    await sleep(100)
    assert.equal(order.length, 0, 'the add waits while the queue is full')
    t.worker((job) => void order.push(`${job.name} started`))
    assert.equal((await second).outcome, 'added')
    await until(() => order.length === 3, 'the second job to run')
    assert.deepEqual(order, ['first started', 'second added', 'second started'])

    const short = t.queue({ maxLength: 1, overflow: 'backpressure', backpressureTimeout: 100 })
    await queue.pause()
    await short.add('fills', null)
    await assert.rejects(short.add('waits', null), (err: unknown) => isValkitError(err, 'VALKIT_QUEUE_FULL'))
  })

  it('backpressure: an add that waited for room and then was added is not counted as refused', async () => {
    const t = open()
    const queue = t.queue({ maxLength: 1, overflow: 'backpressure', backpressureTimeout: '10s' })
    await queue.add('first', null)
    const second = queue.add('second', null)
    await sleep(100)
    t.worker(() => 'ok')
    assert.equal((await second).outcome, 'added')
    const counts = await queue.counts()
    assert.equal(counts.totals.refused, 0)
    assert.equal(counts.totals.added, 2)
  })

  it('schedules: every tick adds one job, once across two instances; unschedule() stops it', async () => {
    const t = open()
    const queue = t.queue()
    const info = await queue.schedule('beat', {
      every: 150,
      job: { name: 'beat', data: { n: 1 }, options: { removeOnComplete: true } },
    })
    assert.equal(info.id, 'beat')
    assert.equal(info.every, 150)
    assert.equal(info.jobName, 'beat')
    assert.ok(typeof info.nextAt === 'number' && info.nextAt > Date.now() - 1000)
    assert.deepEqual(
      (await queue.schedules()).map((s) => [s.id, s.every, s.jobName]),
      [['beat', 150, 'beat']],
    )
    const runs: Job[] = []
    const work: Processor = (job) => void runs.push(job)
    t.worker(work)
    t.worker(work, {}, t.backend.peer)
    await until(() => runs.length >= 3, 'three ticks', 5000)
    assert.equal(await queue.unschedule('beat'), true)
    assert.equal(await queue.unschedule('beat'), false)
    assert.deepEqual(await queue.schedules(), [])
    await until(async () => {
      const c = await queue.counts()
      return c.waiting + c.active === 0 && c.totals.completed === c.totals.added
    }, 'the last tick’s job to run')
    const ran = runs.length
    const ids = runs.map((j) => j.id)
    assert.equal(new Set(ids).size, ids.length, `each tick ran once: ${ids.join(', ')}`)
    assert.equal((await queue.counts()).totals.added, ids.length, 'one job added per tick')
    const ticks = ids.map((id) => {
      const match = /^schedule:beat:(\d+)$/.exec(id)
      assert.ok(match, `${id} is schedule:<id>:<tick>`)
      return Number(match[1])
    })
    for (let i = 1; i < ticks.length; i++) {
      assert.ok(ticks[i]! > ticks[i - 1]!, 'ticks increase')
      assert.equal((ticks[i]! - ticks[0]!) % 150, 0, 'ticks are whole intervals apart')
    }
    assert.ok(runs.every((j) => j.name === 'beat' && JSON.stringify(j.data) === '{"n":1}'))
    // Nothing more after unschedule(): watched for three intervals.
    await sleep(450)
    assert.equal(runs.length, ran)
  })

  it('schedule(): a cron expression that does not parse is refused with VALKIT_INVALID_OPTION', async () => {
    const t = open()
    const queue = t.queue()
    for (const cron of ['61 * * * *', 'every minute', '* * * *']) {
      await assert.rejects(
        queue.schedule('bad', { cron, job: { name: 'x' } }),
        (err: unknown) => isValkitError(err, 'VALKIT_INVALID_OPTION'),
        cron,
      )
    }
    await assert.rejects(
      queue.schedule('bad', { cron: '* * * * *', every: 1000, job: { name: 'x' } }),
      (err: unknown) => isValkitError(err, 'VALKIT_INVALID_OPTION') && err.details?.path === 'schedule',
    )
    assert.deepEqual(await queue.schedules(), [])
  })

  it('events(): a listener started before the add sees the job’s life in order', async () => {
    const t = open()
    const queue = t.queue()
    const listening = readEvents(queue, undefined, (seen) => seen.some((e) => e.type === 'completed'))
    await sleep(50)
    t.worker((job) => {
      if (job.attempt === 1) throw new Error('once')
      return 'ok'
    })
    const { id } = await queue.add('life', null, { attempts: 2 })
    assert.deepEqual(typesOf(await listening, id), ['added', 'active', 'retried', 'active', 'completed'])
  })

  it('events({ from }): replays a job’s life in order from the oldest kept, or after a given id', async () => {
    const t = open()
    const queue = t.queue()
    t.worker((job) => {
      if (job.name === 'life' && job.attempt === 1) throw new Error('once')
      return 'ok'
    })
    const { id } = await queue.add('life', null, { attempts: 2, backoff: { type: 'fixed', delay: 30 } })
    const later = await queue.add('later', null, { delay: 50 })
    await settledAs(queue, id, 'completed')
    await settledAs(queue, later.id, 'completed')
    const all = await readEvents(
      queue,
      '0',
      (seen) => typesOf(seen, id).includes('completed') && typesOf(seen, later.id).includes('completed'),
    )
    assert.deepEqual(typesOf(all, id), ['added', 'active', 'retried', 'waiting', 'active', 'completed'])
    assert.deepEqual(typesOf(all, later.id), ['delayed', 'waiting', 'active', 'completed'])
    const retried = all.find((e) => e.type === 'retried')!
    assert.equal(retried.error?.message, 'once')
    assert.equal(retried.delayMs, 30)
    assert.equal(all.find((e) => e.type === 'added')?.name, 'life')
    assert.deepEqual(
      all.filter((e) => e.type === 'active' && e.jobId === id).map((e) => e.attempt),
      [1, 2],
    )
    const ids = all.map((e) => e.streamId)
    assert.deepEqual([...ids].sort(compareStreamIds), ids, 'stream ids increase')
    assert.equal(new Set(ids).size, ids.length)

    const cut = all.findIndex((e) => e.type === 'retried')
    const rest = all.length - cut - 1
    const after = await readEvents(queue, all[cut]!.streamId, (seen) => seen.length === rest)
    assert.deepEqual(after, all.slice(cut + 1))
  })

  it('events: a bulk add and a batched worker give every job its own events, in order, each replayable from', async () => {
    const t = open()
    const queue = t.queue()
    const jobs = Array.from({ length: 40 }, (_, i) => ({ name: `b${i}` }))
    const added = await queue.addBulk(jobs)
    const ids = added.map((r) => r.id)
    t.worker(() => undefined, { concurrency: 20 })
    await until(async () => (await queue.counts()).totals.completed === 40, 'the 40 jobs to complete')
    const all = await readEvents(queue, '0', (seen) =>
      ids.every((id) => typesOf(seen, id).includes('completed')),
    )
    for (const [i, id] of ids.entries()) {
      assert.deepEqual(typesOf(all, id), ['added', 'active', 'completed'], `job ${id}`)
      assert.equal(all.find((e) => e.jobId === id && e.type === 'added')?.name, `b${i}`)
      assert.equal(all.find((e) => e.jobId === id && e.type === 'active')?.attempt, 1)
    }
    // Adds in the order of the bulk; every event a distinct, increasing stream id.
    assert.deepEqual(
      all.filter((e) => e.type === 'added').map((e) => e.jobId),
      ids,
    )
    const streamIds = all.map((e) => e.streamId)
    assert.deepEqual([...streamIds].sort(compareStreamIds), streamIds, 'stream ids increase')
    assert.equal(new Set(streamIds).size, streamIds.length)
    // Replaying after any event gives exactly the events after it: inside a batch, at its end.
    for (const cut of [0, 7, 39, 40, 41, 59, all.length - 2]) {
      const rest = all.length - cut - 1
      const after = await readEvents(queue, all[cut]!.streamId, (seen) => seen.length === rest)
      assert.deepEqual(after, all.slice(cut + 1), `after event ${cut} (${all[cut]!.streamId})`)
    }
  })

  it('close() waits for running jobs and stores their results; it starts no new job', async () => {
    const t = open()
    const queue = t.queue()
    const release = t.gate()
    const started: string[] = []
    const worker = t.worker(async (job) => {
      started.push(job.id)
      await release.promise
      return `result ${job.id}`
    })
    const first = await queue.add('first', null)
    await until(() => started.length === 1, 'the first job to start')
    const second = await queue.add('second', null)
    let closed = false
    const closing = worker.close().then(() => (closed = true))
    await sleep(50)
    assert.equal(closed, false, 'close() waits for the running job')
    release.open()
    await closing
    const done = await jobOf(queue, first.id)
    assert.equal(done.state, 'completed', 'its settlement was stored before close() resolved')
    assert.equal(done.result, 'result 1')
    assert.deepEqual(started, [first.id])
    assert.equal((await jobOf(queue, second.id)).state, 'waiting')
    assert.equal(worker.running, 0)
  })

  it('partitions: jobs spread over partitions are each run once; getJob, counts and remove see them all', async () => {
    const t = open()
    const options = { partitions: 3 }
    const queue = t.queue(options)
    const ids = Array.from({ length: 24 }, (_, i) => `doc:${i}`)
    await queue.addBulk(ids.map((id) => ({ name: 'index', data: id, options: { id } })))
    assert.equal((await queue.counts()).waiting, 24)
    assert.equal((await queue.list('waiting', { count: 100 })).length, 24)
    for (const id of ['doc:0', 'doc:13', 'doc:23']) assert.equal((await jobOf(queue, id)).data, id)
    assert.equal(await queue.remove('doc:23'), 1)
    const runs = new Map<string, number>()
    t.worker((job) => void runs.set(job.id, (runs.get(job.id) ?? 0) + 1), { concurrency: 4, queue: options })
    await until(async () => (await queue.counts()).totals.completed === 23, 'every job to complete')
    assert.equal(runs.size, 23)
    assert.ok([...runs.values()].every((n) => n === 1))
    assert.equal((await jobOf(queue, 'doc:13')).state, 'completed')
  })

  it('partitions: events() sees every partition’s events, and its cursor resumes exactly after one', async () => {
    const t = open()
    const options = { partitions: 3 }
    const queue = t.queue(options)
    const listening = readEvents(
      queue,
      undefined,
      (seen) => seen.filter((e) => e.type === 'completed').length === 12,
    )
    await sleep(50)
    const ids = Array.from({ length: 12 }, (_, i) => `doc:${i}`)
    await queue.addBulk(ids.map((id) => ({ name: 'index', options: { id } })))
    t.worker(() => undefined, { concurrency: 4, queue: options })
    const live = await listening
    for (const id of ids) assert.deepEqual(typesOf(live, id), ['added', 'active', 'completed'], `job ${id}`)
    const all = await readEvents(queue, '0', (seen) => seen.length === live.length)
    assert.equal(new Set(all.map((e) => e.streamId)).size, all.length, 'every event its own cursor')
    for (const cut of [0, 5, 20, all.length - 2]) {
      const rest = all.slice(cut + 1)
      const after = await readEvents(queue, all[cut]!.streamId, (seen) => seen.length === rest.length)
      // Partitions are read side by side, so the merged order may differ between two reads;
      // each partition's own order holds and nothing is missed or repeated.
      const key = (e: QueueEvent) => `${e.jobId} ${e.type}`
      assert.deepEqual(after.map(key).sort(), rest.map(key).sort(), `after event ${cut}`)
      for (const id of ids)
        assert.deepEqual(typesOf(after, id), typesOf(rest, id), `job ${id} after event ${cut}`)
    }
    await assert.rejects(
      readEvents(queue, '0-0,0-0', () => true),
      (err: unknown) => isValkitError(err, 'VALKIT_INVALID_OPTION'),
    )
  })

  it('partitions: numbered ids are unique across partitions', async () => {
    const t = open()
    const queue = t.queue({ partitions: 3 })
    const added = await queue.addBulk(Array.from({ length: 6 }, (_, i) => ({ name: 'n', data: i })))
    const ids = added.map((r) => r.id)
    assert.equal(new Set(ids).size, 6, `ids ${ids.join(', ')}`)
    assert.equal(await queue.remove(ids[0]!), 1)
    assert.equal((await queue.counts()).waiting, 5)
  })
}

/** Orders stream ids, `<ms>-<seq>` or `<ms>-<seq>:<index>` (an event inside an entry; the entry's own id is its last event). */
function compareStreamIds(a: string, b: string): number {
  const parse = (id: string) => {
    const [entry, index] = id.split(':') as [string, string | undefined]
    const [ms, seq] = entry.split('-').map(Number) as [number, number]
    return [ms, seq, index === undefined ? Infinity : Number(index)] as const
  }
  const [a1, a2, a3] = parse(a)
  const [b1, b2, b3] = parse(b)
  return a1 - b1 || a2 - b2 || (a3 === b3 ? 0 : a3 < b3 ? -1 : 1)
}
