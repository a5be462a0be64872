/**
 * The anchor: express-session 1.19 with connect-redis 9 on node-redis (`@redis/client` 6.3,
 * per-command timeout off, as valkit runs it), against the same server.
 */
import { createRequire } from 'node:module'
import { randomBytes } from 'node:crypto'
import { createClient } from '@redis/client'
import { RedisStore } from 'connect-redis'
import session from 'express-session'
import { cleanPrefix } from '../../src/testing/index.js'
import type { Operation } from '../lib/closed-loop.js'
import { DATA, IDLE_MS, SESSIONS } from './workload.js'

const require = createRequire(import.meta.url)
const signature = require('cookie-signature') as {
  sign(value: string, secret: string): string
  unsign(input: string, secret: string): string | false
}

export interface Anchor {
  /** Cookie check (HMAC), `store.get`, `store.touch`: what express-session asks of its store per request. */
  readonly storeRead: Operation
  /** express-session's middleware itself on a fake request/response (no HTTP), reading one field. */
  readonly middleware: Operation
  close(): Promise<void>
}

interface FakeResponse {
  _header: string | null
  writeHead(): void
  setHeader(): void
  getHeader(): undefined
  _implicitHeader(): void
  write(): boolean
  end(): void
}

export async function openAnchor(url: string): Promise<Anchor> {
  const client = createClient({ url, commandOptions: { timeout: 0 } })
  client.on('error', () => {})
  await client.connect()
  const store = new RedisStore({ client: client as never, prefix: 'bench-sess:' })
  const secret = randomBytes(32).toString('base64')
  const sids: string[] = []
  const cookie = {
    originalMaxAge: IDLE_MS,
    expires: new Date(Date.now() + IDLE_MS),
    secure: true,
    httpOnly: true,
    path: '/',
    sameSite: 'lax',
  }
  for (let i = 0; i < SESSIONS; i++) {
    const sid = randomBytes(24).toString('base64url')
    sids.push(sid)
    await store.set(sid, { cookie, ...DATA } as never)
  }
  const signed = sids.map((sid) => `s:${signature.sign(sid, secret)}`)
  const headers = signed.map((value) => `sid=${encodeURIComponent(value)}`)
  const middleware = session({
    store,
    secret,
    name: 'sid',
    resave: false,
    saveUninitialized: false,
    cookie: { secure: true, httpOnly: true, sameSite: 'lax', maxAge: IDLE_MS },
  })

  const storeRead: Operation = async (i) => {
    const sid = signature.unsign(signed[i % SESSIONS]!.slice(2), secret)
    if (sid === false) throw new Error('bad signature')
    const sess = (await store.get(sid)) as { user?: { id: number } } | null
    if (sess?.user?.id !== 42) throw new Error('session not found')
    await store.touch(sid, sess as never)
  }

  const middlewareOp: Operation = (i) =>
    new Promise<void>((resolve, reject) => {
      const req = {
        headers: { cookie: headers[i % SESSIONS] },
        url: '/',
        originalUrl: '/',
        method: 'GET',
        connection: { encrypted: true },
        socket: { encrypted: true },
      } as unknown as Parameters<typeof middleware>[0]
      const res: FakeResponse = {
        _header: null,
        writeHead() {
          this._header = 'HTTP/1.1 200 OK'
        },
        setHeader() {},
        getHeader: () => undefined,
        _implicitHeader() {
          this.writeHead()
        },
        write: () => true,
        end: () => resolve(),
      }
      middleware(req, res as unknown as Parameters<typeof middleware>[1], (err?: unknown) => {
        if (err !== undefined) return reject(err instanceof Error ? err : new Error('express-session failed'))
        const user = (req as unknown as { session?: { user?: { id: number } } }).session?.user
        if (user?.id !== 42) return reject(new Error('session not found'))
        res.end()
      })
    })

  return {
    storeRead,
    middleware: middlewareOp,
    close: async () => {
      client.destroy()
      await cleanPrefix(url, 'bench-sess:')
    },
  }
}
