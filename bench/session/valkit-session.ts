/** valkit's side: a session store with encryption on, read through `load` and through the HTTP session path. */
import { randomBytes } from 'node:crypto'
import { createValkit, type Valkit } from '../../src/core/index.js'
import { createHttpSessions, createSessionStore, type SessionStoreOptions } from '../../src/session/index.js'
import { cleanPrefix } from '../../src/testing/index.js'
import type { Operation } from '../lib/closed-loop.js'
import { DATA, IDLE_MS, SESSIONS } from './workload.js'

export interface ValkitSessions {
  /** `sessions.load(token)`: HMAC check, then one script that enforces idle/absolute/index and touches. */
  readonly storeRead: Operation
  /** What the Express/Fastify/Hono adapters do per request: open `req.session` from the Cookie header, read a field, commit. */
  readonly middleware: Operation
  close(): Promise<void>
}

/** Opens a store with `options` over the standard ones (encryption always on) and seeds the sessions. */
export async function openValkitSessions(
  url: string,
  options: Partial<SessionStoreOptions>,
): Promise<ValkitSessions> {
  const prefix = `bench-vs-${randomBytes(3).toString('hex')}`
  const valkit: Valkit = createValkit({ url, env: {}, logger: false, keyPrefix: prefix })
  await valkit.supervisor.waitFor('ready', 10_000)
  const store = createSessionStore(valkit, {
    secrets: [randomBytes(32).toString('base64')],
    encryption: { keys: [{ id: 1, key: randomBytes(32) }], primary: 1 },
    idleTimeout: IDLE_MS,
    ...options,
  })
  const tokens: string[] = []
  for (let i = 0; i < SESSIONS; i++) tokens.push((await store.create({ data: DATA })).token)
  const http = createHttpSessions(store, { cookie: { name: '__Host-session' }, renew: false })
  const headers = tokens.map((t) => `__Host-session=${t}`)
  const setCookie = (): boolean => true

  const storeRead: Operation = async (i) => {
    const lookup = await store.load(tokens[i % SESSIONS])
    if (!lookup.found || (lookup.session.data.user as { id: number }).id !== 42)
      throw new Error('session not found')
  }
  const middleware: Operation = async (i) => {
    const session = await http.open(headers[i % SESSIONS], undefined, setCookie)
    if ((session.user as { id?: number } | undefined)?.id !== 42) throw new Error('session not found')
    await http.commit(session)
  }
  return {
    storeRead,
    middleware,
    close: async () => {
      await store.close()
      await valkit.close()
      await cleanPrefix(url, `${prefix}:`)
    },
  }
}
