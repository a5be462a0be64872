/**
 * The agent context without a server: options, the in-process tier's guards (floors, read guards,
 * versions), the invalidation message format, and the whole contract on the memory topology.
 */
import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import { createValkit, isValkitError } from '../../src/core/index.js'
import { createAgentContext, resolveAgentContextOptions } from '../../src/cache/agent-context/index.js'
import { ContextL1, L1Item } from '../../src/cache/agent-context/context-l1.js'
import { decodeContextEvent, encodeContextEvent } from '../../src/cache/agent-context/context-event.js'
import { parseScope } from '../../src/cache/agent-context/redis-backend.js'
import { waitFor } from '../../src/testing/index.js'

const valkit = createValkit({ env: {}, logger: false })
after(() => valkit.close())

function rejectsOption(fn: () => unknown, path: string) {
  assert.throws(
    fn,
    (err: unknown) => isValkitError(err, 'VALKIT_INVALID_OPTION') && err.details?.path === path,
    `expected VALKIT_INVALID_OPTION at ${path}`,
  )
}
const invalidArgument = (err: unknown) => isValkitError(err, 'VALKIT_INVALID_ARGUMENT')

void describe('agent context options', () => {
  it('applies the defaults', () => {
    const o = resolveAgentContextOptions()
    assert.equal(o.namespace, 'agent-context')
    assert.deepEqual(o.l1, { maxEntries: 10_000, maxBytes: 16 * 1024 * 1024, ttlMs: 60_000 })
    assert.equal(o.ttlMs, 0)
    assert.deepEqual(o.lists, { maxItems: 100, maxBytes: 256 * 1024 })
    assert.equal(o.maxValueBytes, 1024 * 1024)
    assert.equal(resolveAgentContextOptions({ ttl: '24h' }).ttlMs, 86_400_000)
  })

  it('names the path of an invalid option', () => {
    rejectsOption(() => resolveAgentContextOptions({ namespace: 'a@b' }), 'agentContext.namespace')
    rejectsOption(() => resolveAgentContextOptions({ namespace: 'a:b' }), 'agentContext.namespace')
    rejectsOption(() => resolveAgentContextOptions({ l1: { ttl: 0 } }), 'agentContext.l1.ttl')
    rejectsOption(() => resolveAgentContextOptions({ l1: { maxEntries: 0 } }), 'agentContext.l1.maxEntries')
    rejectsOption(() => resolveAgentContextOptions({ ttl: 'later' }), 'agentContext.ttl')
    rejectsOption(
      () => resolveAgentContextOptions({ lists: { maxItems: 20_000 } }),
      'agentContext.lists.maxItems',
    )
    rejectsOption(
      () => resolveAgentContextOptions({ lists: { maxBytes: -1 } }),
      'agentContext.lists.maxBytes',
    )
    rejectsOption(() => resolveAgentContextOptions({ maxValueBytes: 1.5 }), 'agentContext.maxValueBytes')
    rejectsOption(
      () => resolveAgentContextOptions({ codec: { serializer: 'xml' as 'json' } }),
      'agentContext.codec.serializer',
    )
  })
})

