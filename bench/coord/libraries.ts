/**
 * The locks compared: redlock 5 and redis-semaphore 5 (both on ioredis 6, one client each, as
 * their docs show) and valkit's coord (on its own node-redis connection), each against the
 * same server. Every library gets the same operations: acquire, then release.
 */
import { Redis } from 'ioredis'
import Redlock from 'redlock'
import { Mutex } from 'redis-semaphore'
import { createValkit, type Valkit } from '../../src/core/index.js'
import { createCoord, createRedlock, type Coord } from '../../src/coord/index.js'
import { CONTENDED_WAIT_MS, LOCK_TTL_MS, REDLOCK_RETRY } from './workload.js'

/** One acquire followed by its release (`onHeld` runs, awaited, while the lock is held); resolves whether it was granted. */
export type LockCycle = (key: string, onHeld?: () => Promise<void>) => Promise<boolean>

/** A library under test: its uncontended try-lock cycle and its waiting cycle. */
export interface LockLibrary {
  readonly name: string
  /** Acquire without waiting (the key is free), then release. */
  readonly tryCycle: LockCycle
  /** Acquire waiting up to {@link CONTENDED_WAIT_MS}, then release. */
  readonly waitCycle: LockCycle
  close(): Promise<void>
}

export async function openRedlock(url: string, ...more: string[]): Promise<LockLibrary> {
  const clients = [url, ...more].map((u) => new Redis(u, { lazyConnect: true, maxRetriesPerRequest: 1 }))
  await Promise.all(clients.map((c) => c.connect()))
  const redlock = new Redlock(clients, { retryCount: 0 })
  redlock.on('error', () => {})
  return {
    name: clients.length === 1 ? 'redlock 5 (ioredis)' : `redlock 5, ${clients.length} servers (ioredis)`,
    async tryCycle(key, onHeld) {
      const lock = await redlock.acquire([key], LOCK_TTL_MS)
      await onHeld?.()
      await lock.release()
      return true
    },
    async waitCycle(key, onHeld) {
      const lock = await redlock.acquire([key], LOCK_TTL_MS, REDLOCK_RETRY)
      await onHeld?.()
      await lock.release()
      return true
    },
    async close() {
      for (const c of clients) c.disconnect()
    },
  }
}

export async function openRedisSemaphore(url: string): Promise<LockLibrary> {
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 })
  await client.connect()
  return {
    name: 'redis-semaphore Mutex (ioredis)',
    async tryCycle(key, onHeld) {
      const mutex = new Mutex(client, key, {
        lockTimeout: LOCK_TTL_MS,
        acquireAttemptsLimit: 1,
        refreshInterval: 0,
      })
      if (!(await mutex.tryAcquire())) return false
      await onHeld?.()
      await mutex.release()
      return true
    },
    async waitCycle(key, onHeld) {
      const mutex = new Mutex(client, key, {
        lockTimeout: LOCK_TTL_MS,
        acquireTimeout: CONTENDED_WAIT_MS,
        refreshInterval: 0,
      })
      await mutex.acquire()
      await onHeld?.()
      await mutex.release()
      return true
    },
    async close() {
      client.disconnect()
    },
  }
}

/** valkit's coord on its own valkit instance; `fair` selects FIFO queueing. */
export async function openValkit(url: string, fair: boolean): Promise<LockLibrary> {
  const valkit: Valkit = createValkit({
    url,
    env: {},
    logger: false,
    keyPrefix: `bench-coord-${fair ? 'f' : 'u'}`,
  })
  await valkit.supervisor.waitFor('ready', 10_000)
  const coord: Coord = createCoord(valkit, { ttl: LOCK_TTL_MS, fair })
  const tryOptions = Object.freeze({ wait: 0 })
  const waitOptions = Object.freeze({ wait: CONTENDED_WAIT_MS })
  return {
    name: `valkit coord${fair ? ', fair (FIFO)' : ''}`,
    async tryCycle(key, onHeld) {
      const got = await coord.acquire(key, tryOptions)
      if (!got.acquired) return false
      await onHeld?.()
      await got.lease.release()
      return true
    },
    async waitCycle(key, onHeld) {
      const got = await coord.acquire(key, waitOptions)
      if (!got.acquired) return false
      await onHeld?.()
      await got.lease.release()
      return true
    },
    async close() {
      await coord.close()
      await valkit.close()
    },
  }
}

/** valkit's `createRedlock` over one valkit instance per server (only the uncontended cycle is measured). */
export async function openValkitRedlock(urls: readonly string[]): Promise<LockLibrary> {
  const valkits = urls.map((url) =>
    createValkit({ url, env: {}, logger: false, keyPrefix: 'bench-coord-rl' }),
  )
  await Promise.all(valkits.map((v) => v.supervisor.waitFor('ready', 10_000)))
  const redlock = createRedlock(valkits, { ttl: LOCK_TTL_MS })
  const tryOptions = Object.freeze({ wait: 0 })
  const cycle: LockCycle = async (key, onHeld) => {
    const got = await redlock.acquire(key, tryOptions)
    if (!got.acquired) return false
    await onHeld?.()
    await got.lease.release()
    return true
  }
  return {
    name: `valkit createRedlock, ${urls.length} servers`,
    tryCycle: cycle,
    waitCycle: cycle,
    async close() {
      await redlock.close()
      await Promise.all(valkits.map((v) => v.close()))
    },
  }
}
