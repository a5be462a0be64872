/**
 * The job queue on Redis/Valkey only: what the memory backend has no counterpart for. An idle
 * worker costs no commands, a sleeping worker is woken on the queue's sharded channel by an add
 * from another instance, events written by one instance are read in order by another, a worker
 * cut off from Redis loses its job to another; on a Cluster every key of a partition shares one
 * hash tag and partitions spread over the masters.
 */
import assert from 'node:assert/strict'
import { partitionTag } from '../../src/queue/queue-stores.js'
import { randomBytes } from 'node:crypto'
import { after, afterEach, before, describe, it } from 'node:test'
import { createValkit, isValkitError, slotOf, type Valkit } from '../../src/core/index.js'
import {
  createQueue,
  createWorker,
  type Processor,
  type Queue,
  type QueueEvent,
  type QueueOptions,
  type Worker,
  type WorkerOptions,
} from '../../src/queue/index.js'
import {
  cleanPrefix,
  startCluster,
  startServer,
  tcpProxy,
  testEngines,
  waitFor,
  type ClusterHandle,
  type ServerHandle,
} from '../../src/testing/index.js'

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
const until = (check: () => unknown, what: string, timeoutMs = 10_000) =>
  waitFor(async () => ((await check()) ? true : undefined), { what, timeoutMs, intervalMs: 10 })
const unique = (label: string) => `${label}-${randomBytes(4).toString('hex')}`

function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void
  const promise = new Promise<void>((resolve) => (open = resolve))
  return { promise, open }
}

/** Queues and workers a test opened, closed after it (held processors released first). */
function tracker() {
  let queues: Queue[] = []
  let workers: Worker<never, unknown>[] = []
  let gates: (() => void)[] = []
  return {
    queue(valkit: Valkit, name: string, options?: QueueOptions): Queue {
      const queue = createQueue(valkit, name, options)
      queues.push(queue)
      return queue
    },
    worker(valkit: Valkit, name: string, processor: Processor, options?: WorkerOptions): Worker {
      const worker = createWorker(valkit, name, processor, options)
      workers.push(worker as unknown as Worker<never, unknown>)
      return worker
    },
    gate() {
      const g = gate()
      gates.push(g.open)
      return g
    },
    async close() {
      for (const open of gates) open()
      for (const worker of workers) await worker.close({ timeout: 2000 })
      for (const queue of queues) await queue.close()
      ;[queues, workers, gates] = [[], [], []]
    },
  }
}

/** Reads events from `from` until `done(seen)` holds (or 10 s pass). */
async function readEvents(
  queue: Queue,
  from: string,
  done: (seen: readonly QueueEvent[]) => boolean,
): Promise<QueueEvent[]> {
  const seen: QueueEvent[] = []
  for await (const e of queue.events({ from, signal: AbortSignal.timeout(10_000) })) {
    seen.push(e)
    if (done(seen)) break
  }
  return seen
}

/** Calls per command since the server started (`INFO commandstats`). */
async function commandCalls(server: ServerHandle): Promise<Map<string, number>> {
  const out = new Map<string, number>()
  for (const [key, value] of Object.entries(await server.info('commandstats'))) {
    const calls = /calls=(\d+)/.exec(value)
    if (key.startsWith('cmdstat_') && calls) out.set(key.slice('cmdstat_'.length), Number(calls[1]))
  }
  return out
}

function callsSince(before: Map<string, number>, now: Map<string, number>): Record<string, number> {
  const out: Record<string, number> = {}
  for (const [command, calls] of now)
    if (calls !== (before.get(command) ?? 0)) out[command] = calls - (before.get(command) ?? 0)
  return out
}

function workerJobs(valkit: Valkit, queue: string, outcome: string): number {
  for (const metric of valkit.metrics.snapshot()) {
    if (!metric.name.endsWith('queue_worker_jobs_total') || metric.type === 'histogram') continue
    return metric.samples.find((s) => s.labels.queue === queue && s.labels.outcome === outcome)?.value ?? 0
  }
  return 0
}

const flat = (reply: unknown): string[] => (Array.isArray(reply) ? reply.map(String) : [])

