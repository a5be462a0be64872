/**
 * Leader election under faults: at most one leader acts at a time while the leader's process
 * is stopped (SIGSTOP) or killed, and across a Sentinel failover. Leaders act every 20 ms
 * (a fenced write, time-stamped); the check is that once a newer term has acted, no older
 * term acts again, and that no act was refused as stale.
 */
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { after, before, describe, it } from 'node:test'
import { createValkit, type Valkit } from '../../src/core/index.js'
import { createCoord, type Coord, type Election } from '../../src/coord/index.js'
import {
  cleanPrefix,
  startSentinel,
  startServer,
  testEngines,
  waitFor,
  type SentinelHandle,
  type ServerHandle,
} from '../../src/testing/index.js'

const CHILD = fileURLToPath(new URL('./coord-leader-child.ts', import.meta.url))

interface Act {
  readonly token: number
  readonly at: number
  readonly written: boolean
}

/**
 * Every act of every term, in time order, must have a token no lower than the acts before it,
 * and the fenced store refuses none, except those `inFlight` allows: a write the old leader
 * issued just before its process was stopped can reach the server after the new leader's, and
 * the fence refusing it is the protection working, not a second leader acting.
 */
function assertOneLeaderAtATime(acts: readonly Act[], inFlight: (act: Act) => boolean = () => false): void {
  const sorted = [...acts].sort((a, b) => a.at - b.at || a.token - b.token)
  let highest = 0
  for (const act of sorted) {
    assert.ok(
      act.token >= highest,
      `an older term (${act.token}) acted after a newer one (${highest}) at ${act.at}`,
    )
    highest = act.token
  }
  const refused = acts.filter((a) => !a.written && !inFlight(a))
  assert.equal(refused.length, 0, `no act was refused as stale: ${JSON.stringify(refused)}`)
}

/** A candidate in this process that acts like the child does. */
function candidate(coord: Coord, group: string, ttl: number, acts: Act[]): Election {
  const store = coord.fencedStore('leader-log')
  const election = coord.election(group, { ttl })
  const timer = setInterval(() => {
    const token = election.token
    if (token === undefined) return
    const at = Date.now()
    void store.write('acts', { by: 'test', at }, token).then(
      (result) => acts.push({ token, at, written: result.written }),
      () => undefined,
    )
  }, 20)
  const close = election.close.bind(election)
  Object.defineProperty(election, 'close', {
    value: async () => {
      clearInterval(timer)
      await close()
    },
  })
  return election
}

function childCandidate(url: string, prefix: string, group: string, ttl: number, acts: Act[]) {
  const child: ChildProcess = spawn(
    process.execPath,
    ['--import', 'tsx', CHILD, url, prefix, group, String(ttl)],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  )
  const events: Record<string, unknown>[] = []
  createInterface({ input: child.stdout! }).on('line', (line) => {
    const message = JSON.parse(line) as Record<string, unknown> & Act
    events.push(message)
    if (message.event === 'act') acts.push({ token: message.token, at: message.at, written: message.written })
  })
  return {
    child,
    events,
    next: (event: string, what = event) =>
      waitFor(() => events.find((m) => m.event === event), {
        timeoutMs: 20_000,
        what: `the child to report ${what}`,
      }),
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGCONT')
        child.kill('SIGKILL')
        await new Promise((resolve) => child.once('exit', resolve))
      }
    },
  }
}

for (const engine of testEngines()) {
  void describe(`coord chaos: leader election (${engine})`, { timeout: 120_000 }, () => {
    let server: ServerHandle
    const valkits: Valkit[] = []
    const prefix = `t-coordl-${randomBytes(4).toString('hex')}`
    const open = async (options: Parameters<typeof createValkit>[0]): Promise<Valkit> => {
      const v = createValkit({ env: {}, logger: false, keyPrefix: prefix, ...options })
      valkits.push(v)
      await v.supervisor.waitFor('ready', 15_000)
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

    for (const fault of ['SIGSTOP', 'SIGKILL'] as const) {
      it(`at most one leader acts while the leader's process is ${fault === 'SIGSTOP' ? 'stopped, and after it resumes' : 'killed'}`, async () => {
        const group = `g-${fault}`
        const acts: Act[] = []
        const child = childCandidate(server.url, prefix, group, 1000, acts)
        try {
          const elected = (await child.next('elected')) as { token: number }
          await waitFor(() => acts.length >= 3 || undefined, { what: 'the child to act as leader' })
          const election = candidate(createCoord(await open({ url: server.url })), group, 1000, acts)
          const stoppedAt = Date.now()
          child.child.kill(fault)
          const term = await election.elected()
          assert.ok(term.token > elected.token)
          await waitFor(() => acts.filter((a) => a.token === term.token).length >= 5 || undefined, {
            what: 'the new leader to act',
          })
          let resumedAt = Infinity
          if (fault === 'SIGSTOP') {
            resumedAt = Date.now()
            child.child.kill('SIGCONT')
            assert.deepEqual(
              { ...(await child.next('demoted')), at: 0 },
              { event: 'demoted', reason: 'lost', token: elected.token, at: 0 },
            )
            await waitFor(() => acts.filter((a) => a.token === term.token).length >= 15 || undefined, {
              what: 'more acts',
            })
            assert.ok(election.isLeader, 'the resumed process did not take the term back')
          }
          await election.close()
          // After it resumes, the old leader issues nothing with its term's token.
          const resumedActs = acts.filter((a) => a.token === elected.token && a.at >= resumedAt)
          assert.deepEqual(resumedActs, [], 'the resumed process acted with its old term')
          // (20 ms: one act interval, for an act issued while the signal was on its way)
          assertOneLeaderAtATime(acts, (a) => a.token === elected.token && a.at <= stoppedAt + 20)
        } finally {
          await child.stop()
        }
      })
    }

    it(
      'at most one leader acts across a Sentinel failover (kill -9 of the master)',
      { timeout: 90_000 },
      async (t) => {
        let topology: SentinelHandle | undefined
        try {
          topology = await startSentinel({
            engine,
            replicas: 2,
            sentinels: 3,
            downAfterMs: 1000,
            failoverTimeoutMs: 3000,
          })
          const sentinel = {
            sentinels: topology.sentinels.map((s) => `${s.host}:${s.port}`),
            masterName: topology.masterName,
          }
          const acts: Act[] = []
          const elections: Election[] = []
          for (let i = 0; i < 3; i++) {
            const coord = createCoord(await open({ sentinel }), {
              durable: { replicas: 1, timeout: '100ms' },
            })
            elections.push(candidate(coord, 'failover', 2000, acts))
          }
          const first = await Promise.race(elections.map((e) => e.elected()))
          await waitFor(() => acts.length >= 10 || undefined, { what: 'the leader to act' })
          const old = await topology.currentMaster()
          await (await topology.currentMasterNode()).kill('SIGKILL')
          await topology.waitForMasterChange(old, 20_000)
          const before = acts.length
          await waitFor(() => acts.length >= before + 25 || undefined, {
            timeoutMs: 30_000,
            what: 'a leader to act after the failover',
          })
          const terms = [...new Set(acts.map((a) => a.token))]
          t.diagnostic(`terms ${terms.length} (first ${first.token}), acts ${acts.length}`)
          for (const e of elections) await e.close()
          assertOneLeaderAtATime(acts)
        } finally {
          await topology?.stop()
        }
      },
    )
  })
}
