import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { test } from 'node:test'
import { createValkit, isValkitError } from '../../src/core/index.js'
import { COORD_DEFAULTS, createCoord, resolveCoordOptions } from '../../src/coord/index.js'
import { ACQUIRE_SLOT, CANCEL_WAIT, RELEASE_SLOT } from '../../src/coord/coord-scripts.js'
import { parseSlotEvent } from '../../src/coord/slot-backend.js'

const shared = (source: string): string => {
  const start = source.indexOf('-- BEGIN slot-shared')
  const end = source.indexOf('-- END slot-shared')
  assert.ok(start > 0 && end > start, 'the script has the shared block')
  return source.slice(start, end)
}

test('the shared block of the three queue scripts is one text (a fix to one is a fix to all)', () => {
  const acquire = shared(ACQUIRE_SLOT.source)
  assert.equal(shared(RELEASE_SLOT.source), acquire)
  assert.equal(shared(CANCEL_WAIT.source), acquire)
  const file = readFileSync(new URL('../../src/coord/scripts/acquire-slot-6.lua', import.meta.url), 'utf8')
  assert.equal(shared(file), acquire)
})

test('coord options: defaults, human durations, and the path of a bad option', () => {
  assert.equal(resolveCoordOptions().ttlMs, COORD_DEFAULTS.ttlMs)
  const resolved = resolveCoordOptions({ ttl: '30s', wait: 0, fair: true, durable: { replicas: 2 } })
  assert.equal(resolved.ttlMs, 30_000)
  assert.equal(resolved.waitMs, 0)
  assert.deepEqual(resolved.durable, { replicas: 2, timeoutMs: 100 })
  const rejects = (options: object, path: string) =>
    assert.throws(
      () => resolveCoordOptions(options),
      (err: unknown) => isValkitError(err, 'VALKIT_INVALID_OPTION') && err.details?.path === path,
    )
  rejects({ ttl: 0 }, 'coord.ttl')
  rejects({ ttl: 'soon' }, 'coord.ttl')
  rejects({ fair: 'yes' }, 'coord.fair')
  rejects({ whenUnavailable: 'memory' }, 'coord.whenUnavailable')
  rejects({ driftFactor: 2 }, 'coord.driftFactor')
  rejects({ durable: { replicas: 0 } }, 'coord.durable.replicas')
  rejects({ fenceRetention: '1s' }, 'coord.fenceRetention')
})

test('channel messages: a grant names owner, token and expiry; anything else is ignored', () => {
  assert.deepEqual(parseSlotEvent('g ab.1 1796000000000001 1796000000000'), {
    type: 'grant',
    grant: { owner: 'ab.1', token: 1796000000000001, expiresAtMs: 1796000000000 },
  })
  assert.deepEqual(parseSlotEvent('f'), { type: 'free' })
  assert.equal(parseSlotEvent('g ab.1 x 1'), undefined)
  assert.equal(parseSlotEvent('hello'), undefined)
})

test('in-process locks: a wall-clock step forward frees nothing (grants run on the monotonic clock)', async (t) => {
  const valkit = createValkit({ env: {}, logger: false })
  const coord = createCoord(valkit, { ttl: '5s' })
  try {
    const held = await coord.acquire('step')
    assert.equal(held.acquired, true)
    // An NTP step or a VM resume moves the wall clock a minute ahead; no time has really passed.
    t.mock.timers.enable({ apis: ['Date'], now: Date.now() + 60_000 })
    const other = await coord.acquire('step', { wait: 0 })
    assert.equal(other.acquired, false, 'a second holder was granted while the first still holds it')
    assert.equal(held.acquired && held.lease.held, true)
    t.mock.timers.reset()
    if (held.acquired) assert.equal(await held.lease.release(), true)
  } finally {
    t.mock.timers.reset()
    await coord.close()
    await valkit.close()
  }
})
