import { createClient } from '@redis/client'
import { Redis } from 'ioredis'
import { loopSubject } from '../lib/compare.js'
import type { Subject } from '../lib/compare.js'
import { SCENARIOS, VALUE, isGet, keyFor } from './workload.js'

/** A subject plus the connection it owns. */
export interface OpenSubject {
  readonly subject: Subject
  close(): Promise<void>
}

/** The anchor: node-redis's raw `sendCommand`, no per-command timeout. */
export const NODE_REDIS_RAW = 'node-redis sendCommand, timeout 0'

async function connectNodeRedis(url: string, timeout: number | undefined) {
  const client = createClient(timeout === undefined ? { url } : { url, commandOptions: { timeout } })
  client.on('error', () => {})
  await client.connect()
  return client
}

/** node-redis `sendCommand([...])` on one connection; `timeout: undefined` keeps its default (5 s, an AbortSignal per command). */
export async function openNodeRedisRaw(
  name: string,
  url: string,
  sha: string,
  timeout: number | undefined,
): Promise<OpenSubject> {
  const client = await connectNodeRedis(url, timeout)
  const subject = loopSubject(name, {
    [SCENARIOS.getSet]: (i) =>
      isGet(i) ? client.sendCommand(['GET', keyFor(i)]) : client.sendCommand(['SET', keyFor(i), VALUE]),
    [SCENARIOS.evalsha]: (i) => client.sendCommand(['EVALSHA', sha, '1', keyFor(i)]),
  })
  return { subject, close: async () => client.destroy() }
}

/** node-redis typed commands (`client.get/set/evalSha`), no per-command timeout. */
export async function openNodeRedisTyped(name: string, url: string, sha: string): Promise<OpenSubject> {
  const client = await connectNodeRedis(url, 0)
  const subject = loopSubject(name, {
    [SCENARIOS.getSet]: (i) => (isGet(i) ? client.get(keyFor(i)) : client.set(keyFor(i), VALUE)),
    [SCENARIOS.evalsha]: (i) => client.evalSha(sha, { keys: [keyFor(i)] }),
  })
  return { subject, close: async () => client.destroy() }
}

/** ioredis typed commands on one connection, with or without auto-pipelining. */
export async function openIoredis(
  name: string,
  url: string,
  sha: string,
  autoPipelining: boolean,
): Promise<OpenSubject> {
  const client = new Redis(url, { enableAutoPipelining: autoPipelining, lazyConnect: true })
  client.on('error', () => {})
  await client.connect()
  const subject = loopSubject(name, {
    [SCENARIOS.getSet]: (i) => (isGet(i) ? client.get(keyFor(i)) : client.set(keyFor(i), VALUE)),
    [SCENARIOS.evalsha]: (i) => client.evalsha(sha, 1, keyFor(i)),
  })
  return { subject, close: async () => client.disconnect() }
}
