import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import {
  accessSync,
  chownSync,
  closeSync,
  constants,
  mkdtempSync,
  openSync,
  readFileSync,
  readdirSync,
  rmSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { ValkitError } from '../core/errors.js'
import { freePort } from './free-port.js'
import { register, unregister, type RegisteredProcess } from './process-registry.js'

/**
 * Options of {@link startPostgres}.
 *
 * @example
 * ```ts
 * const postgres = await startPostgres({ settings: { max_connections: '40' } })
 * ```
 */
export interface StartPostgresOptions {
  /**
   * Directory of `initdb` and `postgres`.
   * @defaultValue `$VALKIT_TEST_PG_BIN`, else the newest `/usr/lib/postgresql/<version>/bin`
   */
  readonly binDir?: string
  /**
   * Extra server settings (`-c name=value`), e.g. `{ max_connections: '50' }`.
   * @defaultValue none (the launcher already turns fsync and synchronous_commit off)
   */
  readonly settings?: Readonly<Record<string, string>>
  /** @defaultValue 20_000 */
  readonly readyTimeoutMs?: number
}

/**
 * A running PostgreSQL started by {@link startPostgres}.
 *
 * @example
 * ```ts
 * const postgres: PostgresHandle = await startPostgres()
 * const pool = new pg.Pool({ connectionString: postgres.url })
 * ```
 */
export interface PostgresHandle {
  /** Always `'127.0.0.1'`. */
  readonly host: string
  readonly port: number
  /** `postgres://postgres@127.0.0.1:port/postgres` (trust authentication). */
  readonly url: string
  /** The directory of the unix socket (`host` for a socket connection). */
  readonly socketDir: string
  /** The server's own directory (data, log, socket); removed by `stop()`. */
  readonly dir: string
  readonly pid: number | undefined
  readonly alive: boolean
  /** The last `lines` lines of the server's log. */
  logTail(lines?: number): string
  /**
   * Smart shutdown (SIGTERM: sessions may finish), fast shutdown after 2 s (SIGINT), SIGKILL
   * after 8 more; then removes the directory. Idempotent.
   */
  stop(): Promise<void>
}

/**
 * The directory of PostgreSQL's server binaries, or `undefined` when none is installed.
 *
 * @example
 * ```ts
 * describe('needs PostgreSQL', { skip: postgresBinDir() === undefined && 'no PostgreSQL installed' }, () => {})
 * ```
 */
export function postgresBinDir(): string | undefined {
  const fromEnv = process.env.VALKIT_TEST_PG_BIN?.trim()
  if (fromEnv) return fromEnv
  let versions: string[]
  try {
    versions = readdirSync('/usr/lib/postgresql')
  } catch {
    return undefined
  }
  versions.sort((a, b) => Number.parseFloat(b) - Number.parseFloat(a))
  for (const version of versions) {
    const dir = join('/usr/lib/postgresql', version, 'bin')
    try {
      accessSync(join(dir, 'initdb'), constants.X_OK)
      accessSync(join(dir, 'postgres'), constants.X_OK)
      return dir
    } catch {
      // not a server installation
    }
  }
  return undefined
}

function launcherError(message: string, cause?: unknown): ValkitError {
  return new ValkitError(
    'VALKIT_LAUNCHER',
    `postgres launcher: ${message}`,
    cause === undefined ? undefined : { cause },
  )
}

/** PostgreSQL refuses to run as root: as root, run as the `postgres` OS user. */
function runAs(): { uid: number; gid: number } | undefined {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return undefined
  try {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim())
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim())
    return { uid, gid }
  } catch (err) {
    throw launcherError('running as root needs a `postgres` OS user to run the server as (none found)', err)
  }
}

function run(
  binary: string,
  args: string[],
  user: { uid: number; gid: number } | undefined,
): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(binary, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(user ?? {}),
      env: { ...process.env, LC_ALL: 'C' },
    })
    let output = ''
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()))
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()))
    child.once('error', reject)
    child.once('exit', (code) => {
      if (code === 0) resolve(output)
      else reject(launcherError(`${binary} exited with code ${String(code)}:\n${output.slice(-2000)}`))
    })
  })
}

/**
 * Starts a throwaway PostgreSQL for tests: `initdb` into a fresh temporary directory (trust
 * authentication, user `postgres`), then `postgres` on a free port of 127.0.0.1 with its unix
 * socket in that directory, without durability (fsync off). As root it runs as the `postgres`
 * OS user. Resolves once the server accepts connections; `stop()` shuts it down and deletes the
 * directory, and the launcher kills it if the test process ends first.
 *
 * @throws ValkitError `VALKIT_LAUNCHER` when no PostgreSQL is installed or it fails to start
 *   (the message ends with its log).
 *
 * @example
 * ```ts
 * import pg from 'pg'
 * import { startPostgres } from 'valkit/testing'
 *
 * const postgres = await startPostgres()
 * const pool = new pg.Pool({ connectionString: postgres.url })
 * try {
 *   await pool.query('CREATE TABLE t (id int)')
 * } finally {
 *   await pool.end()
 *   await postgres.stop()
 * }
 * ```
 */
