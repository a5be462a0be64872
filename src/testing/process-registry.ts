import { mkdirSync, readFileSync, readdirSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'

/**
 * Where the launcher keeps one directory per server it starts: `$VALKIT_TEST_ROOT`, or
 * `<os.tmpdir()>/valkit-test`. Only directories under this root are ever reaped.
 */
export function launcherRoot(): string {
  return process.env.VALKIT_TEST_ROOT ?? join(tmpdir(), 'valkit-test')
}

/** What the launcher must undo synchronously if the test process ends without `stop()`. */
export interface RegisteredProcess {
  /** The server's pid, or undefined while it is not running. */
  readonly pid: number | undefined
  readonly dir: string
}

interface OwnerFile {
  readonly ownerPid: number
  readonly serverPid?: number
  readonly binary?: string
}

const OWNER_FILE = 'owner.json'
const registry = new Set<RegisteredProcess>()
let hooksInstalled = false
let reaped = false

/** Whether `pid` is a live process (a zombie counts as dead; PID 1 may reap it late). */
export function isProcessAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3)
    return state !== 'Z' && state !== 'X' && state !== 'x'
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' && process.platform === 'linux') return false
  }
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** The one-letter process state from `/proc` (`R`, `S`, `T` stopped, `Z`...), undefined if unknown. */
export function processState(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3)
  } catch {
    return undefined
  }
}

/** Whether `pid` is a redis/valkey process running in `dir` (so a reused pid is never killed). */
function isOurServer(pid: number, dir: string): boolean {
  try {
    const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8')
    return /redis|valkey/.test(cmd) && realpathSync(`/proc/${pid}/cwd`) === realpathSync(dir)
  } catch {
    return false
  }
}

/**
 * Kills servers left behind by test processes that died without cleaning up (their owner
 * file names a dead pid) and removes their directories. Runs once per process, before the
 * first server starts; touches nothing outside {@link launcherRoot}.
 */
export function reapOrphans(): void {
  if (reaped) return
  reaped = true
  const root = launcherRoot()
  let names: string[]
  try {
    names = readdirSync(root)
  } catch {
    return
  }
  for (const name of names) {
    const dir = join(root, name)
    let owner: OwnerFile | undefined
    try {
      owner = JSON.parse(readFileSync(join(dir, OWNER_FILE), 'utf8')) as OwnerFile
    } catch {
      owner = undefined
    }
    try {
      if (!owner) {
        // A directory being created right now has no owner file yet: only reap old ones.
        if (Date.now() - statSync(dir).mtimeMs > 3_600_000) rmSync(dir, { recursive: true, force: true })
        continue
      }
      if (owner.ownerPid === process.pid || isProcessAlive(owner.ownerPid)) continue
      const serverPid = owner.serverPid
      if (serverPid !== undefined && isProcessAlive(serverPid)) {
        if (isOurServer(serverPid, dir)) process.kill(serverPid, 'SIGKILL')
      }
      rmSync(dir, { recursive: true, force: true })
    } catch {
      // best effort: another launcher may be reaping the same directory
    }
  }
}

/** Creates a fresh server directory under the root, with an owner file naming this process. */
export function createServerDir(label: string): string {
  reapOrphans()
  const dir = join(launcherRoot(), `${label}-${process.pid}-${randomBytes(4).toString('hex')}`)
  mkdirSync(dir, { recursive: true })
  writeOwner(dir, {})
  return dir
}

/** Records the running server's pid in its directory's owner file. */
export function writeOwner(dir: string, server: { serverPid?: number; binary?: string }): void {
  const owner: OwnerFile = { ownerPid: process.pid, ...server }
  writeFileSync(join(dir, OWNER_FILE), JSON.stringify(owner))
}

/** Adds a process to the registry that is torn down on exit, SIGINT and SIGTERM. */
export function register(entry: RegisteredProcess): void {
  installHooks()
  registry.add(entry)
}

/** Removes a process from the registry (after a clean stop). */
export function unregister(entry: RegisteredProcess): void {
  registry.delete(entry)
}

function killAllSync(): void {
  for (const entry of registry) {
    const pid = entry.pid
    if (pid !== undefined) {
      try {
        process.kill(pid, 'SIGKILL')
      } catch {
        // already gone
      }
    }
    try {
      rmSync(entry.dir, { recursive: true, force: true })
    } catch {
      // best effort
    }
  }
  registry.clear()
}

function installHooks(): void {
  if (hooksInstalled) return
  hooksInstalled = true
  process.on('exit', killAllSync)
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = (): void => {
      killAllSync()
      process.removeListener(signal, onSignal)
      // Keep the signal's usual effect when nobody else handles it.
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal)
    }
    process.on(signal, onSignal)
  }
}

/**
 * Creates a directory under the root that belongs to a topology rather than to one server
 * (shared TLS certificates); it is removed on exit like a server's. Returns its path and a
 * function that removes it.
 */
export function createSharedDir(label: string): { readonly dir: string; remove(): void } {
  const dir = createServerDir(label)
  const entry: RegisteredProcess = { pid: undefined, dir }
  register(entry)
  return {
    dir,
    remove() {
      unregister(entry)
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
