/**
 * Queue, job, worker and schedule options: every bad option is refused up front with
 * `VALKIT_INVALID_OPTION` naming its path (or `VALKIT_INVALID_ARGUMENT` for a bad argument),
 * before anything is stored; and the backoff between attempts.
 */
import assert from 'node:assert/strict'
import { after, test } from 'node:test'
import { createValkit, isValkitError, type Valkit, type ValkitError } from '../../src/core/index.js'
import {
  createQueue,
  createWorker,
  MAX_PRIORITY,
  type JobOptions,
  type QueueOptions,
  type WorkerOptions,
} from '../../src/queue/index.js'
import { backoffDelay, resolveJobOptions } from '../../src/queue/queue-options.js'
import { resolveWorkerOptions } from '../../src/queue/worker-options.js'
import { rejectsOption } from '../support/rejects-option.js'

const valkit = createValkit({ env: {}, logger: false })
after(() => valkit.close())
let n = 0
const name = () => `options-${n++}`

/** Asserts `promise` rejects with VALKIT_INVALID_OPTION naming `path`. */
async function refusesOption(promise: Promise<unknown>, path: string): Promise<ValkitError> {
  const err = await promise.then(
    () => assert.fail(`expected VALKIT_INVALID_OPTION for \`${path}\``),
    (e: unknown) => e,
  )
  assert.ok(isValkitError(err, 'VALKIT_INVALID_OPTION'), `expected VALKIT_INVALID_OPTION, got ${String(err)}`)
  assert.equal(err.details?.path, path)
  assert.ok(err.message.includes(`\`${path}\``), err.message)
  return err
}

function refusesArgument(fn: () => unknown, messagePart: RegExp): void {
  assert.throws(
    fn,
    (err: unknown) => isValkitError(err, 'VALKIT_INVALID_ARGUMENT') && messagePart.test(err.message),
  )
}

async function rejectsArgument(promise: Promise<unknown>, messagePart: RegExp): Promise<void> {
  await assert.rejects(
    promise,
    (err: unknown) => isValkitError(err, 'VALKIT_INVALID_ARGUMENT') && messagePart.test(err.message),
  )
}

test('createQueue: a bad name or option is refused, naming it', () => {
  for (const bad of ['', 'with space', '-leading', '{tag}', 'x'.repeat(129), 42]) {
    refusesArgument(() => createQueue(valkit, bad as string), /queue name/)
  }
  refusesArgument(() => createQueue({} as Valkit, 'q'), /valkit instance/)
  const cases: [QueueOptions, string][] = [
    [{ maxLenght: 10 } as QueueOptions, 'queue.maxLenght'],
    [{ maxLength: -1 }, 'queue.maxLength'],
    [{ maxLength: 1.5 }, 'queue.maxLength'],
    [{ maxLength: '10' as unknown as number }, 'queue.maxLength'],
    [{ overflow: 'block' as 'reject' }, 'queue.overflow'],
    [{ backpressureTimeout: 'soon' }, 'queue.backpressureTimeout'],
    [{ backpressureTimeout: -5 }, 'queue.backpressureTimeout'],
    [{ eventsMaxLength: -1 }, 'queue.eventsMaxLength'],
    [{ eventsMaxLength: 2.5 }, 'queue.eventsMaxLength'],
    [{ partitions: 0 }, 'queue.partitions'],
    [{ partitions: 1025 }, 'queue.partitions'],
    [{ partitions: 1.5 }, 'queue.partitions'],
    [{ journal: {} as { path: string } }, 'queue.journal.path'],
    [{ journal: { path: '' } }, 'queue.journal.path'],
    [{ journal: { path: '/tmp/j', maxBytes: 100 } }, 'queue.journal.maxBytes'],
    [{ defaultJobOptions: { attempts: 0 } }, 'queue.defaultJobOptions.attempts'],
    [{ defaultJobOptions: { attempts: 10_001 } }, 'queue.defaultJobOptions.attempts'],
    [{ defaultJobOptions: { attempts: 1.5 } }, 'queue.defaultJobOptions.attempts'],
    [{ defaultJobOptions: { timeout: 'later' } }, 'queue.defaultJobOptions.timeout'],
    [{ defaultJobOptions: { backoff: { type: 'linear' } as never } }, 'queue.defaultJobOptions.backoff.type'],
    [
      { defaultJobOptions: { backoff: { type: 'fixed', delay: 'x' } } },
      'queue.defaultJobOptions.backoff.delay',
    ],
    [
      { defaultJobOptions: { backoff: { type: 'exponential', delay: 100, max: -1 } } },
      'queue.defaultJobOptions.backoff.max',
    ],
    [{ defaultJobOptions: { backoff: 'fast' as never } }, 'queue.defaultJobOptions.backoff'],
    [{ defaultJobOptions: { removeOnComplete: -1 } }, 'queue.defaultJobOptions.removeOnComplete'],
    [{ defaultJobOptions: { removeOnComplete: 'all' as never } }, 'queue.defaultJobOptions.removeOnComplete'],
    [{ defaultJobOptions: { removeOnFail: { count: 1.5 } } }, 'queue.defaultJobOptions.removeOnFail.count'],
    [{ defaultJobOptions: { removeOnFail: { age: 'a week' } } }, 'queue.defaultJobOptions.removeOnFail.age'],
  ]
  for (const [options, path] of cases) rejectsOption(() => createQueue(valkit, name(), options), path)
})

