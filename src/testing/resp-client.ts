import net from 'node:net'
import tls from 'node:tls'
import { ValkitError } from '../core/errors.js'

/** A decoded RESP2 reply. Bulk strings are decoded as UTF-8; a nil bulk or nil array is `null`. */
export type RespReply = string | number | null | RespReply[]

/** Options of {@link RespClient.connect}. */
export interface RespClientOptions {
  /** @defaultValue `'127.0.0.1'` */
  readonly host?: string
  readonly port: number
  /** TLS options for `node:tls`; plain TCP when absent. */
  readonly tls?: tls.ConnectionOptions
  /** Sent with `AUTH` right after connecting when `password` is set. @defaultValue `'default'` */
  readonly username?: string
  readonly password?: string
  /** @defaultValue `3000` */
  readonly connectTimeoutMs?: number
  /** A command without a reply within this time fails and closes the connection; 0 disables. @defaultValue `10000` */
  readonly commandTimeoutMs?: number
}

interface Pending {
  readonly resolve: (reply: RespReply) => void
  readonly reject: (err: unknown) => void
  readonly command: string
}

const CRLF = Buffer.from('\r\n')
const INCOMPLETE = Symbol('incomplete')

/**
 * A tiny RESP2 client over `node:net` / `node:tls`, used by the test launcher to talk to the
 * servers it starts. It pipelines commands, has no reconnection and no RESP3. An error reply
 * rejects with a `ValkitError` of code `VALKIT_COMMAND` whose message is the server's text
 * (for example `NOPERM ...`).
 *
 * @example
 * ```ts
 * const client = await RespClient.connect({ port: server.port })
 * await client.command('SET', 'k', 'v')
 * client.close()
 * ```
 */
export class RespClient {
  readonly #socket: net.Socket
  readonly #pending: Pending[] = []
  readonly #commandTimeoutMs: number
  #buffer: Buffer = Buffer.alloc(0)
  #closedError: ValkitError | undefined
  #timer: NodeJS.Timeout | undefined

