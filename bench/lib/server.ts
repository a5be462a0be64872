import { createClient } from '@redis/client'
import { startServer } from '../../src/testing/index.js'
import type { BenchOptions, BenchServer } from './types.js'

/** A server acquired for one benchmark; `release()` stops it if the harness started it. */
export interface AcquiredServer {
  readonly server: BenchServer
  release(): Promise<void>
}

/**
 * The one place that decides which server a benchmark runs against: `--url` when given,
 * otherwise a fresh server started by the test launcher (`startServer({ engine })`).
 */
export async function acquireServer(options: BenchOptions): Promise<AcquiredServer> {
  if (options.url !== undefined) {
    const server = await describeServer(options.url, 'url')
    return { server, release: async () => {} }
  }
  const launched = await startServer({ engine: options.engine, label: 'bench' })
  try {
    const server = await describeServer(launched.url, 'launcher')
    return { server, release: () => launched.stop() }
  } catch (err) {
    await launched.stop()
    throw err
  }
}

/** Connects once to read what the server is (INFO server). */
async function describeServer(url: string, source: BenchServer['source']): Promise<BenchServer> {
  const parsed = new URL(url)
  const client = createClient({ url })
  client.on('error', () => {})
  await client.connect()
  try {
    const info = parseInfo(asText(await client.sendCommand(['INFO', 'server'])))
    const engine = info.get('server_name') ?? 'redis'
    const version = info.get('valkey_version') ?? info.get('redis_version') ?? 'unknown'
    return {
      url,
      host: parsed.hostname,
      port: Number(parsed.port || 6379),
      engine,
      version,
      source,
    }
  } finally {
    client.destroy()
  }
}

/** A bulk-string reply as text (node-redis returns `string` or `Buffer`). */
export function asText(reply: unknown): string {
  if (typeof reply === 'string') return reply
  if (Buffer.isBuffer(reply)) return reply.toString('utf8')
  throw new Error(`expected a bulk string reply, got ${typeof reply}`)
}

/** Parses `INFO` text into a map of field -> value. */
export function parseInfo(text: string): Map<string, string> {
  const fields = new Map<string, string>()
  for (const line of text.split('\r\n')) {
    const colon = line.indexOf(':')
    if (colon > 0 && !line.startsWith('#')) fields.set(line.slice(0, colon), line.slice(colon + 1))
  }
  return fields
}

/** Reads the server's cumulative CPU time, for per-operation server cost. */
export interface ServerCpuProbe {
  /** Seconds of CPU (user + sys, main thread and children) the server has used so far. */
  read(): Promise<number>
  close(): Promise<void>
}

/** Opens a dedicated connection that reads `INFO cpu` (one command per read, negligible cost). */
export async function openServerCpuProbe(url: string): Promise<ServerCpuProbe> {
  const client = createClient({ url })
  client.on('error', () => {})
  await client.connect()
  return {
    async read() {
      const info = parseInfo(asText(await client.sendCommand(['INFO', 'cpu'])))
      return Number(info.get('used_cpu_user') ?? 0) + Number(info.get('used_cpu_sys') ?? 0)
    },
    async close() {
      client.destroy()
    },
  }
}
