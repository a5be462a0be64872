/**
 * What the `queue` benchmark reads from the server: CPU time, command counts, memory (a
 * dedicated node-redis connection, quiet while a library is measured), and the commands each
 * client sends (`MONITOR` on a raw socket).
 */
import { connect, type Socket } from 'node:net'
import { createClient } from '@redis/client'
import { asText, parseInfo } from '../lib/server.js'

/** Calls per command name from `INFO commandstats` (subcommands such as `client|info` kept apart). */
export type CommandCalls = ReadonlyMap<string, number>

/** The server as the benchmark sees it between measurements. */
export interface ServerProbe {
  /** `ip:port` of the probe's own connection, as `CLIENT LIST` and `MONITOR` show it. */
  readonly address: string
  /** Seconds of CPU the server has used (`used_cpu_user` + `used_cpu_sys`). */
  cpuSeconds(): Promise<number>
  /** `INFO commandstats`, per command. */
  commandCalls(): Promise<CommandCalls>
  /** `used_memory` in bytes. */
  usedMemory(): Promise<number>
  /** Every key's `MEMORY USAGE … SAMPLES 0`, summed, and the part held by streams. */
  keyMemory(): Promise<{ readonly keys: number; readonly bytes: number; readonly streamBytes: number }>
  /** `FLUSHALL SYNC`: every measurement starts on an empty server. */
  flush(): Promise<void>
  /** `ECHO text` (a marker for {@link CommandMonitor.sync}). */
  echo(text: string): Promise<void>
  close(): Promise<void>
}

/** Opens the probe's connection. */
export async function openServerProbe(url: string): Promise<ServerProbe> {
  const client = createClient({ url })
  client.on('error', () => {})
  await client.connect()
  const send = async (args: string[]): Promise<unknown> => client.sendCommand(args)
  const info = async (section: string): Promise<Map<string, string>> =>
    parseInfo(asText(await send(['INFO', section])))
  const own = asText(await send(['CLIENT', 'INFO']))
  const address = /\baddr=(\S+)/.exec(own)?.[1] ?? ''
  return {
    address,
    async cpuSeconds() {
      const fields = await info('cpu')
      return Number(fields.get('used_cpu_user') ?? 0) + Number(fields.get('used_cpu_sys') ?? 0)
    },
    async commandCalls() {
      const calls = new Map<string, number>()
      for (const [field, value] of await info('commandstats')) {
        const calls_ = /(?:^|,)calls=(\d+)/.exec(value)
        if (field.startsWith('cmdstat_') && calls_) calls.set(field.slice(8), Number(calls_[1]))
      }
      return calls
    },
    async usedMemory() {
      return Number((await info('memory')).get('used_memory') ?? 0)
    },
    async keyMemory() {
      let cursor = '0'
      let keys = 0
      let bytes = 0
      let streamBytes = 0
      do {
        const [next, batch] = (await send(['SCAN', cursor, 'COUNT', '1000'])) as [unknown, unknown[]]
        cursor = asText(next)
        for (const raw of batch) {
          const key = asText(raw)
          const size = Number(await send(['MEMORY', 'USAGE', key, 'SAMPLES', '0']))
          keys++
          bytes += size
          if (asText(await send(['TYPE', key])) === 'stream') streamBytes += size
        }
      } while (cursor !== '0')
      return { keys, bytes, streamBytes }
    },
    async flush() {
      await send(['FLUSHALL', 'SYNC'])
    },
    async echo(text) {
      await send(['ECHO', text])
    },
    async close() {
      client.destroy()
    },
  }
}

/** The calls of `after` minus `before`, summed; `scripts`: EVAL/EVALSHA/FCALL alone. */
export function callsBetween(
  before: CommandCalls,
  after: CommandCalls,
): { readonly total: number; readonly scripts: number; readonly byCommand: ReadonlyMap<string, number> } {
  let total = 0
  let scripts = 0
  const byCommand = new Map<string, number>()
  for (const [name, calls] of after) {
    const delta = calls - (before.get(name) ?? 0)
    if (delta <= 0) continue
    byCommand.set(name, delta)
    total += delta
    if (/^(eval|evalsha|eval_ro|evalsha_ro|fcall|fcall_ro)$/.test(name)) scripts += delta
  }
  return { total, scripts, byCommand }
}

/** What {@link CommandMonitor} counted since it was opened (or last reset). */
export interface MonitorCounts {
  /** Commands sent by clients (not the probe), each command of a MULTI/EXEC block included. */
  readonly commands: number
  /** The same with a MULTI…EXEC block counted once: the requests a client waited for. */
  readonly roundTrips: number
  /** Commands run by scripts (`[0 lua]`): not round trips, but server work. */
  readonly scriptCommands: number
  /** Client commands by name (lower case). */
  readonly byCommand: ReadonlyMap<string, number>
}

