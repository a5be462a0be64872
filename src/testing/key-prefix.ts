import { randomBytes } from 'node:crypto'
import { ValkitError } from '../core/errors.js'
import { RespClient } from './resp-client.js'
import type { ServerHandle } from './server-handle.js'
import type { ClusterHandle } from './start-cluster.js'

/**
 * A fresh key prefix for one test, such as `test:cache:3f9a1c2e:`. Give every test its own
 * and clean it with {@link cleanPrefix}, instead of flushing a server other tests share.
 *
 * @example
 * ```ts
 * const prefix = randomPrefix('ratelimit')
 * await server.command('SET', `${prefix}k`, 'v')
 * await cleanPrefix(server, prefix)
 * ```
 */
export function randomPrefix(label = 'test'): string {
  return `test:${label.replace(/[^\w.-]/g, '_')}:${randomBytes(4).toString('hex')}:`
}

/** Anything that can run a command: a server handle or a connected client. */
interface Commander {
  command(...args: ReadonlyArray<string | number>): Promise<unknown>
}

function globEscape(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&')
}

async function cleanOne(node: Commander, match: string): Promise<number> {
  let cursor = '0'
  let removed = 0
  do {
    const reply = (await node.command('SCAN', cursor, 'MATCH', match, 'COUNT', 1000)) as [string, string[]]
    cursor = reply[0]
    // One UNLINK per key: keys of one page may hash to different cluster slots.
    const counts = await Promise.all(reply[1].map((key) => node.command('UNLINK', key)))
    removed += counts.reduce<number>((sum, n) => sum + Number(n), 0)
  } while (cursor !== '0')
  return removed
}

function isCluster(target: unknown): target is ClusterHandle {
  return typeof target === 'object' && target !== null && 'seeds' in target && 'masters' in target
}

/**
 * Deletes every key starting with `prefix` (`SCAN MATCH prefix*` + `UNLINK`) and resolves
 * with how many were deleted. `target` is a server handle, a cluster handle (every master
 * is cleaned) or a `redis://` / `rediss://` URL (for `rediss`, the certificate is not
 * verified: this is a test helper). Refuses an empty prefix.
 */
export async function cleanPrefix(
  target: ServerHandle | ClusterHandle | string,
  prefix: string,
): Promise<number> {
  if (prefix.length === 0) {
    throw new ValkitError(
      'VALKIT_INVALID_ARGUMENT',
      'cleanPrefix: refusing an empty prefix (it would delete every key)',
    )
  }
  const match = `${globEscape(prefix)}*`
  if (isCluster(target)) {
    const masters = await target.masters()
    const counts = await Promise.all(masters.map((m) => cleanOne(target.node(m.port), match)))
    return counts.reduce((sum, n) => sum + n, 0)
  }
  if (typeof target !== 'string') return cleanOne(target, match)
  const url = new URL(target)
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') {
    throw new ValkitError(
      'VALKIT_INVALID_ARGUMENT',
      `cleanPrefix: expected a redis:// or rediss:// URL, got ${url.protocol}`,
    )
  }
  const client = await RespClient.connect({
    host: url.hostname || '127.0.0.1',
    port: Number(url.port || 6379),
    ...(url.protocol === 'rediss:' && { tls: { rejectUnauthorized: false } }),
    ...(url.password && {
      username: decodeURIComponent(url.username) || 'default',
      password: decodeURIComponent(url.password),
    }),
  })
  try {
    const db = url.pathname.replace('/', '')
    if (db) await client.command('SELECT', db)
    return await cleanOne(client, match)
  } finally {
    client.close()
  }
}