test('add: a bad job option is refused, naming it; nothing of the call is stored', async () => {
  const queue = createQueue(valkit, name())
  try {
    const cases: [JobOptions, string][] = [
      [{ priority: -1 }, 'job.options.priority'],
      [{ priority: 1.5 }, 'job.options.priority'],
      [{ priority: MAX_PRIORITY + 1 }, 'job.options.priority'],
      [{ delay: 'tomorrow' }, 'job.options.delay'],
      [{ delay: -1 }, 'job.options.delay'],
      [{ runAt: 'tomorrow' as unknown as number }, 'job.options.runAt'],
      [{ runAt: new Date('not a date') }, 'job.options.runAt'],
      [{ id: '' }, 'job.options.id'],
      [{ id: 'x'.repeat(257) }, 'job.options.id'],
      [{ id: 7 as unknown as string }, 'job.options.id'],
      [{ id: '42' }, 'job.options.id'],
      [{ attempts: 0 }, 'job.options.attempts'],
      [{ timeout: 'long' }, 'job.options.timeout'],
      [{ backoff: { type: 'fixed', delay: -1 } }, 'job.options.backoff.delay'],
      [{ removeOnComplete: 2.5 }, 'job.options.removeOnComplete'],
      [{ removeOnFail: { age: 'forever' } }, 'job.options.removeOnFail.age'],
    ]
    for (const [options, path] of cases) await refusesOption(queue.add('job', null, options), path)
    const err = await refusesOption(queue.add('job', null, { id: '42' }), 'job.options.id')
    assert.match(err.message, /plain integer/)

    // In a bulk, the path names the job; a bad job anywhere stores none of them.
    await refusesOption(
      queue.addBulk([{ name: 'ok' }, { name: 'bad', options: { priority: -1 } }]),
      'jobs[1].options.priority',
    )
    await rejectsArgument(queue.addBulk([{ name: 'ok' }, { name: '' }]), /jobs\[1\]\.name/)
    await rejectsArgument(queue.add('', null), /job\.name/)
    await rejectsArgument(queue.add('x'.repeat(257), null), /job\.name/)
    await rejectsArgument(queue.add('big', 10n), /job\.data/)
    const loop: { self?: unknown } = {}
    loop.self = loop
    await rejectsArgument(queue.add('loop', loop), /job\.data/)
    await rejectsArgument(queue.add('fn', null, { backoff: () => 100 }), /backoff function cannot be stored/)
    await rejectsArgument(queue.addBulk({} as never), /array/)
    const counts = await queue.counts()
    assert.equal(counts.totals.added, 0)
    assert.equal(counts.waiting + counts.delayed, 0)

    await rejectsArgument(queue.getJob(''), /job id/)
    for (const call of [() => queue.retry(['']), () => queue.promote(''), () => queue.remove([7 as never])]) {
      await assert.rejects(
        async () => call(),
        (err: unknown) => isValkitError(err, 'VALKIT_INVALID_ARGUMENT'),
      )
    }
  } finally {
    await queue.close()
  }
})

test('the edges of the job options are accepted', async () => {
  const queue = createQueue(valkit, name())
  try {
    const results = await queue.addBulk([
      { name: 'first', options: { priority: 0 } },
      { name: 'last', options: { priority: MAX_PRIORITY } },
      { name: 'past', options: { runAt: Date.now() - 60_000 } },
      { name: 'later', options: { delay: '10m', id: 'order:42', attempts: 10_000 } },
      { name: 'kept', options: { removeOnComplete: { count: 0, age: '1h' }, removeOnFail: 5 } },
      { name: 'long', options: { id: 'x'.repeat(256) } },
    ])
    assert.deepEqual(
      results.map((r) => r.state),
      ['waiting', 'waiting', 'waiting', 'delayed', 'waiting', 'waiting'],
    )
  } finally {
    await queue.close()
  }
})

