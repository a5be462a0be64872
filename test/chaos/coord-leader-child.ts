/**
 * A leader-election candidate in its own process, for the chaos tests. Every 20 ms, if it
 * believes it leads, it acts: a fenced write with its term's token. It reports elections,
 * demotions and every act (with the wall-clock time, shared by the processes of one machine)
 * as JSON lines on stdout.
 *
 * argv: redis url, key prefix, group, ttl ms
 */
import { createValkit } from '../../src/core/index.js'
import { createCoord } from '../../src/coord/index.js'

const [url, prefix, group, ttl] = process.argv.slice(2) as [string, string, string, string]
const say = (message: Record<string, unknown>): void =>
  void process.stdout.write(`${JSON.stringify(message)}\n`)

const valkit = createValkit({ url, env: {}, logger: false, keyPrefix: prefix })
await valkit.supervisor.waitFor('ready', 10_000)
const coord = createCoord(valkit)
const store = coord.fencedStore('leader-log')
const election = coord.election(group, {
  ttl: Number(ttl),
  onElected: ({ token }) => say({ event: 'elected', token, at: Date.now() }),
  onDemoted: (reason, { token }) => say({ event: 'demoted', reason, token, at: Date.now() }),
})
setInterval(() => {
  const token = election.token
  if (token === undefined) return
  const at = Date.now()
  void store.write('acts', { by: 'child', at }, token).then(
    (result) => say({ event: 'act', token, at, written: result.written }),
    () => undefined,
  )
}, 20)
