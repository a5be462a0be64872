/**
 * Session pieces that need no server: option validation (paths named, secrets never echoed),
 * cookies (parsing, safe attributes, the __Host- rules), tokens, and the request session's
 * change tracking (what a handler changes is saved, nothing else), on the memory backend.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, describe, it } from 'node:test'
import { createValkit, isValkitError } from '../../src/core/index.js'
import {
  createHttpSessions,
  createSessionStore,
  resolveSessionCookieOptions,
  resolveSessionStoreOptions,
  type HttpSession,
} from '../../src/session/index.js'
import { readCookie, serializeCookie } from '../../src/session/session-cookie.js'
import { waitFor } from '../../src/testing/index.js'
import { TokenSigner } from '../../src/session/session-token.js'
import { LocalCopies, type LocalSnapshot } from '../../src/session/local-copy.js'

const secret = randomBytes(32).toString('base64')
const encryption = { keys: [{ id: 1, key: randomBytes(32) }], primary: 1 }

function rejectsOption(fn: () => unknown, path: string): void {
  assert.throws(
    fn,
    (err: unknown) => isValkitError(err, 'VALKIT_INVALID_OPTION') && err.details?.path === path,
    path,
  )
}

void describe('session options', () => {
  it('defaults, and each bad option names its path without echoing secrets', () => {
    const resolved = resolveSessionStoreOptions({ secrets: [secret], encryption })
    assert.equal(resolved.idleTimeoutMs, 30 * 60_000)
    assert.equal(resolved.absoluteTimeoutMs, 12 * 3_600_000)
    assert.equal(resolved.renewAfterMs, 15 * 60_000)
    assert.equal(resolved.localCopy, false)
    rejectsOption(() => resolveSessionStoreOptions({ secrets: [], encryption }), 'session.secrets')
    rejectsOption(
      () => resolveSessionStoreOptions({ secrets: ['short-secret'], encryption }),
      'session.secrets[0]',
    )
    try {
      resolveSessionStoreOptions({ secrets: ['short-secret'], encryption })
    } catch (err) {
      assert.equal(
        String((err as Error).message).includes('short-secret'),
        false,
        'the secret is not in the message',
      )
    }
    rejectsOption(() => resolveSessionStoreOptions({ secrets: [secret] } as never), 'session.encryption')
    rejectsOption(
      () =>
        resolveSessionStoreOptions({
          secrets: [secret],
          encryption,
          idleTimeout: '2h',
          absoluteTimeout: '1h',
        }),
      'session.absoluteTimeout',
    )
    rejectsOption(
      () => resolveSessionStoreOptions({ secrets: [secret], encryption, overlap: '1h' }),
      'session.overlap',
    )
    rejectsOption(
      () => resolveSessionStoreOptions({ secrets: [secret], encryption, name: 'a:b' }),
      'session.name',
    )
    rejectsOption(
      () => resolveSessionStoreOptions({ secrets: [secret], encryption, localCopy: { maxStale: 'soon' } }),
      'session.localCopy.maxStale',
    )
    assert.equal(
      resolveSessionStoreOptions({ secrets: [secret], encryption: false }).keyring,
      undefined,
      'explicitly unencrypted',
    )
  })
})

void describe('session cookies and tokens', () => {
  it('safe defaults: __Host-, Path=/, HttpOnly, Secure, SameSite=Lax; the __Host- rules are enforced', () => {
    const cookie = resolveSessionCookieOptions()
    assert.equal(serializeCookie(cookie, 'tok'), '__Host-session=tok; Path=/; HttpOnly; Secure; SameSite=Lax')
    assert.equal(
      serializeCookie(cookie, null),
      '__Host-session=; Path=/; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly; Secure; SameSite=Lax',
    )
    const absolute = resolveSessionCookieOptions({ maxAge: 'absolute' })
    assert.match(serializeCookie(absolute, 'tok', 10_500, 0), /; Max-Age=10;/)
    rejectsOption(() => resolveSessionCookieOptions({ secure: false }), 'cookie.name')
    rejectsOption(() => resolveSessionCookieOptions({ domain: 'example.org' }), 'cookie.name')
    rejectsOption(
      () => resolveSessionCookieOptions({ name: 'sid', secure: false, sameSite: 'none' }),
      'cookie.sameSite',
    )
    assert.equal(
      serializeCookie(resolveSessionCookieOptions({ name: 'sid', secure: false }), 'x'),
      'sid=x; Path=/; HttpOnly; SameSite=Lax',
    )
  })

  it('readCookie: the first occurrence wins, odd values are passed on to be refused', () => {
    assert.equal(readCookie('a=1; __Host-session=abc.def; b=2', '__Host-session'), 'abc.def')
    assert.equal(
      readCookie(['x=1', '__Host-session=first', '__Host-session=second'], '__Host-session'),
      'first',
    )
    assert.equal(readCookie('other=1', '__Host-session'), undefined)
    assert.equal(readCookie(undefined, '__Host-session'), undefined)
    assert.equal(readCookie('__Host-session=<script>', '__Host-session'), '<script>')
    assert.equal(readCookie('__Host-session=', '__Host-session'), '-')
  })

  it('tokens: signed with the first secret, verified with any; tampering and foreign secrets refused', () => {
    const old = randomBytes(32)
    const fresh = randomBytes(32)
    const id = `a${'x'.repeat(10)}.${randomBytes(18).toString('base64url')}`
    const before = new TokenSigner([old])
    const during = new TokenSigner([fresh, old])
    const token = before.sign(id)
    assert.deepEqual(during.verify(token), { id }, 'an old secret still verifies')
    assert.notEqual(during.sign(id), token, 'new tokens use the new secret')
    assert.deepEqual(new TokenSigner([fresh]).verify(token), { problem: 'signature' })
    assert.deepEqual(during.verify(`${token.slice(0, -1)}${token.endsWith('A') ? 'B' : 'A'}`), {
      problem: 'signature',
    })
    assert.deepEqual(during.verify(`${id}.short`), { problem: 'malformed' })
    assert.deepEqual(during.verify(42), { problem: 'malformed' })
  })
})

void describe('the request session (memory backend)', () => {
  const valkit = createValkit({ env: {}, logger: false })
  const store = createSessionStore(valkit, { secrets: [secret], encryption })
  const http = createHttpSessions(store, { cookie: { name: 'sid', secure: false } })
  after(async () => {
    await store.close()
    await valkit.close()
  })

  async function request(cookie: string | undefined, handle: (s: HttpSession) => void | Promise<void>) {
    const lines: string[] = []
    const session = await http.open(cookie, 'unit-test agent', (line) => {
      lines.push(line)
      return true
    })
    await handle(session)
    await http.commit(session)
    const set = lines.filter((l) => !l.includes('Max-Age=0')).at(-1)
    return { session, cookie: set?.split(';')[0] ?? cookie }
  }

  it('saves what the handler changed (nested mutations, deletes), nothing when it only reads', async () => {
    const first = await request(undefined, (s) => {
      s.cart = [{ sku: 'a', qty: 1 }]
      s.theme = 'dark'
      s.profile = { name: 'Ada' }
    })
    assert.ok(first.cookie?.startsWith('sid='))
    const created = await store.load(first.cookie!.slice(4))
    assert.ok(created.found)
    assert.equal(created.session.device, 'unit-test agent')
    const v1 = created.session.version

    await request(first.cookie, (s) => {
      assert.equal((s.profile as { name: string }).name, 'Ada')
      assert.equal(s.theme, 'dark')
    })
    assert.equal(
      (await store.read(created.session.id, { touch: false })).found &&
        (await store.read(created.session.id)).found,
      true,
    )
    const afterRead = await store.read(created.session.id, { touch: false })
    assert.ok(afterRead.found && afterRead.session.version === v1, 'reading writes nothing')

    await request(first.cookie, (s) => {
      ;(s.cart as { sku: string; qty: number }[]).push({ sku: 'b', qty: 2 })
      delete s.theme
    })
    const changed = await store.read(created.session.id)
    assert.ok(changed.found)
    assert.deepEqual(changed.session.data, {
      cart: [
        { sku: 'a', qty: 1 },
        { sku: 'b', qty: 2 },
      ],
      profile: { name: 'Ada' },
    })
    assert.equal(changed.session.version, v1 + 1, 'one write for both changes')
    assert.throws(
      () => {
        ;(changed.session.data.profile as { name: string }).name = 'Eve'
      },
      TypeError,
      "the store's copy is frozen",
    )
  })

  it('renewal: a request whose ID is due gets a new cookie, same user, same data', async () => {
    const renewing = createSessionStore(valkit, {
      name: 'renew',
      secrets: [secret],
      encryption,
      renewAfter: 50,
    })
    try {
      const io = createHttpSessions(renewing, { cookie: { name: 'sid', secure: false } })
      const s = await renewing.create({ userId: 'r1', data: { n: 7 } })
      await waitFor(() => Date.now() > s.createdAt + 60 || undefined, {
        intervalMs: 10,
        what: 'the ID to be due',
      })
      const lines: string[] = []
      const session = await io.open(`sid=${s.token}`, undefined, (line) => lines.push(line) > 0)
      assert.equal(lines.length, 1, 'a new cookie')
      assert.notEqual(lines[0]!.split(';')[0], `sid=${s.token}`)
      assert.deepEqual(
        [session.meta.userId, session.n, session.meta.absoluteExpiresAt],
        ['r1', 7, s.absoluteExpiresAt],
      )
      const old = await renewing.load(s.token)
      assert.ok(old.found && old.session.readOnly, 'the old ID is read-only for the overlap')
    } finally {
      await renewing.close()
    }
  })

  it('reserved names, meta, destroy and a forged cookie', async () => {
    const { cookie } = await request(undefined, (s) => {
      s.n = 1
    })
    await request(cookie, async (s) => {
      assert.throws(() => {
        s.save = () => Promise.resolve()
      }, TypeError)
      assert.equal(s.meta.isNew, false)
      assert.equal(s.meta.userId, null)
      await s.regenerate({ userId: 'u-1' })
      assert.equal(s.meta.userId, 'u-1')
      assert.equal(s.n, 1)
      await s.destroy()
      assert.equal(s.meta.readOnly, true)
      s.ignored = true
    })
    const forged = await request(
      'sid=a0123456789.AAAAAAAAAAAAAAAAAAAAAAAA.BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB',
      (s) => {
        assert.deepEqual([s.meta.isNew, s.meta.missReason], [true, 'forged'])
      },
    )
    assert.equal(forged.session.meta.handle, null)
  })
})

describe('session local copy (served while Redis is unreachable)', () => {
  const snapshot = (serverNow: number, expiresAt: number, localAt: number): LocalSnapshot => ({
    id: 'sid',
    tag: 'tag',
    record: {} as LocalSnapshot['record'],
    kind: 'live',
    serverNow,
    localAt,
    expiresAt,
  })

  it('counts time from when the read was sent: a reply handled 2 s late does not extend the session', () => {
    const copies = new LocalCopies(10, 60_000)
    try {
      // The server read its clock at S with 1.5 s left; this process handled the reply 2 s after sending.
      const S = 1_700_000_000_000
      copies.remember('h', snapshot(S, S + 1500, performance.now() - 2000))
      assert.equal(copies.get('h', 'sid'), undefined, 'served past the deadline the server gave')
      copies.remember('h2', snapshot(S, S + 5000, performance.now() - 2000))
      assert.equal(copies.get('h2', 'sid')?.id, 'sid', 'still within its deadline')
      assert.equal(copies.get('h2', 'other'), undefined, 'only for its own session ID')
    } finally {
      copies.close()
    }
  })

  it('is never older than maxStale, counted from the read that filled it', () => {
    const copies = new LocalCopies(10, 1000)
    try {
      const S = 1_700_000_000_000
      copies.remember('h', snapshot(S, S + 60_000, performance.now() - 1200))
      assert.equal(copies.get('h', 'sid'), undefined)
    } finally {
      copies.close()
    }
  })
})