test('createWorker: a bad worker option is refused, naming it', () => {
  const ok = () => 'ok'
  const cases: [WorkerOptions, string][] = [
    [{ concurency: 2 } as WorkerOptions, 'worker.concurency'],
    [{ concurrency: 0 }, 'worker.concurrency'],
    [{ concurrency: 10_001 }, 'worker.concurrency'],
    [{ concurrency: 1.5 }, 'worker.concurrency'],
    [{ batch: 0 }, 'worker.batch'],
    [{ batch: 1001 }, 'worker.batch'],
    [{ lease: 99 }, 'worker.lease'],
    [{ lease: 'a while' }, 'worker.lease'],
    [{ maxStalls: -1 }, 'worker.maxStalls'],
    [{ maxStalls: 1001 }, 'worker.maxStalls'],
    [{ globalConcurrency: -1 }, 'worker.globalConcurrency'],
    [{ rateLimit: { max: 0, window: 1000 } }, 'worker.rateLimit.max'],
    [{ rateLimit: { max: 1.5, window: 1000 } }, 'worker.rateLimit.max'],
    [{ rateLimit: { max: 10, window: 0 } }, 'worker.rateLimit.window'],
    [{ rateLimit: { max: 10, window: 'per minute' } }, 'worker.rateLimit.window'],
    [{ backoff: 100 as never }, 'worker.backoff'],
    [{ idlePoll: 'rarely' }, 'worker.idlePoll'],
    [{ queue: { partitions: 0 } }, 'queue.partitions'],
    [{ queue: { defaultJobOptions: { attempts: 0 } } }, 'queue.defaultJobOptions.attempts'],
  ]
  for (const [options, path] of cases) {
    rejectsOption(() => createWorker(valkit, name(), ok, { autostart: false, ...options }), path)
  }
  refusesArgument(() => createWorker(valkit, name(), 'run' as never), /processor must be a function/)
  refusesArgument(() => createWorker(null as never, name(), ok), /valkit instance/)
  refusesArgument(() => createWorker(valkit, 'bad name', ok, { autostart: false }), /queue name/)
})

test('schedule: a bad schedule option is refused, naming it; nothing is stored', async () => {
  const queue = createQueue(valkit, name())
  try {
    const job = { name: 'tick' }
    await refusesOption(queue.schedule('s', { job }), 'schedule')
    await refusesOption(queue.schedule('s', { cron: '* * * * *', every: 1000, job }), 'schedule')
    await refusesOption(queue.schedule('s', { every: 1000, job: {} as never }), 'schedule.job.name')
    await refusesOption(
      queue.schedule('s', { every: 1000, job, missed: 'sometimes' as never }),
      'schedule.missed',
    )
    await refusesOption(queue.schedule('s', { every: 1000, job, maxCatchUp: 0 }), 'schedule.maxCatchUp')
    await refusesOption(queue.schedule('s', { every: 'hourly', job }), 'schedule.every')
    await refusesOption(queue.schedule('s', { every: 0, job }), 'schedule.every')
    await refusesOption(
      queue.schedule('s', { every: 1000, job: { name: 'tick', options: { priority: -1 } } }),
      'schedule.job.options.priority',
    )
    await refusesOption(
      queue.schedule('s', { every: 1000, job: { name: 'tick', options: { attempts: 0 } } }),
      'schedule.job.options.attempts',
    )
    for (const cron of ['61 * * * *', '* * * *', '@sometimes', '0 0 31 2 *']) {
      await assert.rejects(
        queue.schedule('s', { cron, job }),
        (err: unknown) => isValkitError(err, 'VALKIT_INVALID_OPTION'),
        cron,
      )
    }
    await assert.rejects(
      queue.schedule('s', { cron: '0 3 * * *', tz: 'Mars/Olympus', job }),
      (err: unknown) => isValkitError(err, 'VALKIT_INVALID_OPTION'),
    )
    await rejectsArgument(queue.schedule('with space', { every: 1000, job }), /schedule id/)
    assert.deepEqual(await queue.schedules(), [])
  } finally {
    await queue.close()
  }
})

