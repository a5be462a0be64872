/**
 * The `panels` option of createServer: validation with the option's path, and what the server
 * reads from the objects given (top keys, inspected resources, stuck-lock reports).
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { isValkitError } from '../../src/core/index.js'
import {
  PanelSources,
  resolvePanelsOptions,
  type DashboardPanelsOptions,
  type PanelCoord,
} from '../../src/server/panel-sources.js'
import { resolveServerOptions } from '../../src/server/server-options.js'

function refusedAt(panels: unknown, path: string): void {
  assert.throws(
    () => resolvePanelsOptions(panels as DashboardPanelsOptions),
    (err: unknown) =>
      isValkitError(err) && err.code === 'VALKIT_INVALID_OPTION' && err.message.includes(`\`${path}\``),
    `expected VALKIT_INVALID_OPTION at ${path}`,
  )
}

type StuckListener = Parameters<PanelCoord['onStuckLock']>[0]

/** A coord whose inspect() answers from a table, and whose stuck-lock listener the test calls. */
function fakeCoord(states: Record<string, 'hang' | 'fail' | { owner: string; token: number }[]>) {
  const listeners = new Set<StuckListener>()
  const coord: PanelCoord = {
    inspect: async (resource) => {
      const state = states[resource]
      if (state === 'hang') return new Promise(() => undefined)
      if (state === 'fail' || state === undefined) throw new Error('Redis is not reachable')
      return {
        holders: state.map((h) => ({ ...h, expiresInMs: 1000 })),
        queued: 2,
        lastToken: 9,
      }
    },
    onStuckLock: (listener) => {
      listeners.add(listener)
      return () => listeners.delete(listener)
    },
  }
  return { coord, listeners }
}

const limiter = (name: string, keys: { key: string; count: number }[]) => ({
  name,
  stats: () => ({ topLimited: keys }),
})

void describe('dashboard panels option', () => {
  void it('defaults to nothing registered', () => {
    assert.deepEqual(resolvePanelsOptions(undefined), { rateLimiters: [], coord: null })
    assert.deepEqual(resolveServerOptions({}).panels, { rateLimiters: [], coord: null })
  })

  void it('refuses what is not a limiter or a coord, naming the option path', () => {
    refusedAt('yes', 'panels')
    refusedAt({ rateLimiters: {} }, 'panels.rateLimiters')
    refusedAt({ rateLimiters: [limiter('a', []), { name: 'b' }] }, 'panels.rateLimiters[1]')
    refusedAt({ coord: {} }, 'panels.coord.coord')
    refusedAt({ coord: { coord: { inspect: () => null } } }, 'panels.coord.coord')
    const { coord } = fakeCoord({})
    refusedAt({ coord: { coord, resources: 'r' } }, 'panels.coord.resources')
    refusedAt({ coord: { coord, resources: ['a', ''] } }, 'panels.coord.resources[1]')
    refusedAt(
      { coord: { coord, resources: Array.from({ length: 51 }, (_, i) => `r${i}`) } },
      'panels.coord.resources',
    )
    // createServer validates them before it starts anything
    assert.throws(
      () => resolveServerOptions({ panels: { rateLimiters: [null as never] } }),
      /panels\.rateLimiters\[0\]/,
    )
  })

  void it('reads the top keys of each limiter, by name; one that throws is left out', () => {
    const sources = new PanelSources(
      resolvePanelsOptions({
        rateLimiters: [
          limiter('api', [{ key: 'perUser user=1', count: 3 }]),
          limiter('api', [{ key: 'perUser user=2', count: 1 }]),
          {
            name: 'broken',
            stats: () => {
              throw new Error('closed')
            },
          },
        ],
      }),
    )
    assert.deepEqual(
      [...sources.topLimited()],
      [['api', [[{ key: 'perUser user=1', count: 3 }], [{ key: 'perUser user=2', count: 1 }]]]],
    )
  })

  void it('inspects the resources given, in order, with an error for one that fails or does not answer', async () => {
    const { coord } = fakeCoord({ report: [{ owner: 'w1', token: 9 }], stuck: 'hang', gone: 'fail' })
    const sources = new PanelSources(
      resolvePanelsOptions({ coord: { coord, resources: ['report', 'stuck', 'gone', 'report'] } }),
    )
    const resources = await sources.resources(50)
    assert.deepEqual(resources, [
      {
        resource: 'report',
        holders: [{ owner: 'w1', token: 9, expiresInMs: 1000 }],
        queued: 2,
        lastToken: 9,
      },
      { resource: 'stuck', holders: [], queued: 0, lastToken: 0, error: 'no answer within 50 ms' },
      { resource: 'gone', holders: [], queued: 0, lastToken: 0, error: 'Redis is not reachable' },
    ])
    sources.close()
    assert.equal(await new PanelSources(resolvePanelsOptions({})).resources(50), null)
  })

  void it('keeps the last 20 stuck-lock reports, newest first, and stops listening on close', () => {
    const { coord, listeners } = fakeCoord({})
    const sources = new PanelSources(resolvePanelsOptions({ coord: { coord } }))
    assert.deepEqual(sources.stuckLocks(), [])
    assert.equal(listeners.size, 1)
    for (let i = 0; i < 25; i++) {
      for (const l of listeners)
        l({ kind: 'mutex', resource: `r${i}`, agent: 'a', heldMs: 1000 + i, recovered: true })
    }
    const stuck = sources.stuckLocks() ?? []
    assert.equal(stuck.length, 20)
    assert.equal(stuck[0]?.resource, 'r24')
    assert.equal(stuck[19]?.resource, 'r5')
    sources.close()
    assert.equal(listeners.size, 0)
    assert.equal(new PanelSources(resolvePanelsOptions({})).stuckLocks(), null, 'no coord given: n/a')
  })
})
