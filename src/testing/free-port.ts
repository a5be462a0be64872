import net from 'node:net'

/**
 * A TCP port on `host` that was free a moment ago: binds port 0, reads the port the system
 * chose and releases it. Another process may take it before you use it, so a caller that
 * binds it later must retry on `EADDRINUSE` (the launcher does).
 */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer()
    server.unref()
    server.once('error', reject)
    server.listen({ host, port: 0, exclusive: true }, () => {
      const address = server.address()
      const port = typeof address === 'object' && address ? address.port : 0
      server.close(() => resolve(port))
    })
  })
}