test('backoff: fixed waits its delay; exponential doubles from its delay up to max, with full jitter by default', () => {
  const err = new Error('x')
  const resolve = (backoff: JobOptions['backoff']) =>
    resolveJobOptions({ backoff }, undefined, 'job.options').backoff
  const fixed = resolve({ type: 'fixed', delay: '2s' })
  assert.deepEqual(
    [1, 2, 5].map((a) => backoffDelay(fixed, a, err)),
    [2000, 2000, 2000],
  )
  const exp = resolve({ type: 'exponential', delay: 100, max: '1s', jitter: false })
  assert.deepEqual(
    [1, 2, 3, 4, 5, 6].map((a) => backoffDelay(exp, a, err)),
    [100, 200, 400, 800, 1000, 1000],
  )
  // The default cap is an hour; a huge attempt number stays finite.
  const uncapped = resolve({ type: 'exponential', delay: '1s', jitter: false })
  assert.equal(backoffDelay(uncapped, 10_000, err), 3_600_000)
  // Full jitter: a uniform draw between 0 and the exponential ceiling.
  const jittered = resolve({ type: 'exponential', delay: 100 })
  assert.equal(
    backoffDelay(jittered, 3, err, () => 0),
    0,
  )
  assert.equal(
    backoffDelay(jittered, 3, err, () => 0.5),
    200,
  )
  assert.equal(
    backoffDelay(jittered, 3, err, () => 0.999),
    400,
  )
  for (let i = 0; i < 100; i++) {
    const ms = backoffDelay(jittered, 2, err)
    assert.ok(ms >= 0 && ms <= 200 && Number.isInteger(ms))
  }
  // No backoff: the next attempt is ready at once.
  assert.equal(backoffDelay(resolve(undefined), 3, err), 0)
})

test('backoff: a function gets the attempt and the error; what is not a positive number means no wait', () => {
  const seen: [number, string][] = []
  const fn = (attempt: number, error: Error) => {
    seen.push([attempt, error.message])
    return attempt * 10.4
  }
  const custom = resolveJobOptions({ backoff: fn }, undefined, 'worker').backoff
  assert.equal(backoffDelay(custom, 3, new Error('boom')), 31)
  assert.deepEqual(seen, [[3, 'boom']])
  for (const weird of [-5, Number.NaN, Infinity, '100', undefined]) {
    const b = resolveJobOptions({ backoff: () => weird as number }, undefined, 'worker').backoff
    assert.equal(backoffDelay(b, 1, new Error('x')), 0, String(weird))
  }
})

test('job options fall back to the queue defaults; a job’s own option wins', () => {
  const defaults = resolveJobOptions(
    {
      attempts: 4,
      timeout: '5s',
      backoff: { type: 'fixed', delay: 50 },
      removeOnComplete: 10,
      removeOnFail: true,
    },
    undefined,
    'queue.defaultJobOptions',
  )
  assert.deepEqual(defaults, {
    attempts: 4,
    backoff: { type: 'fixed', delayMs: 50 },
    timeoutMs: 5000,
    keepCompleted: { count: 10, ageMs: 0 },
    keepDead: { count: 0, ageMs: 0 },
  })
  const own = resolveJobOptions(
    { attempts: 1, removeOnComplete: true, removeOnFail: false },
    defaults,
    'job.options',
  )
  assert.equal(own.attempts, 1)
  assert.deepEqual(own.backoff, { type: 'fixed', delayMs: 50 })
  assert.equal(own.timeoutMs, 5000)
  assert.deepEqual(own.keepCompleted, { count: 0, ageMs: 0 }, 'removeOnComplete: true keeps none')
  assert.deepEqual(own.keepDead, { count: -1, ageMs: 0 }, 'removeOnFail: false keeps all')
  const bare = resolveJobOptions(undefined, undefined, 'job.options')
  assert.deepEqual(bare, {
    attempts: 1,
    backoff: { type: 'none' },
    timeoutMs: 0,
    keepCompleted: { count: 1000, ageMs: 0 },
    keepDead: { count: -1, ageMs: 0 },
  })
  assert.deepEqual(resolveJobOptions({ removeOnComplete: { age: '1h' } }, undefined, 'j').keepCompleted, {
    count: -1,
    ageMs: 3_600_000,
  })
})

test('a worker fetches half its concurrency per call by default, so two calls fill its slots', () => {
  const defaults = resolveJobOptions({}, undefined, 'queue.defaultJobOptions')
  const batchOf = (options: WorkerOptions) => resolveWorkerOptions(options, defaults).batch
  assert.equal(batchOf({}), 1)
  assert.equal(batchOf({ concurrency: 100 }), 50)
  assert.equal(batchOf({ concurrency: 15 }), 8)
  assert.equal(batchOf({ concurrency: 5000 }), 1000)
  assert.equal(batchOf({ concurrency: 100, batch: 100 }), 100)
})
