/**
 * A lock holder in its own process, for the chaos tests: it takes the lock (watchdog on, as a
 * holder doing long work would), reports its token, and on a `write` line from stdin makes a
 * fenced write with that token, whatever it believes about the lock — a holder that was paused
 * does not know it was. It reports what it saw as JSON lines on stdout.
 *
 * argv: redis url, key prefix, resource, fenced store name, ttl ms
 */
import { createInterface } from 'node:readline'
import { createValkit } from '../../src/core/index.js'
import { createCoord } from '../../src/coord/index.js'

const [url, prefix, resource, storeName, ttl] = process.argv.slice(2) as [
  string,
  string,
  string,
  string,
  string,
]
const say = (message: Record<string, unknown>): void =>
  void process.stdout.write(`${JSON.stringify(message)}\n`)

const valkit = createValkit({ url, env: {}, logger: false, keyPrefix: prefix })
await valkit.supervisor.waitFor('ready', 10_000)
const coord = createCoord(valkit)
const store = coord.fencedStore(storeName)
const got = await coord.acquire(resource, { ttl: Number(ttl), watchdog: true, wait: '10s' })
if (!got.acquired) {
  say({ event: 'not-acquired', reason: got.reason })
  process.exit(1)
}
const lease = got.lease
lease.signal.addEventListener('abort', () =>
  say({ event: 'lost', code: (lease.signal.reason as { code?: string }).code }),
)
say({ event: 'acquired', token: lease.token })
for await (const line of createInterface({ input: process.stdin })) {
  if (line === 'write') {
    const heldBefore = lease.held
    const result = await store.write('row', { by: 'paused holder' }, lease.token)
    say({ event: 'wrote', heldBefore, result })
  } else if (line === 'exit') break
}
await lease.release().catch(() => false)
await coord.close()
await valkit.close()
process.exit(0)
