import { createRequire } from 'node:module'
import { createClient } from '@redis/client'
import { Redis } from 'ioredis'
import { RateLimiterRedis, RateLimiterUnion } from 'rate-limiter-flexible'
import { createValkit } from '../../src/core/index.js'
import { createRateLimiter, type RateLimitAlgorithm, type RateLimitRule } from '../../src/ratelimit/index.js'
import { loopSubject, type Subject } from '../lib/compare.js'
import { LIMIT, SCENARIOS, WINDOW_S, tenantFor, userFor } from './workload.js'

/** A subject and the connection(s) it owns. */
export interface OpenSubject {
  readonly subject: Subject
  close(): Promise<void>
}

const ignoreRejection = (): void => {}

async function ioredis(url: string): Promise<Redis> {
  const client = new Redis(url, { lazyConnect: true })
  client.on('error', () => {})
  await client.connect()
  return client
}

async function nodeRedis(url: string) {
  const client = createClient({ url, commandOptions: { timeout: 0 } })
  client.on('error', () => {})
  await client.connect()
  return client
}

/** rate-limiter-flexible's RateLimiterRedis: one limiter; three combined by its RateLimiterUnion. */
export async function openRateLimiterFlexible(
  name: string,
  url: string,
  driver: 'ioredis' | 'node-redis',
): Promise<OpenSubject> {
  const client = driver === 'ioredis' ? await ioredis(url) : await nodeRedis(url)
  const make = (keyPrefix: string) =>
    new RateLimiterRedis({
      storeClient: client,
      points: LIMIT,
      duration: WINDOW_S,
      keyPrefix,
      ...(driver === 'node-redis' ? { useRedisPackage: true } : {}),
    })
  const one = make('rlf1')
  // RateLimiterUnion consumes one key on every limiter (its API); the three-limiter row with a
  // key per scope is below.
  const union = new RateLimiterUnion(make('rlfu'), make('rlft'), make('rlfg'))
  const subject = loopSubject(name, {
    [SCENARIOS.oneRule]: (i) => one.consume(userFor(i)).catch(ignoreRejection),
    [SCENARIOS.threeRules]: (i) => union.consume(userFor(i)).catch(ignoreRejection),
  })
  return {
    subject,
    close: async () =>
      void (driver === 'ioredis'
        ? (client as Redis).disconnect()
        : (client as { destroy(): void }).destroy()),
  }
}

/** Three RateLimiterRedis with their own keys (user, tenant, global), consumed together (not atomic). */
export async function openRateLimiterFlexibleScoped(name: string, url: string): Promise<OpenSubject> {
  const client = await ioredis(url)
  const make = (keyPrefix: string) =>
    new RateLimiterRedis({ storeClient: client, points: LIMIT, duration: WINDOW_S, keyPrefix })
  const [user, tenant, global] = [make('rlsu'), make('rlst'), make('rlsg')]
  const subject = loopSubject(name, {
    [SCENARIOS.threeRules]: (i) =>
      Promise.all([user.consume(userFor(i)), tenant.consume(tenantFor(i)), global.consume('all')]).catch(
        ignoreRejection,
      ),
  })
  return { subject, close: async () => client.disconnect() }
}

/** @fastify/rate-limit's Redis store (a fixed window: INCR + PEXPIRE in one script), on ioredis. */
export async function openFastifyStore(name: string, url: string): Promise<OpenSubject> {
  const client = await ioredis(url)
  // The store is CommonJS without types: loaded by path, as the plugin loads it.
  const RedisStore = createRequire(import.meta.url)('@fastify/rate-limit/store/RedisStore.js') as new (
    continueExceeding: boolean,
    exponentialBackoff: boolean,
    redis: Redis,
    key: string,
  ) => {
    incr(
      key: string,
      cb: (err: Error | null, result?: unknown) => void,
      timeWindow: number,
      max: number,
    ): void
  }
  const store = new RedisStore(false, false, client, 'frl-')
  const incr = (key: string) =>
    new Promise<unknown>((resolve, reject) =>
      store.incr(key, (err, result) => (err ? reject(err) : resolve(result)), WINDOW_S * 1000, LIMIT),
    )
  const subject = loopSubject(name, { [SCENARIOS.oneRule]: (i) => incr(userFor(i)) })
  return { subject, close: async () => client.disconnect() }
}

/** Raw EVALSHA of a trivial one-key script: what one script round trip costs with this driver. */
export async function openRawEvalsha(
  name: string,
  url: string,
  script: string,
  driver: 'ioredis' | 'node-redis',
): Promise<OpenSubject> {
  if (driver === 'node-redis') {
    const client = await nodeRedis(url)
    const sha = await client.sendCommand<string>(['SCRIPT', 'LOAD', script])
    const op = (i: number) => client.sendCommand(['EVALSHA', sha, '1', userFor(i)])
    return {
      subject: loopSubject(name, { [SCENARIOS.oneRule]: op, [SCENARIOS.threeRules]: op }),
      close: async () => client.destroy(),
    }
  }
  const client = await ioredis(url)
  const sha = String(await client.script('LOAD', script))
  const op = (i: number) => client.evalsha(sha, 1, userFor(i))
  return {
    subject: loopSubject(name, { [SCENARIOS.oneRule]: op, [SCENARIOS.threeRules]: op }),
    close: async () => client.disconnect(),
  }
}

const rule = (algorithm: RateLimitAlgorithm, by: string | string[]): RateLimitRule => ({
  algorithm,
  limit: LIMIT,
  window: `${WINDOW_S}s`,
  by,
})

/**
 * valkit's limiter: one rule of `algorithm` per user; in the three-rule scenario per user, per
 * tenant and global, checked and charged together in one script.
 */
export async function openValkit(
  name: string,
  url: string,
  algorithm: RateLimitAlgorithm,
  driver: 'ioredis' | 'node-redis',
  scenarios: 'both' | 'one',
): Promise<OpenSubject> {
  const client = driver === 'ioredis' ? await ioredis(url) : null
  const valkit = createValkit(
    client === null ? { url, logger: false } : { driver: { ioredis: client }, logger: false },
  )
  await valkit.supervisor.waitFor('ready', 10_000)
  const one = createRateLimiter(valkit, {
    name: `v1-${algorithm}-${driver}`,
    rules: { user: rule(algorithm, 'user') },
  })
  const three = createRateLimiter(valkit, {
    name: `v3-${algorithm}-${driver}`,
    rules: { user: rule(algorithm, 'user'), tenant: rule(algorithm, 'tenant'), global: rule(algorithm, []) },
    hashTag: 'limiter',
  })
  const subject = loopSubject(name, {
    [SCENARIOS.oneRule]: (i) => one.check({ user: userFor(i) }),
    ...(scenarios === 'both'
      ? { [SCENARIOS.threeRules]: (i: number) => three.check({ user: userFor(i), tenant: tenantFor(i) }) }
      : {}),
  })
  return {
    subject,
    close: async () => {
      await one.close()
      await three.close()
      await valkit.close()
      client?.disconnect()
    },
  }
}