void describe('agent context in-process tier', () => {
  const item = (version: number, seen = version) =>
    new L1Item('value', version, seen, Buffer.from(`v${version}`), null)

  it('never replaces a newer copy with an older one', () => {
    const l1 = new ContextL1({ maxEntries: 100, maxBytes: 1 << 20, ttlMs: 60_000 })
    l1.put('s', 'k', item(5), -1)
    l1.put('s', 'k', item(3), -1)
    assert.equal(l1.peek('s', 'k')?.version, 5)
    l1.put('s', 'k', item(6), -1)
    assert.equal(l1.peek('s', 'k')?.version, 6)
  })

  it('a read that observed the scope before a change announced during it does not fill', () => {
    const l1 = new ContextL1({ maxEntries: 100, maxBytes: 1 << 20, ttlMs: 60_000 })
    l1.beginRead('s')
    l1.changed('s', 8) // a message: the entry changed at version 8 while the read was in flight
    const changedAt = l1.endRead('s')
    assert.equal(changedAt, 8)
    const stale = item(4, 7)
    assert.equal(stale.seen >= changedAt, false, 'the caller skips the fill')
    l1.beginRead('s')
    l1.changed('other-scope', 99)
    assert.equal(l1.endRead('s'), 0, 'changes of other scopes do not count')
    l1.beginRead('s')
    l1.clear()
    assert.equal(l1.endRead('s'), Infinity, 'a reconnection invalidates every read in flight')
  })

  it('floors: a copy older than what this process wrote is neither served nor stored', () => {
    const l1 = new ContextL1({ maxEntries: 100, maxBytes: 1 << 20, ttlMs: 60_000 })
    l1.put('s', 'k', item(3), -1)
    l1.raiseFloor('s', 'k', 5)
    assert.equal(l1.get('s', 'k', l1.floor('s', 'k')), undefined)
    l1.put('s', 'other', item(2, 4), -1)
    assert.equal(l1.get('s', 'other', 4)?.version, 2, 'current as of 4: serves minVersion 4')
    l1.raiseScopeFloor('s', 9) // a clear at 9
    assert.equal(l1.floor('s', 'other'), 9)
    l1.put('s', 'other', item(2, 8), -1)
    assert.equal(l1.get('s', 'other', l1.floor('s', 'other')), undefined)
  })

  it('drops by version and by scope', () => {
    const l1 = new ContextL1({ maxEntries: 100, maxBytes: 1 << 20, ttlMs: 60_000 })
    l1.put('s', 'a', item(5), -1)
    l1.put('s', 'b', item(7), -1)
    l1.put('t', 'a', item(1), -1)
    assert.equal(l1.drop('s', 'a', 5), false, 'a message for version 5 keeps a copy at 5')
    assert.equal(l1.drop('s', 'a', 6), true)
    assert.equal(l1.dropScope('s', 7), 0, 'b is at 7: kept by a clear at 7')
    assert.equal(l1.dropScope('s', 8), 1)
    assert.equal(l1.peek('t', 'a')?.version, 1)
    assert.equal(l1.size, 1)
  })
})

void describe('agent context wire formats', () => {
  it('encodes and decodes invalidation messages; ignores anything else', () => {
    const entry = { kind: 'entry', origin: 'o1', scope: 'conv:1', key: 'plan', version: 4 } as const
    assert.deepEqual(decodeContextEvent(encodeContextEvent(entry)), entry)
    const clear = { kind: 'clear', origin: 'o1', scope: 'conv:1', version: 9 } as const
    assert.deepEqual(decodeContextEvent(Buffer.from(encodeContextEvent(clear))), clear)
    assert.equal(decodeContextEvent('not json'), undefined)
    assert.equal(decodeContextEvent('{"v":2,"o":"x","s":"s","n":1}'), undefined)
    assert.equal(decodeContextEvent('{"v":1,"o":"x","s":"s","n":1,"k":5}'), undefined)
    const probe = { kind: 'probe', origin: 'o1' } as const
    assert.deepEqual(decodeContextEvent(encodeContextEvent(probe)), probe)
  })

  it('parses a scope’s hashes into entries, list items in order', () => {
    const b = (s: string) => Buffer.from(s)
    const entries = parseScope(
      [
        b('#'),
        b('2'),
        b('v:plan'),
        b('3'),
        b('v:a:b'),
        b('5'),
        b('h:a:b'),
        b('1'),
        b('t:a:b'),
        b('3'),
        b('b:a:b'),
        b('4'),
      ],
      [b('v:plan'), b('P'), b('i:a:b:2'), b('y'), b('i:a:b:1'), b('x')],
    )
    assert.deepEqual(entries.get('plan'), { version: 3, kind: 'value', value: b('P') })
    assert.deepEqual(entries.get('a:b'), { version: 5, kind: 'list', items: [b('x'), b('y')] })
  })
})

