/**
 * The session middlewares in real apps on a real server: Express listening on port 0 and called
 * with fetch, Fastify through inject, Hono through app.request. One scenario for all three:
 * cookies with safe defaults, counting across requests, login with a new ID, the old ID
 * read-only, logout, revoke-all from another instance, forged cookies and corrupt records
 * giving a fresh session (never a 500).
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import type { AddressInfo } from 'node:net'
import { after, before, describe, it } from 'node:test'
import express from 'express'
import Fastify from 'fastify'
import { Hono } from 'hono'
import { createValkit, type Valkit } from '../../src/core/index.js'
import { expressSession, type SessionRequest } from '../../src/http/session-express.js'
import { fastifySession } from '../../src/http/session-fastify.js'
import { honoSession, type SessionVariables } from '../../src/http/session-hono.js'
import { createSessionStore, type HttpSession, type SessionStore } from '../../src/session/index.js'
import { cleanPrefix, startServer, testEngines, type ServerHandle } from '../../src/testing/index.js'

interface Reply {
  readonly status: number
  readonly body: Record<string, unknown>
  readonly cookies: string[]
}

/** One framework's app, driven the way its users test it. */
interface App {
  call(method: 'GET' | 'POST', path: string, cookie?: string): Promise<Reply>
  close(): Promise<void>
}

/** The routes every app has, written once against the request's session. */
async function route(session: HttpSession, path: string): Promise<Record<string, unknown>> {
  if (path === '/count') {
    session.views = Number(session.views ?? 0) + 1
    return { views: session.views }
  }
  if (path === '/login') {
    await session.regenerate({ userId: 'ada' })
    session.role = 'admin'
    return { user: session.meta.userId }
  }
  if (path === '/logout') {
    await session.destroy()
    return { ok: true }
  }
  return {
    views: session.views ?? null,
    role: session.role ?? null,
    user: session.meta.userId,
    isNew: session.meta.isNew,
    readOnly: session.meta.readOnly,
  }
}