/**
 * `MONITOR` on its own socket: every command the server runs, with the client that sent it
 * (or `lua` for a script's calls). Counts the commands of every client except `exclude`
 * (the probe). `MONITOR` costs the server CPU: only scenarios that count commands use it.
 */
export class CommandMonitor {
  readonly #socket: Socket
  readonly #exclude: ReadonlySet<string>
  #buffer = ''
  #commands = 0
  #roundTrips = 0
  #scriptCommands = 0
  #byCommand = new Map<string, number>()
  readonly #inMulti = new Set<string>()
  #markers = new Map<string, () => void>()

  private constructor(socket: Socket, exclude: readonly string[]) {
    this.#socket = socket
    this.#exclude = new Set(exclude)
  }

  /** Connects and starts monitoring; resolves once the server has said `+OK`. */
  static async open(host: string, port: number, exclude: readonly string[]): Promise<CommandMonitor> {
    const socket = connect({ host, port })
    const monitor = new CommandMonitor(socket, exclude)
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject)
      socket.once('connect', () => {
        socket.off('error', reject)
        socket.on('error', () => {})
        resolve()
      })
    })
    await new Promise<void>((resolve, reject) => {
      let head = ''
      const onData = (chunk: Buffer): void => {
        head += chunk.toString('utf8')
        const end = head.indexOf('\r\n')
        if (end < 0) return
        socket.off('data', onData)
        if (!head.startsWith('+OK')) reject(new Error(`MONITOR refused: ${head.slice(0, end)}`))
        else {
          monitor.#feed(head.slice(end + 2))
          socket.on('data', (c: Buffer) => monitor.#feed(c.toString('utf8')))
          resolve()
        }
      }
      socket.on('data', onData)
      socket.write('MONITOR\r\n')
    })
    return monitor
  }

  #feed(text: string): void {
    this.#buffer += text
    let start = 0
    for (let end = this.#buffer.indexOf('\r\n'); end >= 0; end = this.#buffer.indexOf('\r\n', start)) {
      this.#line(this.#buffer.slice(start, end))
      start = end + 2
    }
    this.#buffer = this.#buffer.slice(start)
  }

  // +1796162449.260463 [0 127.0.0.1:36918] "eval" "…" "0"
  #line(line: string): void {
    const open = line.indexOf('[')
    const close = line.indexOf(']', open)
    if (!line.startsWith('+') || open < 0 || close < 0) return
    const source = line.slice(line.indexOf(' ', open) + 1, close)
    const rest = line.slice(close + 2)
    const name = /^"([^"]*)"/.exec(rest)?.[1]?.toLowerCase() ?? ''
    if (source === 'lua') {
      this.#scriptCommands++
      return
    }
    if (this.#exclude.has(source)) {
      if (name === 'echo') {
        const marker = /^"echo" "([^"]*)"/i.exec(rest)?.[1]
        const done = marker === undefined ? undefined : this.#markers.get(marker)
        if (done) {
          this.#markers.delete(marker!)
          done()
        }
      }
      return
    }
    this.#commands++
    this.#byCommand.set(name, (this.#byCommand.get(name) ?? 0) + 1)
    if (name === 'multi') {
      this.#inMulti.add(source)
      this.#roundTrips++
    } else if (name === 'exec' || name === 'discard') this.#inMulti.delete(source)
    else if (!this.#inMulti.has(source)) this.#roundTrips++
  }

  /** Resolves once every command the server ran before `probe.echo(marker)` has been counted. */
  async sync(probe: ServerProbe): Promise<void> {
    const marker = `bench-sync-${Math.random().toString(36).slice(2)}`
    const seen = new Promise<void>((resolve) => this.#markers.set(marker, resolve))
    await probe.echo(marker)
    let timer: NodeJS.Timeout | undefined
    await Promise.race([
      seen,
      new Promise<void>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error('MONITOR did not show the sync marker within 30 s')),
          30_000,
        )
      }),
    ]).finally(() => clearTimeout(timer))
  }

  counts(): MonitorCounts {
    return {
      commands: this.#commands,
      roundTrips: this.#roundTrips,
      scriptCommands: this.#scriptCommands,
      byCommand: new Map(this.#byCommand),
    }
  }

  reset(): void {
    this.#commands = this.#roundTrips = this.#scriptCommands = 0
    this.#byCommand = new Map()
  }

  close(): void {
    this.#socket.destroy()
  }
}
