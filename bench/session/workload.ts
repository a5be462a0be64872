/** The session benchmark's workload, shared by every library. */
import { randomBytes } from 'node:crypto'

export const SCENARIOS = Object.freeze({
  store: '1. read+touch',
  middleware: '2. middleware, no HTTP',
})

/** Sessions read round-robin (every read finds its session). */
export const SESSIONS = 1000

/** One session's data: what a logged-in web app typically keeps (~250 bytes of JSON). */
export const DATA = Object.freeze({
  user: { id: 42, name: 'Ada Lovelace', roles: ['admin', 'editor'] },
  csrf: randomBytes(16).toString('hex'),
  cart: [
    { sku: 'A-1', qty: 2 },
    { sku: 'B-7', qty: 1 },
  ],
  flash: null,
})

/** Idle timeout of both stores (express-session: cookie.maxAge, rolling touch). */
export const IDLE_MS = 30 * 60_000
