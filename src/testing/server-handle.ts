import type { Engine } from './engine.js'
import type { RespReply } from './resp-client.js'
import type { TlsMaterial } from './tls-certificates.js'

/** How a server process ended. */
export interface ExitInfo {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
}

/** TLS material of a TLS server: the CA and a client certificate, as PEM text and as files. */
export type ServerTls = Pick<TlsMaterial, 'ca' | 'cert' | 'key' | 'caFile' | 'certFile' | 'keyFile'>

/**
 * A running `redis-server` / `valkey-server` (or sentinel) started by the launcher. Only
 * this handle (or the process exiting) stops it.
 */
export interface ServerHandle {
  readonly engine: Engine
  /** `'server'` for a data node, `'sentinel'` for a Sentinel. */
  readonly role: 'server' | 'sentinel'
  /** Always `'127.0.0.1'`. */
  readonly host: string
  /** The port (the TLS port for a TLS server). Stays the same across `restart()`. */
  readonly port: number
  /** `redis://127.0.0.1:port` or `rediss://...`, without credentials (see `urlFor`). */
  readonly url: string
  /** The current process id (changes on `restart()`), undefined while not running. */
  readonly pid: number | undefined
  /** The server's own directory (data, logs, config); removed by `stop()`. */
  readonly dir: string
  /** The CA and a client certificate when the server was started with `tls`. */
  readonly tls: ServerTls | undefined
  /** False once the process has exited (after `kill()`, a crash or `stop()`). */
  readonly alive: boolean
  /** True between `pause()` and `resume()`. */
  readonly paused: boolean
  /** Resolves when the current process exits. */
  readonly exited: Promise<ExitInfo>
  /**
   * A URL carrying credentials: of `username`'s ACL user, or of `default` with the server's
   * `password`. Throws if the launcher does not know that user.
   */
  urlFor(username?: string): string
  /** Sends `signal` and waits until the process has exited. @defaultValue signal `'SIGKILL'` */
  kill(signal?: NodeJS.Signals): Promise<ExitInfo>
  /** SIGSTOP: the process stays alive but answers nothing (connections hang) until `resume()`. */
  pause(): Promise<void>
  /** SIGCONT after `pause()`. */
  resume(): Promise<void>
  /**
   * Stops the process if it runs (after `SAVE`, so data survives even without persistence),
   * then starts it again on the same port with the same directory, and waits until it answers.
   */
  restart(): Promise<void>
  /** Kills the process (if any) and removes its directory. Idempotent. */
  stop(): Promise<void>
  /** `CLIENT PAUSE ms mode` from the launcher's own connection: clients block, the process stays up. */
  clientPause(ms: number, mode?: 'ALL' | 'WRITE'): Promise<void>
  /** Runs one command on the launcher's own (admin) connection, for a test's setup and checks. */
  command(...args: ReadonlyArray<string | number | Buffer>): Promise<RespReply>
  /** `INFO [section]` parsed into `field -> value`. */
  info(section?: string): Promise<Record<string, string>>
  /** The last `lines` lines of the server's log (and its stderr), for diagnostics. */
  logTail(lines?: number): string
}
