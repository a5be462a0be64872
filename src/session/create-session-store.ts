import type { Valkit } from '../core/index.js'
import { LocalCopies } from './local-copy.js'
import { MemorySessionBackend } from './memory-backend.js'
import { RecordCodec } from './record-codec.js'
import { RedisSessionBackend } from './redis-backend.js'
import type { SessionBackend } from './session-backend.js'
import { STORE_LOGGER } from './http-sessions.js'
import { SessionKeys } from './session-keys.js'
import { registerSessionMetrics } from './session-metrics.js'
import { resolveSessionStoreOptions, type SessionStoreOptions } from './session-options.js'
import { SessionReads } from './session-reads.js'
import { SessionOperations } from './session-store.js'
import { TokenSigner } from './session-token.js'
import type { SessionStats, SessionStore } from './session-types.js'
import { StoreContext } from './store-context.js'
import { UserSessions } from './user-sessions.js'

/** Memory backends shared by every store of one valkit and name (they are "the server" there). */
const memoryBackends = new WeakMap<Valkit, Map<string, { backend: MemorySessionBackend; users: number }>>()

function memoryBackend(valkit: Valkit, name: string): { backend: SessionBackend; release: () => void } {
  let byName = memoryBackends.get(valkit)
  if (byName === undefined)
    memoryBackends.set(valkit, (byName = new Map<string, { backend: MemorySessionBackend; users: number }>()))
  let shared = byName.get(name)
  if (shared === undefined) byName.set(name, (shared = { backend: new MemorySessionBackend(), users: 0 }))
  shared.users++
  const entry = shared
  return {
    backend: entry.backend,
    release: () => {
      if (--entry.users > 0) return
      entry.backend.close()
      byName.delete(name)
    },
  }
}

/**
 * Creates a session store on a valkit instance: sessions encrypted at rest (AES-256-GCM through
 * the keyring, each value bound to its session), signed cookie tokens, idle and absolute
 * timeouts and renewal enforced by the server in the read's own round trip, ID rotation with an
 * overlap window, a per-user index (list, revoke one, revoke all), versioned field-level writes,
 * and quarantine of untrustworthy records. Options are validated once, here
 * (`VALKIT_INVALID_OPTION` naming the option's path).
 *
 * Without Redis (`topology.kind === 'memory'`) the same contract runs in this process. While
 * Redis is unreachable, reads come from the per-instance copy if `localCopy` is on, and
 * writes that rotate or revoke fail closed.
 *
 * @example
 * ```ts
 * import { createValkit } from 'valkit'
 * import { createSessionStore } from 'valkit/session'
 *
 * const valkit = createValkit({ url: process.env.REDIS_URL })
 * const sessions = createSessionStore(valkit, {
 *   secrets: [process.env.SESSION_SECRET!],
 *   encryption: { keys: [{ id: 1, key: process.env.SESSION_KEY_1! }], primary: 1 },
 *   idleTimeout: '30m',
 *   absoluteTimeout: '12h',
 * })
 * const anonymous = await sessions.create({ data: { cart: [] } })
 * const login = await sessions.regenerate(anonymous, { userId: 42, device: 'Firefox on Linux' })
 * if (login.ok) setCookie(login.session.token)
 * const found = await sessions.load(cookieValue) // { found: true, session } or { found: false, reason }
 * await sessions.revokeAll(42) // log out everywhere
 * ```
 */
export function createSessionStore(valkit: Valkit, options: SessionStoreOptions): SessionStore {
  const resolved = resolveSessionStoreOptions(options)
  const keys = new SessionKeys(valkit.keys, resolved.name, resolved.cacheEntries)
  const memory = valkit.config.topology.kind === 'memory'
  const shared = memory ? memoryBackend(valkit, resolved.name) : null
  const backend = shared?.backend ?? new RedisSessionBackend(valkit, keys, resolved.cacheEntries)
  const local =
    resolved.localCopy === false || memory
      ? null
      : new LocalCopies(resolved.localCopy.maxEntries, resolved.localCopy.maxStaleMs)
  const metrics = registerSessionMetrics(valkit.metrics, resolved.name, () => backend.count())
  const channel = valkit.keys.key('session', 'events', resolved.name)
  const ctx = new StoreContext(
    valkit,
    resolved,
    keys,
    new RecordCodec(resolved),
    new TokenSigner(resolved.secrets, resolved.cacheEntries),
    backend,
    metrics,
    local,
    channel,
  )
  const reads = new SessionReads(ctx)
  const ops = new SessionOperations(ctx, reads)
  const users = new UserSessions(ctx)
  const unhooks: (() => void)[] = []
  const listener = (message: string | Buffer): void => {
    const text = message.toString()
    if (text.startsWith('u ')) local?.dropTag(text.slice(2))
    else if (text.startsWith('s ')) local?.dropHandle(text.slice(2))
  }
  // After a reconnection (a failover may have lost writes, so a version number may repeat with
  // other data), no cached record is trusted again.
  if (!memory) unhooks.push(valkit.supervisor.onRecover(async () => ctx.codec.clear()))
  let subscribed: Promise<void> = Promise.resolve()
  if (local !== null) {
    subscribed = valkit.connection.subscribe(channel, listener).catch((err: unknown) => ctx.failed(err))
    // Messages may have been missed while disconnected: no copy from before is trusted again.
    unhooks.push(valkit.supervisor.onRecover(async () => local.clear()))
  }
  let closed: Promise<void> | null = null

  const store: SessionStore = {
    name: resolved.name,
    ready: () => subscribed,
    create: (createOptions) => ops.create(createOptions),
    load: (token, readOptions) => reads.load(token, readOptions),
    read: (id, readOptions) => reads.read(id, readOptions),
    update: (session, changes, updateOptions) => ops.update(session, changes, updateOptions),
    destroy: (session) => ops.destroy(session),
    regenerate: (session, regenerateOptions) => ops.regenerate(session, regenerateOptions),
    list: (userId) => users.list(userId),
    revoke: (userId, handle) => users.revoke(userId, handle),
    revokeAll: (userId, revokeOptions) => users.revokeAll(userId, revokeOptions),
    eraseUser: (userId) => users.eraseUser(userId),
    exportUser: (userId) => users.exportUser(userId),
    sign: (id) => ctx.signer.sign(id),
    stats: (): SessionStats => {
      const c = ctx.counters
      return { ...c, localCopies: local?.size ?? 0, active: backend.count() ?? null }
    },
    close: () => {
      closed ??= (async () => {
        for (const unhook of unhooks) unhook()
        metrics.detach()
        if (local !== null) {
          local.close()
          await valkit.connection.unsubscribe(channel, listener).catch(() => {})
        }
        if (shared !== null) shared.release()
        else backend.close()
      })()
      return closed
    },
  }
  // The HTTP middlewares log through valkit's logger (secrets redacted).
  Object.defineProperty(store, STORE_LOGGER, { value: valkit.logger })
  return store
}
