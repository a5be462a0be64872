/**
 * A deadlock between three agents, each in its own process: a holds L1 and waits for L2, b
 * holds L2 and waits for L3, c holds L3 and waits for L1. The wait that closes the cycle (c's,
 * the youngest) is aborted with VALKIT_DEADLOCK at once — in the round trip that records it,
 * long before any wait runs out — and once c gives up its lock, b and then a are served.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { after, before, describe, it } from 'node:test'
import { createValkit, type Valkit } from '../../src/core/index.js'
import { createCoord } from '../../src/coord/index.js'
import { cleanPrefix, startServer, testEngines, waitFor, type ServerHandle } from '../../src/testing/index.js'

const CHILD = fileURLToPath(new URL('./coord-agent-child.ts', import.meta.url))

for (const engine of testEngines()) {
  void describe(`coord chaos: deadlock between 3 agent processes (${engine})`, { timeout: 60_000 }, () => {
    let server: ServerHandle
    let valkit: Valkit
    const prefix = `t-coordd-${randomBytes(4).toString('hex')}`
    before(async () => {
      server = await startServer({ engine })
      valkit = createValkit({ url: server.url, env: {}, logger: false, keyPrefix: prefix })
      await valkit.supervisor.waitFor('ready', 10_000)
    })
    after(async () => {
      await valkit?.close()
      if (server?.alive) await cleanPrefix(server, `${prefix}:`)
      await server?.stop()
    })

    it('the cycle is found when it closes and broken by aborting the youngest waiter; the others are served', async (t) => {
      const coord = createCoord(valkit)
      const waits = `${valkit.keys.key('coord', '!deadlock', '')}w`
      const agents = [
        { agent: 'a', hold: 'L1', wait: 'L2' },
        { agent: 'b', hold: 'L2', wait: 'L3' },
        { agent: 'c', hold: 'L3', wait: 'L1' },
      ].map((spec) => {
        const child = spawn(
          process.execPath,
          ['--import', 'tsx', CHILD, server.url, prefix, spec.agent, spec.hold, spec.wait],
          {
            stdio: ['pipe', 'pipe', 'inherit'],
          },
        )
        const events: Record<string, unknown>[] = []
        createInterface({ input: child.stdout }).on('line', (line) =>
          events.push(JSON.parse(line) as Record<string, unknown>),
        )
        const next = (event?: string) =>
          waitFor(() => events.find((m) => (event === undefined ? m.event !== 'held' : m.event === event)), {
            timeoutMs: 30_000,
            what: `agent ${spec.agent} to report ${event ?? 'its outcome'}`,
          })
        return { ...spec, child, next }
      })
      try {
        for (const a of agents) await a.next('held')
        for (const a of agents.slice(0, 2)) {
          a.child.stdin.write('go\n')
          await waitFor(async () => (await coord.inspect(a.wait)).queued === 1 || undefined, {
            what: `${a.agent} to queue`,
          })
          // The wait's edge in the wait graph is recorded one round trip after it queues; c's must
          // come last for c to be the youngest waiter of the cycle.
          await waitFor(async () => (await server.command('HEXISTS', waits, a.agent)) === 1 || undefined, {
            what: `${a.agent}'s wait in the wait graph`,
          })
        }
        agents[2]!.child.stdin.write('go\n')
        const outcomes = await Promise.all(agents.map((a) => a.next()))
        assert.deepEqual(
          outcomes.map((o) => o.event),
          ['granted', 'granted', 'deadlock'],
          JSON.stringify(outcomes),
        )
        t.diagnostic(
          `the victim's wait lasted ${String(outcomes[2]!.ms)} ms before VALKIT_DEADLOCK (its wait allowed 20 s)`,
        )
      } finally {
        for (const a of agents) {
          a.child.stdin.end()
          if (a.child.exitCode === null) a.child.kill('SIGKILL')
        }
      }
      await coord.close()
    })
  })
}
