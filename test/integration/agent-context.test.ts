/**
 * The agent context against real servers (Redis and Valkey): shared entries, versions assigned
 * by Redis under concurrent writers of two instances, read-your-writes, minVersion across
 * instances, compare-and-set, bounded lists, delete/clear, scope TTL, and Redis stopped.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import { createCodec, createValkit, isValkitError, type Valkit } from '../../src/core/index.js'
import {
  createAgentContext,
  type AgentContext,
  type AgentContextOptions,
} from '../../src/cache/agent-context/index.js'
import { WRITE_ENTRY } from '../../src/cache/agent-context/context-scripts.js'
import {
  cleanPrefix,
  startServer,
  tcpProxy,
  testEngines,
  waitFor,
  type ServerHandle,
} from '../../src/testing/index.js'

const rejectsWith = (code: string) => (err: unknown) => isValkitError(err) && err.code === code

for (const engine of testEngines()) {
  void describe(`agent context on ${engine}`, { timeout: 60_000 }, () => {
    let server: ServerHandle
    const prefix = `t-ctx-${randomBytes(4).toString('hex')}`
    const open: { valkit: Valkit; ctx: AgentContext }[] = []

    before(async () => {
      server = await startServer({ engine })
    })
    after(async () => {
      for (const { valkit, ctx } of open) {
        await ctx.close()
        await valkit.close()
      }
      if (server?.alive) await cleanPrefix(server, `${prefix}:`)
      await server?.stop()
    })

    /** A valkit instance of its own (its own connections) with an agent context on it, ready. */
    async function instance(
      options: AgentContextOptions = {},
    ): Promise<{ valkit: Valkit; ctx: AgentContext }> {
      const valkit = createValkit({
        url: server.url,
        env: {},
        logger: false,
        keyPrefix: prefix,
        commandTimeout: 500,
      })
      await valkit.supervisor.waitFor('ready', 10_000)
      const ctx = createAgentContext(valkit, options)
      await ctx.ready()
      const handle = { valkit, ctx }
      open.push(handle)
      return handle
    }

    async function scan(match: string): Promise<string[]> {
      const keys: string[] = []
      let cursor = '0'
      do {
        const [next, page] = (await server.command('SCAN', cursor, 'MATCH', match, 'COUNT', 1000)) as [
          string,
          string[],
        ]
        cursor = next
        keys.push(...page)
      } while (cursor !== '0')
      return keys.sort()
    }

    it('writes get increasing versions; another instance reads them; a scope is three keys with one hash tag', async () => {
      const { ctx: a } = await instance({ namespace: 'basic' })
      const { ctx: b } = await instance({ namespace: 'basic' })
      const first = await a.write('conv-1', 'plan', { steps: ['search', 'answer'] })
      assert.deepEqual(first, { ok: true, version: 1 })
      const second = await a.write('conv-1', 'goal', 'help the user')
      assert.deepEqual(second, { ok: true, version: 2 })
      assert.deepEqual(await b.read('conv-1', 'plan'), {
        key: 'plan',
        kind: 'value',
        value: { steps: ['search', 'answer'] },
        version: 1,
      })
      assert.equal(await b.read('conv-1', 'missing'), undefined)
      assert.equal(await b.read('conv-2', 'plan'), undefined, 'scopes are separate')
      const entries = await b.entries('conv-1')
      assert.deepEqual(
        entries.map((e) => [e.key, e.version]),
        [
          ['goal', 2],
          ['plan', 1],
        ],
      )
      const keys = await scan(`${prefix}:*`)
      assert.deepEqual(
        keys.filter((k) => k.includes('{basic@conv-1}')),
        ['seq', 'm', 'd'].map((s) => `${prefix}:v1:cache:{basic@conv-1}:${s}`).sort(),
      )
    })

    it('another instance drops its copy when an entry changes', async () => {
      const { ctx: a } = await instance({ namespace: 'inval' })
      const { ctx: b } = await instance({ namespace: 'inval' })
      await a.write('s', 'k', 'v1')
      assert.equal((await b.read('s', 'k'))?.value, 'v1')
      assert.equal((await b.read('s', 'k'))?.value, 'v1')
      assert.equal(b.stats().l1Hits, 1, 'second read from process memory')
      await a.write('s', 'k', 'v2')
      await waitFor(async () => (await b.read('s', 'k'))?.value === 'v2', {
        timeoutMs: 2000,
        what: 'b sees v2',
      })
      assert.ok(b.stats().remoteInvalidations >= 1)
      await a.delete('s', 'k')
      await waitFor(async () => (await b.read('s', 'k')) === undefined, {
        timeoutMs: 2000,
        what: 'b sees the delete',
      })
      await a.write('s', 'other', 1)
      assert.equal((await b.read('s', 'other'))?.value, 1)
      await a.clear('s')
      await waitFor(async () => (await b.read('s', 'other')) === undefined, {
        timeoutMs: 2000,
        what: 'b sees the clear',
      })
    })

    it('versions stay unique and monotonic under concurrent writers in two instances', async () => {
      const { ctx: a } = await instance({ namespace: 'race' })
      const { ctx: b } = await instance({ namespace: 'race' })
      const writes = Array.from({ length: 200 }, (_, i) =>
        (i % 2 === 0 ? a : b).write('shared', i % 3 === 0 ? 'hot' : `k${i % 7}`, { writer: i % 2, i }),
      )
      const appends = Array.from({ length: 100 }, (_, i) =>
        (i % 2 === 0 ? a : b).append('shared', 'log', i, { maxItems: 1000 }),
      )
      const results = await Promise.all([...writes, ...appends])
      const versions = results.map((r) => (r.ok ? r.version : -1))
      assert.ok(versions.every((v) => v > 0))
      assert.equal(new Set(versions).size, 300, 'no version assigned twice')
      assert.equal(Math.max(...versions), 300)
      // The entry's version is its last write's; reads from both instances agree.
      const hotVersions = results
        .slice(0, 200)
        .filter((_, i) => i % 3 === 0)
        .map((r) => (r.ok ? r.version : 0))
      const hot = await b.read('shared', 'hot', { minVersion: 300 })
      assert.equal(hot?.version, Math.max(...hotVersions))
      assert.equal((await a.read('shared', 'hot', { minVersion: 300 }))?.version, hot?.version)
      const log = await a.read<number[]>('shared', 'log', { minVersion: 300 })
      assert.equal(log?.value.length, 100, 'every append kept')
      assert.deepEqual(
        [...log.value].sort((x, y) => x - y),
        Array.from({ length: 100 }, (_, i) => i),
      )
      // A later change of any entry is newer than all of them, also after a delete.
      await a.delete('shared', 'hot')
      const again = await b.write('shared', 'hot', 'reborn')
      assert.ok(again.ok && again.version === 302)
    })

    it('read-your-writes: after a change resolves, reads in the writer never return an older version', async () => {
      const { ctx: a } = await instance({ namespace: 'ryw' })
      const { ctx: b } = await instance({ namespace: 'ryw' })
      for (let round = 0; round < 50; round++) {
        // A read of the old state in flight, another instance writing too: neither may win over A's write.
        const staleRead = a.read('s', 'k')
        const other = b.write('s', 'k', { from: 'b', round })
        const mine = await a.write('s', 'k', { from: 'a', round })
        assert.ok(mine.ok)
        await Promise.all([staleRead, other])
        const seen = await a.read('s', 'k')
        assert.ok(
          seen !== undefined && seen.version >= mine.version,
          `round ${round}: read ${seen?.version} < wrote ${mine.version}`,
        )
      }
      // Deletes and clears too.
      await a.write('s', 'gone', 1)
      assert.equal((await a.read('s', 'gone'))?.value, 1)
      await a.delete('s', 'gone')
      assert.equal(await a.read('s', 'gone'), undefined)
      await a.append('s', 'turns', 'hello')
      await a.clear('s')
      assert.equal(await a.read('s', 'turns'), undefined)
      assert.deepEqual(await a.entries('s'), [])
    })

    it('minVersion: a token from the writer makes another instance bypass its stale copy', async () => {
      const { valkit: va, ctx: a } = await instance({ namespace: 'token' })
      const { ctx: b } = await instance({ namespace: 'token' })
      const w1 = await a.write('s', 'k', 'old')
      assert.ok(w1.ok)
      assert.equal((await b.read('s', 'k'))?.value, 'old') // now in b's process memory
      // A change whose invalidation message never arrives (same script, no PUBLISH).
      const keys = ['seq', 'm', 'd'].map((s) => va.keys.key('cache', 'token@s', s))
      const bytes = createCodec().encode('new')
      const reply = (await server
        .command('EVALSHA', WRITE_ENTRY.sha, 3, ...keys, 'k', bytes, '', 0)
        .catch(() => server.command('EVAL', WRITE_ENTRY.source, 3, ...keys, 'k', bytes, '', 0))) as number[]
      const token = Number(reply[0])
      assert.equal(token, 2)
      assert.equal((await b.read('s', 'k'))?.value, 'old', 'without a token b serves its copy')
      const fresh = await b.read('s', 'k', { minVersion: token })
      assert.deepEqual([fresh?.value, fresh?.version], ['new', 2])
      assert.equal((await b.read('s', 'k'))?.value, 'new', 'and keeps the fresh copy')
      // A token from another entry of the same scope works as well.
      const w3 = await a.write('s', 'other', 'x')
      assert.ok(w3.ok)
      assert.equal((await b.read('s', 'k', { minVersion: w3.version }))?.version, 2)
    })

    it('compare-and-set: one of two concurrent writers wins, the other gets a conflict; no lost updates', async () => {
      const { ctx: a } = await instance({ namespace: 'cas' })
      const { ctx: b } = await instance({ namespace: 'cas' })
      const created = await a.write('s', 'plan', { v: 0 }, { ifVersion: 0 })
      assert.ok(created.ok)
      assert.deepEqual(await b.write('s', 'plan', { v: 'dup' }, { ifVersion: 0 }), {
        ok: false,
        reason: 'conflict',
        currentVersion: created.version,
      })
      const [ra, rb] = await Promise.all([
        a.write('s', 'plan', { by: 'a' }, { ifVersion: created.version }),
        b.write('s', 'plan', { by: 'b' }, { ifVersion: created.version }),
      ])
      const winners = [ra, rb].filter((r) => r.ok)
      assert.equal(winners.length, 1)
      const loser = [ra, rb].find((r) => !r.ok)
      assert.ok(loser !== undefined && !loser.ok && loser.currentVersion === winners[0]!.version)
      assert.equal(a.stats().conflicts + b.stats().conflicts, 2)

      // Read-modify-write with retry: 2 instances × 15 increments each, nothing lost.
      await a.write('s', 'counter', 0)
      const increment = async (ctx: AgentContext) => {
        for (;;) {
          const current = await ctx.read<number>('s', 'counter')
          const result = await ctx.write('s', 'counter', current!.value + 1, { ifVersion: current!.version })
          if (result.ok) return
        }
      }
      await Promise.all(
        [a, b].map(async (ctx) => {
          for (let i = 0; i < 15; i++) await increment(ctx)
        }),
      )
      assert.equal((await b.entries('s')).find((e) => e.key === 'counter')?.value, 30)
      // Deleting with a stale version is refused too.
      const stale = await a.delete('s', 'plan', { ifVersion: created.version })
      assert.equal(stale.ok, false)
    })

    it('append keeps the last N items and at most maxBytes; the writer’s copy stays in step', async () => {
      const { ctx: a } = await instance({ namespace: 'lists', lists: { maxItems: 5 } })
      const { ctx: b } = await instance({ namespace: 'lists', l1: false })
      for (let i = 1; i <= 8; i++) {
        const r = await a.append('conv', 'turns', {
          role: i % 2 ? 'user' : 'assistant',
          content: `turn ${i}`,
        })
        assert.ok(r.ok)
        assert.equal(r.trimmed, i > 5 ? 1 : 0)
      }
      const hits = a.stats().l1Hits
      const local = await a.read<{ content: string }[]>('conv', 'turns')
      assert.equal(a.stats().l1Hits, hits + 1, 'served from the writer’s copy')
      const remote = await b.read<{ content: string }[]>('conv', 'turns')
      assert.deepEqual(local, remote)
      assert.deepEqual(
        remote?.value.map((t) => t.content),
        ['turn 4', 'turn 5', 'turn 6', 'turn 7', 'turn 8'],
      )
      // Bytes: each item is 1006 bytes encoded (compression off): a 3100-byte bound keeps the last 3.
      const { ctx: c } = await instance({ namespace: 'lists', codec: { compression: 'none' } })
      for (let i = 0; i < 6; i++)
        await c.append('conv', 'notes', `${i}:${'x'.repeat(1000)}`, { maxBytes: 3100 })
      const notes = await b.read<string[]>('conv', 'notes')
      assert.deepEqual(
        notes?.value.map((n) => n.split(':')[0]),
        ['3', '4', '5'],
      )
      const big = await c.append('conv', 'notes', 'y'.repeat(5000), { maxBytes: 3100 })
      assert.ok(big.ok && big.trimmed === 3, 'the newest item always stays')
      assert.equal((await b.read<string[]>('conv', 'notes'))?.value.length, 1)
      // A value entry is not a list.
      await a.write('conv', 'summary', 'short')
      await assert.rejects(a.append('conv', 'summary', 'x'), rejectsWith('VALKIT_INVALID_ARGUMENT'))
      // Writing over a list replaces it (and its items).
      const replaced = await a.write('conv', 'turns', 'now a value')
      assert.ok(replaced.ok)
      assert.deepEqual((await b.read('conv', 'turns'))?.value, 'now a value')
      const dataFields = (await server.command(
        'HKEYS',
        `${prefix}:v1:cache:{agent-context@conv}:d`,
      )) as string[]
      assert.equal(dataFields.length, 0, 'namespace agent-context untouched')
      const listFields = (await server.command('HKEYS', `${prefix}:v1:cache:{lists@conv}:d`)) as string[]
      assert.ok(!listFields.some((f) => f.startsWith('i:turns:')), 'list items gone')
    })

    /** A change of entry `key` in `scope` (namespace `ns`) whose invalidation message is never sent. */
    async function unannouncedWrite(ns: string, scope: string, key: string, value: unknown): Promise<number> {
      const keys = ['seq', 'm', 'd'].map((s) => `${prefix}:v1:cache:{${ns}@${scope}}:${s}`)
      const bytes = createCodec().encode(value)
      const reply = (await server
        .command('EVALSHA', WRITE_ENTRY.sha, 3, ...keys, key, bytes, '', 0)
        .catch(() => server.command('EVAL', WRITE_ENTRY.source, 3, ...keys, key, bytes, '', 0))) as number[]
      return Number(reply[0])
    }

    /** A valkit instance whose SUBSCRIBE calls are held until `release()` (a slow subscriber connection). */
    async function slowSubscriber(): Promise<{ valkit: Valkit; release: () => void }> {
      const valkit = createValkit({ url: server.url, env: {}, logger: false, keyPrefix: prefix })
      await valkit.supervisor.waitFor('ready', 10_000)
      let release!: () => void
      const gate = new Promise<void>((resolve) => (release = resolve))
      const connection = valkit.connection as { subscribe: Valkit['connection']['subscribe'] }
      const subscribe = connection.subscribe.bind(valkit.connection)
      connection.subscribe = async (channel, listener) => {
        await gate
        return subscribe(channel, listener)
      }
      return { valkit, release }
    }

    it('before its channel is subscribed, an instance reads Redis and keeps no copy (a change meanwhile is not missed)', async () => {
      const { ctx: b } = await instance({ namespace: 'early' })
      await b.write('s', 'k', 'v1')
      const { valkit, release } = await slowSubscriber()
      const a = createAgentContext(valkit, { namespace: 'early' })
      open.push({ valkit, ctx: a })
      assert.equal((await a.read('s', 'k'))?.value, 'v1')
      const mine = await a.write('s', 'own', 'x')
      assert.ok(mine.ok)
      assert.equal((await a.read('s', 'own'))?.value, 'x', 'its own write, read back from Redis')
      assert.equal(a.stats().l1Entries, 0, 'no copy before the subscription')
      await b.write('s', 'k', 'v2') // announced before a's SUBSCRIBE is active: a cannot hear it
      release()
      await a.ready()
      assert.equal((await a.read('s', 'k'))?.value, 'v2')
      assert.equal((await a.read('s', 'k'))?.value, 'v2')
      assert.equal(a.stats().l1Entries, 1, 'copies are kept once subscribed')
      await b.write('s', 'k', 'v3')
      await waitFor(async () => (await a.read('s', 'k'))?.value === 'v3', { what: 'a to hear b’s change' })
    })

    it('when the first SUBSCRIBE fails, copies are kept only once a probe proves the subscription delivers', async () => {
      const { valkit: vb, ctx: b } = await instance({ namespace: 'probe' })
      await b.write('s', 'k', 'v1')
      // Counts the probes sent on the namespace's channel (b's subscription hears them too).
      let probes = 0
      await vb.connection.subscribe(`${prefix}:v1:cache:{probe@}:events`, (message) => {
        if ((JSON.parse(message.toString()) as { p?: number }).p === 1) probes++
      })
      const valkit = createValkit({ url: server.url, env: {}, logger: false, keyPrefix: prefix })
      await valkit.supervisor.waitFor('ready', 10_000)
      const connection = valkit.connection as { subscribe: Valkit['connection']['subscribe'] }
      const subscribe = connection.subscribe.bind(valkit.connection)
      let subscribeLater!: () => void
      // The first attempt fails; the subscription only happens later (as when the driver
      // subscribes again once its subscriber connection is back).
      connection.subscribe = (channel, listener) => {
        subscribeLater = () => void subscribe(channel, listener)
        return Promise.reject(new Error('subscriber connection not ready'))
      }
      const a = createAgentContext(valkit, { namespace: 'probe' })
      open.push({ valkit, ctx: a })
      let ready = false
      void a.ready().then(() => (ready = true))
      assert.equal((await a.read('s', 'k'))?.value, 'v1')
      await waitFor(() => probes >= 2, { what: 'a second probe: the first went unanswered' })
      assert.equal(ready, false, 'not ready while nothing is subscribed')
      assert.equal((await a.read('s', 'k'))?.value, 'v1')
      assert.equal(a.stats().l1Entries, 0, 'no copy while the subscription is not confirmed')
      subscribeLater()
      await a.ready()
      assert.equal((await a.read('s', 'k'))?.value, 'v1')
      assert.equal(a.stats().l1Entries, 1)
      await b.write('s', 'k', 'v2')
      await waitFor(async () => (await a.read('s', 'k'))?.value === 'v2', { what: 'a to hear b’s change' })
    })

    it('the subscriber connection alone dropped (CLIENT KILL TYPE pubsub): copies are dropped when it is back', async () => {
      const { valkit: va, ctx: a } = await instance({ namespace: 'subdrop' })
      const { ctx: b } = await instance({ namespace: 'subdrop' })
      const states: string[] = []
      va.supervisor.onChange((change) => states.push(change.to))
      await b.write('s', 'k', 'v1')
      assert.equal((await a.read('s', 'k'))?.value, 'v1')
      assert.equal((await a.read('s', 'k'))?.value, 'v1')
      assert.equal(a.stats().l1Hits, 1, 'a holds a copy')
      await va.connection.command(['CLIENT', 'KILL', 'TYPE', 'pubsub'])
      // A change made while the subscriber is away: its message is lost (here: never sent).
      await unannouncedWrite('subdrop', 's', 'k', 'v2')
      await waitFor(async () => (await a.read('s', 'k'))?.value === 'v2', {
        timeoutMs: 5000,
        what: 'a to drop its copy once its subscriber connection is back',
      })
      assert.deepEqual(states, [], 'the command connection never dropped: no supervisor state change')
      await b.write('s', 'k', 'v3')
      await waitFor(async () => (await a.read('s', 'k'))?.value === 'v3', { what: 'a hears changes again' })
    })

    it('ttl: a scope that expired and is written again continues above its old versions (none reused)', async () => {
      const { ctx: a } = await instance({ namespace: 'ttl-versions', ttl: '300ms' })
      const { ctx: b } = await instance({ namespace: 'ttl-versions', ttl: '300ms' })
      let oldVersion = 0
      for (const value of ['first', 'second', 'third']) {
        const w = await a.write('s', 'plan', value)
        assert.ok(w.ok)
        oldVersion = w.version
      }
      await waitFor(
        async () => Number(await server.command('EXISTS', `${prefix}:v1:cache:{ttl-versions@s}:seq`)) === 0,
        { timeoutMs: 5000, what: 'the whole scope, counter included, to expire' },
      )
      assert.equal(await b.read('s', 'plan'), undefined)
      const reborn: number[] = []
      for (const value of ['new 1', 'new 2', 'new 3']) {
        const w = await b.write('s', 'plan', value)
        assert.ok(w.ok)
        reborn.push(w.version)
      }
      assert.ok(
        reborn.every((v) => v > oldVersion),
        `versions ${reborn.join(', ')} are above the earlier life's ${oldVersion}`,
      )
      // A compare-and-set holding a version from the scope's earlier life is a conflict.
      const stale = await a.write('s', 'plan', 'overwrite?', { ifVersion: oldVersion })
      assert.equal(stale.ok, false)
      assert.equal((await b.read('s', 'plan'))?.value, 'new 3')
      // And a's floor (its own writes) does not keep it from holding a copy of the new life.
      assert.equal((await a.read('s', 'plan'))?.value, 'new 3')
      const hits = a.stats().l1Hits
      assert.equal((await a.read('s', 'plan'))?.value, 'new 3')
      assert.equal(a.stats().l1Hits, hits + 1)
    })

    it('ttl: every change sets the whole scope to expire; an idle scope disappears', async () => {
      const { ctx } = await instance({ namespace: 'ttl', ttl: '400ms', l1: false })
      await ctx.write('s', 'k', 1)
      await ctx.append('s', 'l', 1)
      for (const part of ['seq', 'm', 'd']) {
        const pttl = Number(await server.command('PTTL', `${prefix}:v1:cache:{ttl@s}:${part}`))
        assert.ok(pttl > 0 && pttl <= 400, `${part}: PTTL ${pttl}`)
      }
      await waitFor(async () => (await ctx.entries('s')).length === 0, {
        timeoutMs: 5000,
        what: 'the scope expired',
      })
      assert.equal(await ctx.read('s', 'k'), undefined)
    })

    it('ttl: an entry copied into L1 ends no later than its scope, even when the reply came late', async () => {
      const a = (await instance({ ttl: 1500 })).ctx
      const proxy = await tcpProxy({ target: { port: server.port } })
      // Its own instance, closed here: the later tests wait for every instance in `open`.
      const valkit = createValkit({
        url: proxy.url,
        env: {},
        logger: false,
        keyPrefix: prefix,
        commandTimeout: 3000,
        // The latency below is the point of the test, not an outage.
        health: { pingTimeout: 2000 },
      })
      const b = createAgentContext(valkit, { ttl: 1500 })
      try {
        await valkit.supervisor.waitFor('ready', 10_000)
        await b.ready()
        await a.write('late', 'k', 'v')
        const writtenAt = performance.now()
        // The server reads the scope's remaining TTL ~300 ms after b sent its read, and the reply
        // takes another ~300 ms to arrive.
        proxy.setLatency(300)
        assert.equal((await b.read('late', 'k'))?.value, 'v')
        proxy.setLatency(0)
        await waitFor(() => performance.now() - writtenAt > 1650 || undefined, {
          what: 'the scope to expire',
        })
        await valkit.supervisor.waitFor('ready', 10_000)
        assert.equal(await b.read('late', 'k'), undefined, 'served from L1 after its scope expired')
      } finally {
        await b.close()
        await valkit.close()
        await proxy.close()
      }
    })

    it('Redis stopped: reads served from process memory when they can be, changes fail with VALKIT_UNAVAILABLE', async () => {
      const { valkit: va, ctx: a } = await instance({ namespace: 'down' })
      const { ctx: b } = await instance({ namespace: 'down' })
      const w = await a.write('s', 'plan', 'kept')
      assert.ok(w.ok)
      await b.read('s', 'plan')
      await server.command('SAVE') // a persisted server: what was written survives the restart
      await server.kill()
      await waitFor(() => open.every(({ valkit }) => valkit.supervisor.state !== 'ready'), {
        timeoutMs: 5000,
        what: 'every instance degraded',
      })
      assert.equal((await a.read('s', 'plan'))?.value, 'kept', 'the writer’s copy')
      assert.equal((await b.read('s', 'plan'))?.value, 'kept', 'a reader’s copy')
      await assert.rejects(
        b.read('s', 'plan', { minVersion: w.version + 1 }),
        rejectsWith('VALKIT_UNAVAILABLE'),
      )
      await assert.rejects(a.read('s', 'never-read'), rejectsWith('VALKIT_UNAVAILABLE'))
      await assert.rejects(a.write('s', 'plan', 'lost?'), rejectsWith('VALKIT_UNAVAILABLE'))
      await assert.rejects(a.append('s', 'turns', 'x'), rejectsWith('VALKIT_UNAVAILABLE'))
      await assert.rejects(a.delete('s', 'plan'), rejectsWith('VALKIT_UNAVAILABLE'))
      await assert.rejects(a.clear('s'), rejectsWith('VALKIT_UNAVAILABLE'))
      await assert.rejects(a.entries('s'), rejectsWith('VALKIT_UNAVAILABLE'))
      assert.ok(a.stats().unavailable >= 6)

      await server.restart()
      await waitFor(() => open.every(({ valkit }) => valkit.supervisor.state === 'ready'), {
        timeoutMs: 10_000,
        what: 'every instance ready again',
      })
      assert.equal(va.supervisor.backend, 'redis')
      const before = a.stats().redisReads
      assert.equal((await a.read('s', 'plan'))?.value, 'kept')
      assert.equal(a.stats().redisReads, before + 1, 'copies were dropped on recovery: read from Redis')
      const next = await a.write('s', 'plan', 'after')
      assert.ok(next.ok && next.version > w.version, 'versions continue')
      await waitFor(async () => (await b.read('s', 'plan'))?.value === 'after', {
        timeoutMs: 2000,
        what: 'b sees it',
      })
    })
  })
}
