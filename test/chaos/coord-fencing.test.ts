/**
 * Fencing under faults. A holder whose process is stopped (SIGSTOP: a GC pause, a frozen VM)
 * past its TTL loses the lock to another holder, and when it runs again its write, fenced with
 * its old token, is refused. And 100 contenders in four instances never overlap, as the fenced
 * resource sees it: any overlap makes the older holder's next write stale.
 */
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { after, before, describe, it } from 'node:test'
import { createValkit, type Valkit } from '../../src/core/index.js'
import { createCoord, type Coord } from '../../src/coord/index.js'
import { cleanPrefix, startServer, testEngines, waitFor, type ServerHandle } from '../../src/testing/index.js'

const CHILD = fileURLToPath(new URL('./coord-holder-child.ts', import.meta.url))

/** The child's JSON lines, as they come. */
function linesOf(child: ChildProcess): { next(event: string): Promise<Record<string, unknown>> } {
  const seen: Record<string, unknown>[] = []
  createInterface({ input: child.stdout! }).on('line', (line) =>
    seen.push(JSON.parse(line) as Record<string, unknown>),
  )
  return {
    next: (event) =>
      waitFor(() => seen.find((m) => m.event === event), {
        timeoutMs: 20_000,
        what: `the holder to report ${event}`,
      }),
  }
}

for (const engine of testEngines()) {
  void describe(`coord chaos: fencing (${engine})`, { timeout: 90_000 }, () => {
    let server: ServerHandle
    const valkits: Valkit[] = []
    const prefix = `t-coordx-${randomBytes(4).toString('hex')}`
    const open = async (): Promise<Valkit> => {
      const v = createValkit({ url: server.url, env: {}, logger: false, keyPrefix: prefix })
      valkits.push(v)
      await v.supervisor.waitFor('ready', 10_000)
      return v
    }
    before(async () => {
      server = await startServer({ engine })
    })
    after(async () => {
      for (const v of valkits) await v.close()
      if (server?.alive) await cleanPrefix(server, `${prefix}:`)
      await server?.stop()
    })

    it('a holder stopped (SIGSTOP) past its TTL cannot make a fenced write after another holder got the lock', async () => {
      const coord = createCoord(await open())
      const store = coord.fencedStore('ledger')
      const child = spawn(
        process.execPath,
        ['--import', 'tsx', CHILD, server.url, prefix, 'account:7', 'ledger', '500'],
        {
          stdio: ['pipe', 'pipe', 'inherit'],
        },
      )
      try {
        const lines = linesOf(child)
        const { token: pausedToken } = (await lines.next('acquired')) as { token: number }
        child.kill('SIGSTOP')
        // The stopped holder's watchdog cannot extend: the lock frees itself after the TTL.
        const got = await coord.acquire('account:7', { wait: '10s' })
        assert.ok(got.acquired)
        assert.ok(got.lease.token > pausedToken)
        assert.deepEqual(await store.write('row', { by: 'new holder' }, got.lease.token), {
          written: true,
          token: got.lease.token,
        })
        child.kill('SIGCONT')
        child.stdin.write('write\n')
        const wrote = (await lines.next('wrote')) as { heldBefore: boolean; result: Record<string, unknown> }
        assert.equal(wrote.heldBefore, false, 'once it runs again, the holder sees its lease expired')
        assert.deepEqual(wrote.result, { written: false, reason: 'stale', highestToken: got.lease.token })
        assert.deepEqual(await lines.next('lost'), { event: 'lost', code: 'VALKIT_LOCK_LOST' })
        assert.deepEqual(await store.read('row'), { value: { by: 'new holder' }, token: got.lease.token })
        await got.lease.release()
      } finally {
        child.stdin.end('exit\n')
        child.kill('SIGCONT')
        await new Promise((resolve) => child.once('exit', resolve).once('error', resolve))
      }
    })

    for (const fair of [true, false]) {
      it(`100 contenders in 4 instances never overlap on one key, 3 runs (${fair ? 'fair' : 'unfair'}; checked by the fenced resource)`, async () => {
        const coords: Coord[] = []
        for (let i = 0; i < 4; i++) coords.push(createCoord(await open(), { fair, ttl: 2000 }))
        const store = coords[0]!.fencedStore('occupancy')
        for (let run = 0; run < 3; run++) {
          const key = `slot-${fair ? 'f' : 'u'}-${run}`
          let stale = 0
          let accepted = 0
          const granted = new Set<number>()
          const results = await Promise.all(
            Array.from({ length: 100 }, (_, c) =>
              coords[c % 4]!.withLock(
                key,
                async (lease) => {
                  for (const state of ['in', 'working', 'out']) {
                    const w = await store.write(key, { state, contender: c }, lease.token)
                    if (w.written) accepted++
                    else stale++
                  }
                  granted.add(c)
                },
                { wait: '30s' },
              ),
            ),
          )
          assert.equal(stale, 0, `run ${run}: ${stale} writes were stale: two holders overlapped`)
          assert.equal(accepted, 300)
          assert.equal(granted.size, 100, `run ${run}: every contender was granted`)
          assert.ok(results.every((r) => r.acquired))
        }
        for (const c of coords) await c.close()
      })
    }
  })
}