for (const engine of testEngines()) {
  void describe(`queue on ${engine}`, { timeout: 60_000 }, () => {
    let server: ServerHandle
    let valkit: Valkit
    let other: Valkit
    const prefix = `t-queue-it-${randomBytes(4).toString('hex')}`
    const open = () => createValkit({ url: server.url, env: {}, logger: false, keyPrefix: prefix })
    const t = tracker()
    const metaKey = (name: string) => `${prefix}:v1:queue:{${name}}:m`
    const asleep = async (name: string) => (await server.command('HGET', metaKey(name), 'sleep')) === '1'

    before(async () => {
      server = await startServer({ engine })
      valkit = open()
      other = open()
      await Promise.all([valkit, other].map((v) => v.supervisor.waitFor('ready', 10_000)))
    })
    afterEach(() => t.close())
    after(async () => {
      await valkit?.close()
      await other?.close()
      if (server?.alive) await cleanPrefix(server, `${prefix}:`)
      await server?.stop()
    })

    it('an idle worker calls none of the queue’s scripts: only health checks and its scheduler’s look-up reach the server', async () => {
      const name = unique('idle')
      const own = open()
      try {
        await own.supervisor.waitFor('ready', 10_000)
        const queue = t.queue(valkit, name)
        const ran: string[] = []
        t.worker(own, name, (job) => void ran.push(job.id))
        await queue.add('once', null)
        await until(() => ran.length === 1, 'the job to run')
        await until(() => asleep(name), 'the worker to sleep')
        const before = await commandCalls(server)
        await sleep(2000)
        const calls = callsSince(before, await commandCalls(server))
        assert.equal(calls.evalsha ?? 0, 0, `no script call: ${JSON.stringify(calls)}`)
        assert.equal(calls.eval ?? 0, 0)
        // What may reach the server: the supervisors' PINGs, this test's INFO, and the worker's
        // scheduler looking for a due tick (one ZRANGE every 5 s).
        const other = Object.keys(calls).filter((c) => !['ping', 'info', 'zrange'].includes(c))
        assert.deepEqual(other, [], JSON.stringify(calls))
        assert.ok((calls.zrange ?? 0) <= 1, JSON.stringify(calls))
      } finally {
        await t.close()
        await own.close()
      }
    })

    it('a wide worker on an idle queue makes one fetch per wake-up: 3 script calls per job, add included', async () => {
      // Concurrency 100 overlaps two calls while the queue has work; on an idle queue a wake-up
      // must not send the second one (it would find nothing).
      const name = unique('idle-wide')
      const queue = t.queue(valkit, name)
      // Counted by 'completed', which fires on the reply to the call that settled the job: a
      // settlement still on its way would land in the next window of counted calls.
      let done = 0
      t.worker(other, name, () => undefined, { concurrency: 100 }).on('completed', () => void done++)
      await queue.add('first', null)
      await until(() => done === 1, 'the first job to settle')
      await until(() => asleep(name), 'the worker to sleep')
      const before = await commandCalls(server)
      for (let i = 0; i < 3; i++) {
        await queue.add('one', i)
        await until(() => done === i + 2, 'the job to settle')
        await until(() => asleep(name), 'the worker to sleep again')
      }
      const calls = callsSince(before, await commandCalls(server))
      assert.ok((calls.evalsha ?? 0) + (calls.eval ?? 0) <= 9, JSON.stringify(calls))
    })

    it('the events of one script call share one stream entry; the stream keeps about eventsMaxLength events', async () => {
      const name = unique('ev-batch')
      const streamKey = `${prefix}:v1:queue:{${name}}:e`
      const eventsIn = async () => {
        const entries = (await server.command('XRANGE', streamKey, '-', '+')) as [string, string[]][]
        let events = 0
        for (const [, fields] of entries)
          for (let k = 0; k < fields.length; k += 2) if (fields[k] === 'i') events++
        return { entries: entries.length, events }
      }
      const queue = t.queue(valkit, name, { eventsMaxLength: 300 })
      await queue.addBulk(Array.from({ length: 100 }, (_, i) => ({ name: `j${i}` })))
      assert.deepEqual(await eventsIn(), { entries: 1, events: 100 }, 'one entry for the bulk')
      for (let b = 0; b < 20; b++)
        await queue.addBulk(Array.from({ length: 100 }, (_, i) => ({ name: `k${i}` })))
      let done = 0
      t.worker(other, name, () => undefined, { concurrency: 50, queue: { eventsMaxLength: 300 } }).on(
        'completed',
        () => void done++,
      )
      await until(() => done === 2100, 'the 2,100 jobs to complete', 30_000)
      // 6,300 events written (added, active, completed per job) in far fewer entries. The trim
      // counts entries (MAXLEN ~ eventsMaxLength / the events of the entry being written), so
      // when earlier entries held fewer events than the last, somewhat fewer than 300 are kept
      // (275 seen under load).
      const kept = await eventsIn()
      assert.ok(kept.events >= 150 && kept.events <= 1200, JSON.stringify(kept))
    })

    it('the active set stays in its skiplist encoding; counts, lists and the global limit see only jobs', async () => {
      // A member longer than any job id keeps the set out of the listpack encoding, where each
      // lease added walked the whole set. It must never show up as a job.
      const name = unique('active-enc')
      const activeKey = `${prefix}:v1:queue:{${name}}:a`
      const queue = t.queue(valkit, name)
      const held = new Map<string, () => void>()
      const running = new Set<string>()
      t.worker(
        other,
        name,
        (job) =>
          new Promise<void>((resolve) => {
            running.add(job.id)
            held.set(job.id, resolve)
          }),
        { concurrency: 5, globalConcurrency: 3 },
      )
      const ids = (await queue.addBulk(Array.from({ length: 4 }, () => ({ name: 'held' })))).map((r) => r.id)
      await until(() => running.size === 3, 'three jobs to run (the global limit)')
      assert.equal(await server.command('OBJECT', 'ENCODING', activeKey), 'skiplist')
      assert.equal((await queue.counts()).active, 3)
      assert.deepEqual((await queue.list('active')).map((j) => j.id).sort(), [...running].sort())
      // One job done frees one slot of the limit: the fourth starts while two are still held.
      const first = [...running][0]!
      held.get(first)!()
      await until(() => running.size === 4, 'the fourth job to take the freed slot')
      assert.equal((await queue.counts()).active, 3)
      for (const [id, resolve] of held) if (id !== first) resolve()
      await until(async () => (await queue.counts()).totals.completed === 4, 'the four jobs to complete')
      assert.deepEqual(new Set(running), new Set(ids))
      assert.equal((await queue.counts()).active, 0)
      assert.deepEqual(await queue.list('active'), [])
    })

    it('an add on one instance wakes a worker asleep on another: one message on the shard channel, none while it is busy', async () => {
      const name = unique('wake')
      const producer = t.queue(valkit, name)
      const release = t.gate()
      const ran: string[] = []
      // No idle poll within the test: only the wake-up can start a job.
      t.worker(
        other,
        name,
        async (job) => {
          ran.push(job.name)
          if (job.name === 'first') await release.promise
        },
        { idlePoll: '1h', schedules: false },
      )
      await until(() => asleep(name), 'the worker to sleep')
      assert.deepEqual(flat(await server.command('PUBSUB', 'SHARDCHANNELS', `${prefix}:*`)), [
        `${prefix}:v1:queue:{${name}}:wake`,
      ])
      // Every wake message is one SPUBLISH from a queue script.
      const before = await commandCalls(server)
      await producer.add('first', null)
      await until(() => ran.length === 1, 'the first job to run')
      await producer.add('second', null)
      await producer.add('third', null)
      release.open()
      await until(() => ran.length === 3, 'the jobs added while it was busy to run')
      await until(() => asleep(name), 'the worker to sleep again')
      await producer.add('fourth', null)
      await until(() => ran.length === 4, 'the fourth job to run')
      assert.deepEqual(ran, ['first', 'second', 'third', 'fourth'])
      const calls = callsSince(before, await commandCalls(server))
      assert.equal(calls.spublish, 2, `one message per sleep: ${JSON.stringify(calls)}`)
    })

    it('events written by one instance are read by another in order; a replay from an id gives the rest', async () => {
      const name = unique('events')
      const writer = t.queue(valkit, name)
      const reader = t.queue(other, name)
      const ids = ['a', 'b', 'c', 'd'].map((s) => `job:${s}`)
      const completed = (seen: readonly QueueEvent[]) =>
        seen.filter((e) => e.type === 'completed').length === 4
      const live = readEvents(reader, '0', completed)
      t.worker(valkit, name, (job) => {
        if (job.id === 'job:b' && job.attempt === 1) throw new Error('flaky')
        return job.id
      })
      for (const id of ids) await writer.add('step', { id }, { id, attempts: 2 })
      const seenByOther = await live
      const seenByWriter = await readEvents(writer, '0', completed)
      assert.deepEqual(seenByOther, seenByWriter, 'both instances see one stream, in one order')
      for (const id of ids) {
        const types = seenByOther.filter((e) => e.jobId === id).map((e) => e.type)
        assert.deepEqual(
          types,
          id === 'job:b'
            ? ['added', 'active', 'retried', 'active', 'completed']
            : ['added', 'active', 'completed'],
        )
      }
      const cut = seenByOther.findIndex((e) => e.jobId === 'job:c' && e.type === 'added')
      const rest = seenByOther.length - cut - 1
      const replay = await readEvents(reader, seenByOther[cut]!.streamId, (seen) => seen.length === rest)
      assert.deepEqual(replay, seenByOther.slice(cut + 1))
    })

    it('close() while events() is read ends the reader without opening a connection again; events() after close is refused', async () => {
      const name = unique('events-close')
      const own = open()
      try {
        await own.supervisor.waitFor('ready', 10_000)
        // Counts the connections the instance opens for blocking reads.
        const driver = own.driver
        const duplicate = driver.duplicate.bind(driver)
        let opened = 0
        driver.duplicate = () => {
          opened++
          return duplicate()
        }
        const queue = createQueue(own, name)
        await queue.add('one', 1)
        await queue.add('two', 2)
        const seen: string[] = []
        let openedBeforeClose = -1
        // The consumer closes the queue on the first event and keeps iterating.
        for await (const e of queue.events({ from: '0', signal: AbortSignal.timeout(10_000) })) {
          seen.push(e.type)
          if (seen.length === 1) {
            openedBeforeClose = opened
            await queue.close()
          }
        }
        assert.equal(openedBeforeClose, 1, 'the reader had its blocking connection')
        assert.equal(opened, 1, 'no connection was opened after queue.close()')
        await assert.rejects(queue.events().next(), (err: unknown) => isValkitError(err, 'VALKIT_CLOSED'))
      } finally {
        await own.close()
      }
    })

    it('eventsMaxLength 0 writes no events', async () => {
      const name = unique('quiet')
      const queue = t.queue(valkit, name, { eventsMaxLength: 0 })
      t.worker(valkit, name, () => 'ok', { queue: { eventsMaxLength: 0 } })
      const { id } = await queue.add('x', null)
      await until(async () => (await queue.getJob(id))?.state === 'completed', 'the job to complete')
      assert.equal(await server.command('EXISTS', `${prefix}:v1:queue:{${name}}:e`), 0)
    })

    it('close({ timeout }) over a stalled network returns, and the jobs a call still out then leases are not run by the closed worker', async () => {
      const name = unique('close-fetch')
      const proxy = await tcpProxy({ target: { port: server.port } })
      const slow = createValkit({
        url: proxy.url,
        env: {},
        logger: false,
        keyPrefix: prefix,
        commandTimeout: '10s',
      })
      try {
        await slow.supervisor.waitFor('ready', 10_000)
        const queue = t.queue(valkit, name)
        const release = t.gate()
        const ran: string[] = []
        const completed: string[] = []
        const worker = createWorker(
          slow,
          name,
          async (job) => {
            ran.push(job.id)
            if (job.id === 'job:a') await release.promise
            return job.id
          },
          { concurrency: 1, schedules: false },
        )
        worker.on('completed', (job) => completed.push(job.id))
        await queue.add('a', null, { id: 'job:a' })
        await until(() => ran.includes('job:a'), 'job a to start')
        await queue.add('b', null, { id: 'job:b' })
        // The call that stores a's result also fetches b; the proxy holds it (and the unsubscribe).
        proxy.pause()
        release.open()
        // The worker sends that call on a later turn of the event loop (its pump is a setImmediate).
        for (let i = 0; i < 3; i++) await new Promise((resolve) => setImmediate(resolve))
        const started = performance.now()
        await worker.close({ timeout: 100 })
        const closeMs = performance.now() - started
        assert.ok(closeMs < 2000, `close({ timeout: 100 }) took ${closeMs.toFixed(0)} ms`)
        proxy.heal()
        await until(() => completed.includes('job:a'), "the held call's reply")
        assert.deepEqual(ran, ['job:a'], 'b was not run after close()')
        assert.equal((await queue.getJob('job:b'))?.state, 'active', 'b is left to its lease')
      } finally {
        await slow.close()
        await proxy.close()
      }
    })

    it('a worker cut off from Redis past its lease loses the job: another runs it, the first sees it lost and its completion is refused', async () => {
      const name = unique('partition')
      const proxy = await tcpProxy({ target: { port: server.port } })
      const cut = createValkit({ url: proxy.url, env: {}, logger: false, keyPrefix: prefix })
      try {
        await cut.supervisor.waitFor('ready', 10_000)
        const queue = t.queue(valkit, name)
        const release = t.gate()
        const lost: string[] = []
        let signal: AbortSignal | undefined
        const a = t.worker(
          cut,
          name,
          async (job) => {
            signal = job.signal
            await release.promise
            return 'from the cut-off worker'
          },
          { lease: 300, schedules: false },
        )
        a.on('lost', (job) => lost.push(job.id))
        const { id } = await queue.add('pay', null)
        await until(() => signal !== undefined, 'the cut-off worker to start the job')
        proxy.pause()
        t.worker(valkit, name, () => 'from the other worker', { lease: 300, schedules: false })
        await until(
          async () => (await queue.getJob(id))?.state === 'completed',
          'the other worker to complete it',
        )
        proxy.heal()
        await until(() => lost.length === 1, 'the cut-off worker to find its lease lost', 15_000)
        assert.equal(lost[0], id)
        assert.ok(signal!.aborted)
        release.open()
        await until(() => workerJobs(cut, name, 'stale') === 1, 'its completion to be refused', 15_000)
        const job = await queue.getJob(id)
        assert.equal(job?.result, 'from the other worker')
        assert.equal(job?.stalls, 1)
        assert.equal((await queue.counts()).totals.completed, 1)
      } finally {
        await t.close()
        await cut.close()
        await proxy.close()
      }
    })
  })

  void describe(`queue on a ${engine} Cluster`, { timeout: 90_000 }, () => {
    let cluster: ClusterHandle
    let valkit: Valkit
    let other: Valkit
    const prefix = `t-queue-itc-${randomBytes(4).toString('hex')}`
    const t = tracker()

    before(async () => {
      cluster = await startCluster({ engine, masters: 3, replicasPerMaster: 0 })
      const open = () =>
        createValkit({
          cluster: { nodes: cluster.seeds.map((s) => `${s.host}:${s.port}`) },
          env: {},
          logger: false,
          keyPrefix: prefix,
        })
      valkit = open()
      other = open()
      await Promise.all([valkit, other].map((v) => v.supervisor.waitFor('ready', 15_000)))
    })
    afterEach(() => t.close())
    after(async () => {
      await valkit?.close()
      await other?.close()
      if (cluster) await cleanPrefix(cluster, `${prefix}:`).catch(() => {})
      await cluster?.stop()
    })

    /** Every key of this run's prefix, with the port of the master that holds it. */
    async function keysByNode(): Promise<Map<string, number>> {
      const out = new Map<string, number>()
      for (const master of await cluster.masters()) {
        const node = cluster.node(master.port)
        let cursor = '0'
        do {
          const [next, keys] = (await node.command(
            'SCAN',
            cursor,
            'MATCH',
            `${prefix}:*`,
            'COUNT',
            1000,
          )) as [string, string[]]
          cursor = next
          for (const key of keys) out.set(key, master.port)
        } while (cursor !== '0')
      }
      return out
    }

    it('every key of a queue shares its hash tag: one slot, one node, the wake channel too', async () => {
      const name = unique('layout')
      const queue = t.queue(valkit, name)
      t.worker(valkit, name, (job) => {
        if (job.name === 'fails') throw new Error('no')
        return 'ok'
      })
      const done = await queue.add('works', null)
      const dead = await queue.add('fails', null)
      await until(
        async () =>
          (await queue.counts()).totals.dead === 1 && (await queue.getJob(done.id))?.state === 'completed',
        'a completed and a dead job',
      )
      const delayed = await queue.add('later', null, { delay: '1h' })
      await queue.pause()
      const waiting = await queue.add('waiting', null)
      await queue.schedule('nightly', { cron: '0 3 * * *', job: { name: 'digest' } })
      const keys = [...(await keysByNode())].filter(([key]) => key.includes(`{${name}}`))
      const base = `${prefix}:v1:queue:{${name}}:`
      const parts = keys.map(([key]) => {
        assert.ok(key.startsWith(base), `${key} is under ${base}`)
        return key.slice(base.length)
      })
      for (const part of ['w', 'd', 'c', 'x', 'm', 'e', 's', 'n'])
        assert.ok(parts.includes(part), `${part} in ${parts.join(', ')}`)
      for (const r of [done, dead, delayed, waiting]) assert.ok(parts.includes(`j:${r.id}`), `job ${r.id}`)
      assert.equal(new Set(keys.map(([key]) => slotOf(key))).size, 1, 'one slot')
      assert.equal(new Set(keys.map(([, port]) => port)).size, 1, 'one node')
      const node = cluster.node(keys[0]![1])
      assert.equal(await node.command('CLUSTER', 'KEYSLOT', `${base}wake`), slotOf(keys[0]![0]))
    })

    it('partitions: each has its own hash tag, and the partitions of a queue spread over the masters', async () => {
      // Partition tags are chosen so their slots fall in N equal shares of the slot range.
      const name = 'crawl'
      const partitions = 8
      const masters = await cluster.masters()
      const owner = (slot: number) =>
        masters.find((m) => m.slots.some(([a, b]) => slot >= a && slot <= b))!.port
      const tags = Array.from({ length: partitions }, (_, i) => partitionTag(name, partitions, i))
      tags.forEach((tag, i) => {
        const slot = slotOf(`{${tag}}`)
        assert.ok(
          slot >= (i * 16384) / partitions && slot < ((i + 1) * 16384) / partitions,
          `${tag}: slot ${slot} in share ${i}`,
        )
      })
      assert.equal(
        new Set(tags.map((tag) => owner(slotOf(`{${tag}}`)))).size,
        3,
        'the tags cover every master',
      )

      const queue = t.queue(valkit, name, { partitions })
      const ids = Array.from({ length: 48 }, (_, i) => `page:${i}`)
      await queue.addBulk(ids.map((id) => ({ name: 'fetch', data: id, options: { id } })))
      const keys = [...(await keysByNode())].filter(([key]) => key.includes(`:queue:{${name}:`))
      const perTag = new Map<string, Set<number>>()
      for (const [key, port] of keys) {
        const tag = /\{([^}]+)\}/.exec(key)![1]!
        assert.ok(tags.includes(tag), `${key} has a partition's tag`)
        assert.equal(port, owner(slotOf(key)), `${key} is on the master of its slot`)
        perTag.set(tag, (perTag.get(tag) ?? new Set()).add(port))
      }
      assert.equal(perTag.size, partitions, 'every partition holds jobs')
      assert.ok(
        [...perTag.values()].every((ports) => ports.size === 1),
        'a partition is on one node',
      )
      assert.equal(new Set(keys.map(([, port]) => port)).size, 3, 'the queue spreads over the three masters')
      let waiting = 0
      for (const tag of tags)
        waiting += Number(
          await cluster.node(owner(slotOf(`{${tag}}`))).command('ZCARD', `${prefix}:v1:queue:{${tag}}:w`),
        )
      assert.equal(waiting, ids.length)
      assert.equal((await queue.counts()).waiting, ids.length)
      for (const id of ['page:0', 'page:17', 'page:47']) assert.equal((await queue.getJob(id))?.data, id)
    })

    it('a worker asleep on one instance is woken on the sharded channel by an add on another', async () => {
      const name = unique('wake')
      const producer = t.queue(valkit, name)
      const ran: string[] = []
      t.worker(other, name, (job) => void ran.push(job.name), { idlePoll: '1h', schedules: false })
      await until(async () => {
        const slot = slotOf(`{${name}}`)
        const master = (await cluster.masters()).find((m) =>
          m.slots.some(([a, b]) => slot >= a && slot <= b),
        )!
        return (
          (await cluster.node(master.port).command('HGET', `${prefix}:v1:queue:{${name}}:m`, 'sleep')) === '1'
        )
      }, 'the worker to sleep')
      await producer.add('wake-up', null)
      await until(() => ran.length === 1, 'the worker to run the job')
      assert.deepEqual(ran, ['wake-up'])
    })
  })
}