async function expressApp(store: SessionStore): Promise<App> {
  const app = express()
  app.use(expressSession(store))
  app.all('/{*path}', (req, res, next) => {
    route((req as unknown as SessionRequest).session, req.path).then((body) => res.json(body), next)
  })
  const server = app.listen(0)
  await new Promise((resolve) => server.once('listening', resolve))
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  return {
    async call(method, path, cookie) {
      const response = await fetch(base + path, { method, headers: cookie ? { cookie } : {} })
      return {
        status: response.status,
        body: (await response.json()) as Record<string, unknown>,
        cookies: response.headers.getSetCookie(),
      }
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }
}

async function fastifyApp(store: SessionStore): Promise<App> {
  const app = Fastify()
  await app.register(fastifySession(store))
  app.all('/*', async (request) => route(request.session, request.url))
  await app.ready()
  return {
    async call(method, path, cookie) {
      const response = await app.inject({ method, url: path, headers: cookie ? { cookie } : {} })
      const raw = response.headers['set-cookie']
      return {
        status: response.statusCode,
        body: response.json(),
        cookies: raw === undefined ? [] : Array.isArray(raw) ? raw : [raw],
      }
    },
    close: () => app.close(),
  }
}

async function honoApp(store: SessionStore): Promise<App> {
  const app = new Hono<{ Variables: SessionVariables }>()
  app.use(honoSession(store))
  app.all('/*', async (c) => c.json(await route(c.get('session'), c.req.path)))
  return {
    async call(method, path, cookie) {
      const response = await app.request(path, { method, headers: cookie ? { cookie } : {} })
      return {
        status: response.status,
        body: (await response.json()) as Record<string, unknown>,
        cookies: response.headers.getSetCookie(),
      }
    },
    close: async () => {},
  }
}

const FRAMEWORKS = { express: expressApp, fastify: fastifyApp, hono: honoApp } as const

/** The cookie a reply sets (`name=value`), or undefined. */
function cookieOf(reply: Reply): string | undefined {
  const line = reply.cookies.find((c) => c.startsWith('__Host-session=') && !c.includes('Max-Age=0'))
  return line?.split(';')[0]
}

for (const engine of testEngines()) {
  void describe(`session middlewares on ${engine}`, { timeout: 120_000 }, () => {
    let server: ServerHandle
    let valkit: Valkit
    let other: Valkit
    const prefix = `t-sess-http-${randomBytes(4).toString('hex')}`
    const options = {
      secrets: [randomBytes(32).toString('base64')],
      encryption: { keys: [{ id: 1, key: randomBytes(32) }], primary: 1 },
      touchInterval: 0,
    }
    const stores: SessionStore[] = []
    let n = 0

    before(async () => {
      server = await startServer({ engine })
      valkit = createValkit({ url: server.url, env: {}, logger: false, keyPrefix: prefix })
      other = createValkit({ url: server.url, env: {}, logger: false, keyPrefix: prefix })
      await Promise.all([
        valkit.supervisor.waitFor('ready', 10_000),
        other.supervisor.waitFor('ready', 10_000),
      ])
    })
    after(async () => {
      for (const store of stores) await store.close()
      await valkit?.close()
      await other?.close()
      if (server?.alive) await cleanPrefix(server, `${prefix}:`)
      await server?.stop()
    })

    for (const [framework, make] of Object.entries(FRAMEWORKS)) {
      it(`${framework}: safe cookie, counting, login with a new ID, old ID read-only, logout`, async () => {
        const name = `h${n++}`
        const store = createSessionStore(valkit, { ...options, name })
        stores.push(store)
        const app = await make(store)
        try {
          const fresh = await app.call('GET', '/whoami')
          assert.equal(fresh.status, 200)
          assert.equal(fresh.body.isNew, true)
          assert.deepEqual(fresh.cookies, [], 'nothing stored: no session created, no cookie')

          const first = await app.call('GET', '/count')
          const line = first.cookies.find((c) => c.startsWith('__Host-session='))
          assert.ok(line, 'a session cookie once something is stored')
          for (const attribute of ['Path=/', 'HttpOnly', 'Secure', 'SameSite=Lax'])
            assert.ok(line.includes(attribute), attribute)
          assert.equal(line.includes('Domain='), false)
          const anonymous = cookieOf(first)!
          assert.equal((await app.call('GET', '/count', anonymous)).body.views, 2)
          assert.equal((await app.call('GET', '/count', anonymous)).body.views, 3)

          const login = await app.call('POST', '/login', anonymous)
          assert.equal(login.body.user, 'ada')
          const loggedIn = cookieOf(login)!
          assert.notEqual(loggedIn, anonymous, 'login issues a new ID')
          const me = await app.call('GET', '/whoami', loggedIn)
          assert.deepEqual([me.body.user, me.body.role, me.body.views], ['ada', 'admin', 3])
          const old = await app.call('GET', '/whoami', anonymous)
          assert.deepEqual(
            [old.body.user, old.body.role, old.body.readOnly],
            [null, null, true],
            'the old ID never gets the login',
          )
          assert.equal(
            (await app.call('GET', '/count', anonymous)).body.views,
            4,
            'its writes are dropped...',
          )
          assert.equal(
            (await app.call('GET', '/whoami', loggedIn)).body.views,
            3,
            '...and never reach the new session',
          )

          const logout = await app.call('POST', '/logout', loggedIn)
          assert.ok(
            logout.cookies.some((c) => c.startsWith('__Host-session=;') && c.includes('Max-Age=0')),
            'the cookie is removed',
          )
          const after = await app.call('GET', '/whoami', loggedIn)
          assert.deepEqual([after.status, after.body.user, after.body.isNew], [200, null, true])
        } finally {
          await app.close()
        }
      })

      it(`${framework}: forged cookies, corrupt records and revoke-all from another instance give a fresh session, never a 500`, async () => {
        const name = `h${n++}`
        // No decode cache: the corrupted record must be read from Redis (not from an authenticated copy).
        const store = createSessionStore(valkit, { ...options, name, cacheEntries: 0 })
        const elsewhere = createSessionStore(other, { ...options, name })
        stores.push(store, elsewhere)
        const app = await make(store)
        try {
          const login = await app.call('POST', '/login')
          const cookie = cookieOf(login)!
          assert.equal((await app.call('GET', '/whoami', cookie)).body.user, 'ada')
          for (const forged of [
            '__Host-session=garbage',
            `${cookie.slice(0, -2)}zz`,
            '__Host-session=a.b.c',
            `__Host-session=${'x'.repeat(400)}`,
          ]) {
            const reply = await app.call('GET', '/whoami', forged)
            assert.deepEqual(
              [reply.status, reply.body.user, reply.body.isNew],
              [200, null, true],
              forged.slice(0, 40),
            )
            assert.ok(
              reply.cookies.some((c) => c.includes('Max-Age=0')),
              'the bad cookie is removed',
            )
          }
          assert.ok(store.stats().rejectedTokens >= 4)

          // Corrupt the record behind a live cookie.
          const victim = cookieOf(await app.call('GET', '/count'))!
          const id = victim.split('=')[1]!.split('.').slice(0, 2).join('.')
          const lookup = await store.read(id, { touch: false })
          assert.ok(lookup.found)
          const key = `${prefix}:v1:session:{${id.split('.')[0]}}:${name}:s:${lookup.session.handle}`
          await server.command('HSET', key, 'd', 'not a valkit value')
          const corrupt = await app.call('GET', '/whoami', victim)
          assert.deepEqual([corrupt.status, corrupt.body.isNew, corrupt.body.views], [200, true, null])
          assert.equal(store.stats().quarantined, 1)
          assert.match(
            valkit.metrics.toPrometheus(),
            new RegExp(`valkit_session_quarantined_total\\{store="${name}",reason="format"\\} 1`),
          )

          // Log out everywhere, from another instance.
          assert.equal(await elsewhere.revokeAll('ada'), 1)
          const revoked = await app.call('GET', '/whoami', cookie)
          assert.deepEqual([revoked.status, revoked.body.user], [200, null])
        } finally {
          await app.close()
        }
      })
    }
  })
}