export async function startPostgres(options: StartPostgresOptions = {}): Promise<PostgresHandle> {
  const binDir = options.binDir ?? postgresBinDir()
  if (binDir === undefined) {
    throw launcherError(
      'no PostgreSQL server binaries found (set VALKIT_TEST_PG_BIN, or on Debian: apt-get install postgresql)',
    )
  }
  const user = runAs()
  const dir = mkdtempSync(join(tmpdir(), 'valkit-pg-'))
  const server = new PostgresServer(dir, binDir, user, options)
  try {
    if (user !== undefined) chownSync(dir, user.uid, user.gid)
    await run(
      join(binDir, 'initdb'),
      ['-D', join(dir, 'data'), '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--locale=C', '--no-sync'],
      user,
    )
    await server.start(options.readyTimeoutMs ?? 20_000)
    return server
  } catch (err) {
    await server.stop()
    throw err
  }
}

class PostgresServer implements PostgresHandle, RegisteredProcess {
  readonly host = '127.0.0.1'
  port = 0
  #child: ChildProcess | undefined
  #exited: Promise<void> = Promise.resolve()
  #alive = false
  #stopped = false

  constructor(
    readonly dir: string,
    private readonly binDir: string,
    private readonly user: { uid: number; gid: number } | undefined,
    private readonly options: StartPostgresOptions,
  ) {
    register(this)
  }

  get url(): string {
    return `postgres://postgres@${this.host}:${this.port}/postgres`
  }
  get socketDir(): string {
    return this.dir
  }
  get pid(): number | undefined {
    return this.#alive ? this.#child?.pid : undefined
  }
  get alive(): boolean {
    return this.#alive
  }

  logTail(lines = 30): string {
    try {
      return readFileSync(join(this.dir, 'server.log'), 'utf8').split('\n').slice(-lines).join('\n')
    } catch {
      return ''
    }
  }

  /** Starts the server on a free port; another process may take the port first, so a few tries. */
  async start(readyTimeoutMs: number): Promise<void> {
    let last: unknown
    for (let attempt = 0; attempt < 3; attempt++) {
      this.port = await freePort()
      try {
        return await this.launch(readyTimeoutMs)
      } catch (err) {
        last = err
        if (!/could not bind|Address already in use/i.test(this.logTail(10))) break
      }
    }
    throw last
  }

  private async launch(readyTimeoutMs: number): Promise<void> {
    const settings: Record<string, string> = {
      listen_addresses: this.host,
      unix_socket_directories: this.dir,
      fsync: 'off',
      synchronous_commit: 'off',
      full_page_writes: 'off',
      ...this.options.settings,
    }
    const args = ['-D', join(this.dir, 'data'), '-p', String(this.port)]
    for (const [name, value] of Object.entries(settings)) args.push('-c', `${name}=${value}`)
    const log = openSync(join(this.dir, 'server.log'), 'a')
    let child: ChildProcess
    try {
      child = spawn(join(this.binDir, 'postgres'), args, {
        stdio: ['ignore', log, log],
        ...(this.user ?? {}),
        env: { ...process.env, LC_ALL: 'C' },
      })
    } finally {
      closeSync(log)
    }
    this.#child = child
    this.#alive = true
    this.#exited = new Promise<void>((resolve) => {
      child.once('exit', () => {
        this.#alive = false
        resolve()
      })
      child.once('error', () => {
        this.#alive = false
        resolve()
      })
    })
    const deadline = Date.now() + readyTimeoutMs
    // postmaster.pid's 8th line reads "ready" once connections are accepted (PostgreSQL 10+).
    while (!this.isReady()) {
      if (!this.#alive) throw launcherError(`postgres exited during startup:\n${this.logTail()}`)
      if (Date.now() > deadline)
        throw launcherError(`postgres not ready after ${readyTimeoutMs} ms:\n${this.logTail()}`)
      await Promise.race([sleep(25), this.#exited])
    }
  }

  private isReady(): boolean {
    try {
      const lines = readFileSync(join(this.dir, 'data', 'postmaster.pid'), 'utf8').split('\n')
      return lines[7]?.trim() === 'ready'
    } catch {
      return false
    }
  }

  async #exitsWithin(ms: number): Promise<boolean> {
    const timeout = new AbortController()
    try {
      return await Promise.race([
        this.#exited.then(() => true),
        sleep(ms, false, { signal: timeout.signal }).catch(() => false),
      ])
    } finally {
      timeout.abort()
    }
  }

  async stop(): Promise<void> {
    if (this.#stopped) return
    this.#stopped = true
    const child = this.#child
    if (child !== undefined && this.#alive) {
      // Smart shutdown lets sessions that are closing finish (pg-pool's end() resolves before its
      // sockets close); then fast shutdown; then SIGKILL.
      for (const [signal, waitMs] of [
        ['SIGTERM', 2_000],
        ['SIGINT', 8_000],
        ['SIGKILL', 0],
      ] as const) {
        child.kill(signal)
        if (waitMs === 0) await this.#exited
        else if (await this.#exitsWithin(waitMs)) break
      }
    }
    unregister(this)
    rmSync(this.dir, { recursive: true, force: true })
  }
}
