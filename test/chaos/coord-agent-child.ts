/**
 * An agent in its own process, for the deadlock chaos test: it takes one lock, and on a `go`
 * line from stdin waits (fair, so the test can see it queued) for a second one. It reports
 * `held`, then `granted` or `deadlock`, as JSON lines; on a deadlock it gives up what it holds.
 *
 * argv: redis url, key prefix, agent, lock to hold, lock to wait for
 */
import { createInterface } from 'node:readline'
import { createValkit, isValkitError } from '../../src/core/index.js'
import { createCoord } from '../../src/coord/index.js'

const [url, prefix, agent, holdLock, waitLock] = process.argv.slice(2) as [
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
const coord = createCoord(valkit, { fair: true })
const first = await coord.acquire(holdLock, { agent, ttl: '30s', watchdog: true })
if (!first.acquired) process.exit(1)
say({ event: 'held' })
for await (const line of createInterface({ input: process.stdin })) {
  if (line !== 'go') continue
  const startedAt = Date.now()
  try {
    const second = await coord.acquire(waitLock, { agent, wait: '20s' })
    say({ event: second.acquired ? 'granted' : 'timeout', ms: Date.now() - startedAt })
    if (second.acquired) await second.lease.release()
  } catch (err) {
    say({
      event: isValkitError(err, 'VALKIT_DEADLOCK') ? 'deadlock' : 'error',
      ms: Date.now() - startedAt,
      message: String(err),
    })
  }
  await first.lease.release()
  break
}
await coord.close()
await valkit.close()
process.exit(0)
