import net from 'node:net'
import { ValkitError } from '../core/errors.js'

/** Options of {@link tcpProxy}. */
export interface TcpProxyOptions {
  /** Where connections are forwarded. @defaultValue host `'127.0.0.1'` */
  readonly target: { readonly host?: string; readonly port: number }
  /** The port to listen on. @defaultValue `0` (a free port) */
  readonly port?: number
  /** Delay added to every chunk in each direction. @defaultValue `0` */
  readonly latencyMs?: number
}

/** A fault-injecting TCP proxy in front of a server; see {@link tcpProxy}. */
export interface TcpProxy {
  /** `'127.0.0.1'`. */
  readonly host: string
  /** The port clients should connect to. */
  readonly port: number
  /** `redis://127.0.0.1:port`. */
  readonly url: string
  /** Open client connections. */
  readonly connections: number
  /** Sets the delay added to each chunk in each direction (order is kept). */
  setLatency(ms: number): void
  /** Accepts connections but drops every byte both ways, until `heal()`; nothing is closed. */
  blackhole(): void
  /** Holds every byte both ways (buffered, delivered on `resume()`): a stalled network. */
  pause(): void
  /** Delivers what `pause()` held and forwards again. */
  resume(): void
  /** Ends `blackhole()` and `pause()` and sets the latency back to 0. */
  heal(): void
  /** Resets (TCP RST) every open connection; new ones are still accepted. */
  resetConnections(): void
  /** Stops listening and destroys every connection. */
  close(): Promise<void>
}

interface Pipe {
  readonly client: net.Socket
  readonly upstream: net.Socket
}

interface Queued {
  readonly chunk: Buffer
  readonly due: number
}

/**
 * Starts a TCP proxy on 127.0.0.1 that forwards to `target` and can inject latency,
 * blackholes (traffic silently dropped), stalls and connection resets: network faults for
 * partition and timeout tests, without root privileges.
 *
 * @example
 * ```ts
 * const proxy = await tcpProxy({ target: { port: server.port } })
 * const client = connect(proxy.url)
 * proxy.blackhole() // the client's commands now time out
 * proxy.heal()
 * await proxy.close()
 * ```
 */
export async function tcpProxy(options: TcpProxyOptions): Promise<TcpProxy> {
  const targetHost = options.target.host ?? '127.0.0.1'
  const targetPort = options.target.port
  let latencyMs = Math.max(0, options.latencyMs ?? 0)
  let blackholed = false
  let paused = false
  const pipes = new Set<Pipe>()
  const flushers = new Set<() => void>()

  const forward = (from: net.Socket, to: net.Socket): void => {
    const queue: Queued[] = []
    let timer: NodeJS.Timeout | undefined
    const flush = (): void => {
      timer = undefined
      while (!paused && queue.length > 0) {
        const head = queue[0]!
        const wait = head.due - Date.now()
        if (wait > 0) {
          timer = setTimeout(flush, wait)
          return
        }
        queue.shift()
        if (!to.destroyed) to.write(head.chunk)
      }
    }
    flushers.add(flush)
    from.on('data', (chunk: Buffer) => {
      if (blackholed) return
      queue.push({ chunk, due: Date.now() + latencyMs })
      if (!timer) flush()
    })
    from.once('close', () => {
      flushers.delete(flush)
      if (timer) clearTimeout(timer)
    })
  }

  const server = net.createServer((client) => {
    const upstream = net.connect({ host: targetHost, port: targetPort })
    const pipe: Pipe = { client, upstream }
    pipes.add(pipe)
    client.setNoDelay(true)
    upstream.setNoDelay(true)
    forward(client, upstream)
    forward(upstream, client)
    const teardown = (): void => {
      pipes.delete(pipe)
      client.destroy()
      upstream.destroy()
    }
    client.once('close', teardown)
    upstream.once('close', teardown)
    client.on('error', teardown)
    upstream.on('error', teardown)
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) =>
      reject(new ValkitError('VALKIT_LAUNCHER', `tcpProxy could not listen: ${err.message}`, { cause: err })),
    )
    server.listen({ host: '127.0.0.1', port: options.port ?? 0 }, resolve)
  })
  server.unref()
  const address = server.address()
  const port = typeof address === 'object' && address ? address.port : 0
  const flushAll = (): void => {
    for (const flush of flushers) flush()
  }

  return {
    host: '127.0.0.1',
    port,
    url: `redis://127.0.0.1:${port}`,
    get connections() {
      return pipes.size
    },
    setLatency(ms) {
      latencyMs = Math.max(0, ms)
    },
    blackhole() {
      blackholed = true
    },
    pause() {
      paused = true
    },
    resume() {
      paused = false
      flushAll()
    },
    heal() {
      blackholed = false
      latencyMs = 0
      paused = false
      flushAll()
    },
    resetConnections() {
      for (const { client, upstream } of pipes) {
        client.resetAndDestroy()
        upstream.destroy()
      }
      pipes.clear()
    },
    close() {
      for (const { client, upstream } of pipes) {
        client.destroy()
        upstream.destroy()
      }
      pipes.clear()
      return new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