  private constructor(socket: net.Socket, commandTimeoutMs: number) {
    this.#socket = socket
    this.#commandTimeoutMs = commandTimeoutMs
    socket.on('data', (chunk: Buffer) => this.#onData(chunk))
    socket.on('error', (err) =>
      this.#fail(new ValkitError('VALKIT_UNAVAILABLE', err.message, { cause: err })),
    )
    socket.on('close', () => this.#fail(new ValkitError('VALKIT_CLOSED', 'connection closed')))
    socket.unref()
  }

  /** Connects (and authenticates when a password is given). */
  static async connect(options: RespClientOptions): Promise<RespClient> {
    const host = options.host ?? '127.0.0.1'
    const connectTimeoutMs = options.connectTimeoutMs ?? 3000
    const socket = await new Promise<net.Socket>((resolve, reject) => {
      const s = options.tls
        ? tls.connect({ host, port: options.port, servername: 'localhost', ...options.tls })
        : net.connect({ host, port: options.port })
      const timer = setTimeout(() => {
        s.destroy()
        reject(new ValkitError('VALKIT_TIMEOUT', `connect to ${host}:${options.port} timed out`))
      }, connectTimeoutMs)
      s.once(options.tls ? 'secureConnect' : 'connect', () => {
        clearTimeout(timer)
        s.removeAllListeners('error')
        resolve(s)
      })
      s.once('error', (err: Error) => {
        clearTimeout(timer)
        s.destroy()
        reject(
          new ValkitError('VALKIT_UNAVAILABLE', `connect to ${host}:${options.port}: ${err.message}`, {
            cause: err,
          }),
        )
      })
    })
    socket.setNoDelay(true)
    const client = new RespClient(socket, options.commandTimeoutMs ?? 10_000)
    if (options.password !== undefined) {
      try {
        await client.command('AUTH', options.username ?? 'default', options.password)
      } catch (err) {
        client.close()
        throw err
      }
    }
    return client
  }

  /** True until the connection closes or fails. */
  get open(): boolean {
    return this.#closedError === undefined
  }

  /** Sends one command and resolves with its reply. */
  command(...args: ReadonlyArray<string | number | Buffer>): Promise<RespReply> {
    if (this.#closedError) return Promise.reject(this.#closedError)
    const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)]
    for (const arg of args) {
      const bytes = Buffer.isBuffer(arg) ? arg : Buffer.from(String(arg))
      parts.push(Buffer.from(`$${bytes.length}\r\n`), bytes, CRLF)
    }
    return new Promise<RespReply>((resolve, reject) => {
      this.#pending.push({ resolve, reject, command: String(args[0] ?? '') })
      this.#socket.ref()
      this.#socket.write(Buffer.concat(parts))
      this.#armTimer()
    })
  }

  /** Closes the connection; pending commands reject with `VALKIT_CLOSED`. */
  close(): void {
    this.#fail(new ValkitError('VALKIT_CLOSED', 'connection closed by the client'))
  }

  #armTimer(): void {
    if (this.#commandTimeoutMs <= 0 || this.#timer) return
    this.#timer = setTimeout(() => {
      this.#timer = undefined
      const first = this.#pending[0]
      this.#fail(
        new ValkitError(
          'VALKIT_TIMEOUT',
          `${first?.command ?? 'command'} got no reply within ${this.#commandTimeoutMs} ms`,
        ),
      )
    }, this.#commandTimeoutMs)
    this.#timer.unref()
  }

  #settled(): void {
    if (this.#timer) clearTimeout(this.#timer)
    this.#timer = undefined
    if (this.#pending.length > 0) this.#armTimer()
    else this.#socket.unref()
  }

  #fail(err: ValkitError): void {
    if (!this.#closedError) this.#closedError = err
    if (this.#timer) clearTimeout(this.#timer)
    this.#timer = undefined
    this.#socket.destroy()
    for (const p of this.#pending.splice(0)) p.reject(err)
  }

  #onData(chunk: Buffer): void {
    this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk])
    while (this.#buffer.length > 0) {
      let parsed: Parsed
      try {
        parsed = parseReply(this.#buffer, 0)
      } catch (err) {
        this.#fail(err instanceof ValkitError ? err : new ValkitError('VALKIT_COMMAND', String(err)))
        return
      }
      if (parsed === INCOMPLETE) return
      this.#buffer = this.#buffer.subarray(parsed.next)
      const pending = this.#pending.shift()
      if (!pending) continue
      if (parsed.value instanceof ReplyError) {
        pending.reject(
          new ValkitError('VALKIT_COMMAND', parsed.value.message, { details: { command: pending.command } }),
        )
      } else {
        pending.resolve(parsed.value)
      }
      this.#settled()
    }
  }
}

class ReplyError {
  constructor(readonly message: string) {}
}

type Parsed = { value: RespReply | ReplyError; next: number } | typeof INCOMPLETE

function parseReply(buf: Buffer, at: number): Parsed {
  const end = buf.indexOf(CRLF, at)
  if (end < 0) return INCOMPLETE
  const type = String.fromCharCode(buf[at] ?? 0)
  const line = buf.toString('utf8', at + 1, end)
  const next = end + 2
  switch (type) {
    case '+':
      return { value: line, next }
    case '-':
      return { value: new ReplyError(line), next }
    case ':':
      return { value: Number(line), next }
    case '$': {
      const len = Number(line)
      if (len < 0) return { value: null, next }
      if (buf.length < next + len + 2) return INCOMPLETE
      return { value: buf.toString('utf8', next, next + len), next: next + len + 2 }
    }
    case '*': {
      const count = Number(line)
      if (count < 0) return { value: null, next }
      const items: RespReply[] = []
      let pos = next
      for (let i = 0; i < count; i++) {
        const item = parseReply(buf, pos)
        if (item === INCOMPLETE) return INCOMPLETE
        // An error nested in an array (EXEC) is kept as its text.
        items.push(item.value instanceof ReplyError ? item.value.message : item.value)
        pos = item.next
      }
      return { value: items, next: pos }
    }
    default:
      throw new ValkitError('VALKIT_COMMAND', `unexpected RESP type byte ${JSON.stringify(type)}`)
  }
}
