import { spawn, type ChildProcess } from 'node:child_process'
import { closeSync, openSync, readFileSync, rmSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { ValkitError } from '../core/errors.js'
import type { Engine } from './engine.js'
import { freePort } from './free-port.js'
import { processState, register, unregister, writeOwner, type RegisteredProcess } from './process-registry.js'
import { RespClient, type RespClientOptions, type RespReply } from './resp-client.js'
import type { ExitInfo, ServerHandle, ServerTls } from './server-handle.js'
import type { TlsMaterial } from './tls-certificates.js'

/** How to run one server process; built by `startServer`, `startSentinel` and `startCluster`. */
export interface ProcessSpec {
  readonly engine: Engine
  readonly role: 'server' | 'sentinel'
  /** The binary, e.g. `redis-server`. */
  readonly binary: string
  readonly dir: string
  /** The log file the server writes (set in its arguments or config). */
  readonly logFile: string
  /** The command-line arguments for a start on `port` (may write a config file first). */
  readonly prepare: (port: number) => Promise<string[]>
  readonly tls: TlsMaterial | undefined
  /** Credentials of the launcher's own connection. */
  readonly admin: { readonly username: string; readonly password: string } | undefined
  /** Known users and passwords, for `urlFor`. */
  readonly credentials: ReadonlyMap<string, string | undefined>
  readonly readyTimeoutMs: number
}

const NOT_STARTED: ExitInfo = Object.freeze({ code: null, signal: null })

/** The process behind a {@link ServerHandle}. Internal: users get it through the `start*` functions. */
export class ManagedServer implements ServerHandle, RegisteredProcess {
  readonly host = '127.0.0.1'
  readonly #spec: ProcessSpec
  #port = 0
  #child: ChildProcess | undefined
  #alive = false
  #paused = false
  #stopped = false
  #exited: Promise<ExitInfo> = Promise.resolve(NOT_STARTED)
  #logOffset: [number, number] = [0, 0]
  #client: Promise<RespClient> | undefined

  constructor(spec: ProcessSpec) {
    this.#spec = spec
    register(this)
  }

  get engine(): Engine {
    return this.#spec.engine
  }
  get role(): 'server' | 'sentinel' {
    return this.#spec.role
  }
  get port(): number {
    return this.#port
  }
  get dir(): string {
    return this.#spec.dir
  }
  get url(): string {
    return `${this.#spec.tls ? 'rediss' : 'redis'}://${this.host}:${this.#port}`
  }
  get pid(): number | undefined {
    return this.#alive ? this.#child?.pid : undefined
  }
  get tls(): ServerTls | undefined {
    const t = this.#spec.tls
    return (
      t && { ca: t.ca, cert: t.cert, key: t.key, caFile: t.caFile, certFile: t.certFile, keyFile: t.keyFile }
    )
  }
  get alive(): boolean {
    return this.#alive
  }
  get paused(): boolean {
    return this.#paused
  }
  get exited(): Promise<ExitInfo> {
    return this.#exited
  }

  urlFor(username = 'default'): string {
    if (!this.#spec.credentials.has(username)) {
      throw new ValkitError(
        'VALKIT_LAUNCHER',
        `the launcher knows no user ${JSON.stringify(username)} on this server`,
      )
    }
    const password = this.#spec.credentials.get(username)
    const auth =
      password === undefined
        ? `${encodeURIComponent(username)}@`
        : `${encodeURIComponent(username)}:${encodeURIComponent(password)}@`
    return this.url.replace('://', `://${auth}`)
  }

  /** Starts the process (on a free port, or on `fixedPort`) and waits until it answers PING. */
  async start(fixedPort?: number): Promise<void> {
    const attempts = fixedPort === undefined ? 5 : 30
    for (let attempt = 1; ; attempt++) {
      this.#port = fixedPort ?? (await freePort())
      const args = await this.#spec.prepare(this.#port)
      this.#spawn(args)
      try {
        await this.#waitReady()
        return
      } catch (err) {
        const inUse = /already in use|EADDRINUSE/i.test(this.#logSinceSpawn())
        if (this.#alive) await this.kill('SIGKILL')
        if (!inUse || attempt >= attempts || this.#stopped) throw err
        if (fixedPort !== undefined) await sleep(100)
      }
    }
  }

  #spawn(args: string[]): void {
    this.#logOffset = [this.#fileSize(this.#spec.logFile), this.#fileSize('stdio.log')]
    const stdio = openSync(join(this.#spec.dir, 'stdio.log'), 'a')
    let child: ChildProcess
    try {
      child = spawn(this.#spec.binary, args, { cwd: this.#spec.dir, stdio: ['ignore', stdio, stdio] })
    } finally {
      closeSync(stdio)
    }
    child.unref()
    this.#child = child
    this.#alive = true
    this.#paused = false
    this.#exited = new Promise<ExitInfo>((resolve) => {
      child.once('exit', (code, signal) => {
        this.#alive = false
        this.#paused = false
        resolve({ code, signal })
      })
      child.once('error', () => {
        this.#alive = false
        resolve({ code: -1, signal: null })
      })
    })
    writeOwner(this.#spec.dir, { serverPid: child.pid, binary: this.#spec.binary })
  }

  #connectOptions(): RespClientOptions {
    const { tls, admin } = this.#spec
    return {
      host: this.host,
      port: this.#port,
      ...(tls && { tls: { ca: tls.ca, cert: tls.cert, key: tls.key } }),
      ...(admin && { username: admin.username, password: admin.password }),
    }
  }

  async #waitReady(): Promise<void> {
    const deadline = Date.now() + this.#spec.readyTimeoutMs
    let lastError: unknown
    const exitedEarly = this.#exited.then(() => undefined)
    this.#child?.ref()
    try {
      for (;;) {
        if (!this.#alive) {
          const info = await this.#exited
          throw this.#error(`exited during startup (code ${info.code}, signal ${info.signal})`)
        }
        if (Date.now() > deadline) {
          const why = lastError instanceof Error ? ` (last error: ${lastError.message})` : ''
          throw this.#error(`did not answer PING within ${this.#spec.readyTimeoutMs} ms${why}`, lastError)
        }
        try {
          const client = await RespClient.connect({
            ...this.#connectOptions(),
            connectTimeoutMs: 1000,
            commandTimeoutMs: 2000,
          })
          try {
            if ((await client.command('PING')) === 'PONG') {
              this.#client?.then((c) => c.close()).catch(() => undefined)
              this.#client = Promise.resolve(client)
              return
            }
          } catch (err) {
            client.close()
            throw err
          }
        } catch (err) {
          lastError = err
        }
        await Promise.race([sleep(25), exitedEarly])
      }
    } finally {
      this.#child?.unref()
    }
  }

  #error(problem: string, cause?: unknown): ValkitError {
    return new ValkitError(
      'VALKIT_LAUNCHER',
      `${this.#spec.binary} on ${this.host}:${this.#port} ${problem}\n--- last lines of ${this.#spec.logFile} ---\n${this.logTail(30)}`,
      { cause, details: { dir: this.#spec.dir, port: this.#port } },
    )
  }

  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<ExitInfo> {
    const child = this.#child
    this.#closeClient()
    if (!child || !this.#alive) return this.#exited
    child.ref()
    try {
      try {
        process.kill(child.pid ?? 0, signal)
        if (this.#paused && signal !== 'SIGKILL') process.kill(child.pid ?? 0, 'SIGCONT')
      } catch {
        // already gone: 'exit' follows
      }
      const timeout = sleep(10_000, 'timeout' as const, { ref: false })
      if ((await Promise.race([this.#exited, timeout])) === 'timeout') {
        if (signal === 'SIGKILL') throw this.#error('did not exit within 10 s of SIGKILL')
        process.kill(child.pid ?? 0, 'SIGKILL')
      }
      return await this.#exited
    } finally {
      child.unref()
    }
  }

  async pause(): Promise<void> {
    const pid = this.#requireAlive('pause')
    process.kill(pid, 'SIGSTOP')
    this.#paused = true
    await this.#waitState(pid, (s) => s === 'T' || s === 't')
  }

  async resume(): Promise<void> {
    if (!this.#alive) return
    const pid = this.#requireAlive('resume')
    process.kill(pid, 'SIGCONT')
    this.#paused = false
    await this.#waitState(pid, (s) => s !== 'T' && s !== 't')
  }

  async #waitState(pid: number, ok: (state: string) => boolean): Promise<void> {
    for (let i = 0; i < 200; i++) {
      const state = processState(pid)
      if (state === undefined || ok(state)) return
      await sleep(5)
    }
  }

  async restart(): Promise<void> {
    if (this.#stopped) throw new ValkitError('VALKIT_LAUNCHER', 'restart() after stop()')
    if (this.#alive) {
      if (!this.#paused && this.#spec.role === 'server') {
        await this.command('SAVE').catch(() => undefined)
      }
      await this.kill(this.#paused ? 'SIGKILL' : 'SIGTERM')
    }
    await this.start(this.#port)
  }

  async stop(): Promise<void> {
    if (this.#stopped) return
    this.#stopped = true
    try {
      await this.kill('SIGKILL')
    } finally {
      unregister(this)
      rmSync(this.#spec.dir, { recursive: true, force: true })
    }
  }

  async clientPause(ms: number, mode: 'ALL' | 'WRITE' = 'ALL'): Promise<void> {
    await this.command('CLIENT', 'PAUSE', Math.max(0, Math.round(ms)), mode)
  }

  async command(...args: ReadonlyArray<string | number | Buffer>): Promise<RespReply> {
    this.#requireAlive(String(args[0] ?? 'command'))
    let client = await this.#connection()
    if (!client.open) {
      this.#client = undefined
      client = await this.#connection()
    }
    return client.command(...args)
  }

  async info(section?: string): Promise<Record<string, string>> {
    const text = await this.command(...(section === undefined ? ['INFO'] : ['INFO', section]))
    const fields: Record<string, string> = {}
    for (const line of String(text).split('\r\n')) {
      const at = line.indexOf(':')
      if (at > 0 && !line.startsWith('#')) fields[line.slice(0, at)] = line.slice(at + 1)
    }
    return fields
  }

  logTail(lines = 30): string {
    const read = (name: string): string => {
      try {
        return readFileSync(join(this.#spec.dir, name), 'utf8')
      } catch {
        return ''
      }
    }
    const text = [read(this.#spec.logFile), read('stdio.log')].filter((t) => t.length > 0).join('\n')
    return text.trimEnd().split('\n').slice(-lines).join('\n')
  }

  #connection(): Promise<RespClient> {
    if (!this.#client) {
      const pending = RespClient.connect(this.#connectOptions())
      pending.catch(() => {
        if (this.#client === pending) this.#client = undefined
      })
      this.#client = pending
    }
    return this.#client
  }

  #closeClient(): void {
    const client = this.#client
    this.#client = undefined
    client?.then((c) => c.close()).catch(() => undefined)
  }

  #requireAlive(what: string): number {
    const pid = this.pid
    if (pid === undefined || this.#stopped) {
      throw new ValkitError(
        'VALKIT_LAUNCHER',
        `${what}: ${this.#spec.binary} on port ${this.#port} is not running`,
      )
    }
    return pid
  }

  #fileSize(name: string): number {
    try {
      return statSync(join(this.#spec.dir, name)).size
    } catch {
      return 0
    }
  }

  /** What the server logged (log file and stdio) since the last spawn. */
  #logSinceSpawn(): string {
    const [logOffset, stdioOffset] = this.#logOffset
    const read = (name: string, offset: number): string => {
      try {
        return readFileSync(join(this.#spec.dir, name)).subarray(offset).toString('utf8')
      } catch {
        return ''
      }
    }
    return read(this.#spec.logFile, logOffset) + read('stdio.log', stdioOffset)
  }
}