void describe('agent context on the memory topology', () => {
  it('keeps the contract in one process: versions, CAS, lists, delete and clear', async () => {
    const ctx = createAgentContext(valkit, { namespace: 'unit' })
    await ctx.ready()
    const conv = ctx.scope('conv-1')
    assert.deepEqual(await conv.write('plan', { step: 1 }), { ok: true, version: 1 })
    assert.deepEqual(await conv.read('plan'), { key: 'plan', kind: 'value', value: { step: 1 }, version: 1 })
    const read = await conv.read<{ step: number }>('plan')
    read!.value.step = 99
    assert.equal((await conv.read<{ step: number }>('plan'))?.value.step, 1, 'a read returns a copy')
    assert.deepEqual(await conv.write('plan', { step: 2 }, { ifVersion: 0 }), {
      ok: false,
      reason: 'conflict',
      currentVersion: 1,
    })
    assert.deepEqual(await conv.write('plan', { step: 2 }, { ifVersion: 1 }), { ok: true, version: 2 })
    for (let i = 1; i <= 4; i++) await conv.append('turns', `t${i}`, { maxItems: 3 })
    assert.deepEqual((await conv.read('turns'))?.value, ['t2', 't3', 't4'])
    await assert.rejects(conv.append('plan', 'x'), invalidArgument)
    const deleted = await conv.delete('plan')
    assert.ok(deleted.ok && deleted.deleted && deleted.version === 7)
    assert.deepEqual(await conv.write('plan', 'again'), { ok: true, version: 8 }, 'versions never repeat')
    assert.deepEqual(
      (await conv.entries()).map((e) => e.key),
      ['plan', 'turns'],
    )
    assert.deepEqual(await conv.clear(), { deleted: 2, version: 9 })
    assert.deepEqual(await conv.entries(), [])
    assert.equal((await conv.write('plan', 'after clear')).ok && (await conv.read('plan'))?.version, 10)
    await ctx.close()
    await assert.rejects(conv.read('plan'), (err: unknown) => isValkitError(err, 'VALKIT_CLOSED'))
  })

  it('with a ttl, a scope that expired and is written again continues above its old versions', async () => {
    const ctx = createAgentContext(valkit, { namespace: 'unit-ttl', ttl: '30ms' })
    let old = 0
    for (let i = 0; i < 5; i++) {
      const w = await ctx.write('s', 'k', i)
      assert.ok(w.ok)
      old = w.version
    }
    await waitFor(async () => (await ctx.entries('s')).length === 0, { what: 'the scope to expire' })
    const again = await ctx.write('s', 'k', 'reborn')
    assert.ok(again.ok && again.version > old, `${again.ok && again.version} > ${old}`)
    assert.equal((await ctx.write('s', 'k', 'stale CAS', { ifVersion: old })).ok, false)
    await ctx.close()
  })

  it('rejects bad arguments with typed errors', async () => {
    const ctx = createAgentContext(valkit, { namespace: 'unit-args', maxValueBytes: 64 })
    await assert.rejects(ctx.read('', 'k'), invalidArgument)
    await assert.rejects(ctx.read('a{b}', 'k'), invalidArgument)
    await assert.rejects(ctx.read('s', ''), invalidArgument)
    await assert.rejects(ctx.read('s', 'k', { minVersion: -1 }), invalidArgument)
    await assert.rejects(ctx.write('s', 'k', undefined), invalidArgument)
    await assert.rejects(ctx.write('s', 'k', 1, { ifVersion: 1.5 }), invalidArgument)
    await assert.rejects(ctx.append('s', 'l', 1, { maxItems: 0 }), invalidArgument)
    await assert.rejects(ctx.write('s', 'k', 'x'.repeat(100)), (err: unknown) =>
      isValkitError(err, 'VALKIT_VALUE_TOO_LARGE'),
    )
    await assert.rejects(ctx.write('s', 'k', 10n), invalidArgument)
    await ctx.close()
  })
})
