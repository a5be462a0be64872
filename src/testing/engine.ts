import { accessSync, constants } from 'node:fs'
import { delimiter, join } from 'node:path'
import { ValkitError } from '../core/errors.js'

/** The server implementations the launcher can start. */
export type Engine = 'redis' | 'valkey'

/** Every engine the launcher knows, in a stable order. */
export const ENGINES: readonly Engine[] = Object.freeze(['redis', 'valkey'])

/** Whether an executable named `name` is on `PATH`. */
export function isOnPath(name: string): boolean {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue
    try {
      accessSync(join(dir, name), constants.X_OK)
      return true
    } catch {
      // not in this directory
    }
  }
  return false
}

/**
 * The engines integration tests should run against: the comma-separated list in the
 * `VALKIT_TEST_ENGINES` environment variable, or else every engine whose `<engine>-server`
 * binary is on `PATH`.
 *
 * @example
 * ```ts
 * for (const engine of testEngines()) {
 *   describe(engine, () => { ... })
 * }
 * ```
 */
export function testEngines(): Engine[] {
  const raw = process.env.VALKIT_TEST_ENGINES?.trim()
  if (!raw) return ENGINES.filter((engine) => isOnPath(`${engine}-server`))
  const wanted = raw
    .split(',')
    .map((e) => e.trim())
    .filter((e) => e.length > 0)
  for (const e of wanted) {
    if (!(ENGINES as readonly string[]).includes(e)) {
      throw new ValkitError(
        'VALKIT_LAUNCHER',
        `VALKIT_TEST_ENGINES names an unknown engine ${JSON.stringify(e)}; expected a comma list of ${ENGINES.join(', ')}`,
      )
    }
  }
  return [...new Set(wanted)] as Engine[]
}

/** The binary of `engine` for a role, checked to be on `PATH`. */
export function engineBinary(engine: Engine, role: 'server' | 'sentinel' | 'cli'): string {
  const name = `${engine}-${role}`
  if (!isOnPath(name)) {
    throw new ValkitError(
      'VALKIT_LAUNCHER',
      `${name} is not on PATH. Install ${engine} (Debian: apt-get install ${engine === 'redis' ? 'redis-server redis-sentinel redis-tools' : '-t bookworm-backports valkey-server valkey-sentinel valkey-tools'}).`,
    )
  }
  return name
}
