import type { CommandOptions, RedisArg, RedisReply } from '../driver/port.js'
import { ValkitError } from '../errors.js'
import type { Script } from './script.js'

/** Anything that sends one command: a `DriverPort`, a master of a Cluster, a test client wrapper. */
export interface ScriptTarget {
  command(args: readonly RedisArg[], options?: CommandOptions): Promise<RedisReply>
}

/** Options of {@link runScript}. */
export interface RunScriptOptions {
  /** Return bulk strings as `Buffer`. @defaultValue `false` */
  readonly buffers?: boolean
}

/** `numkeys` as text for the usual key counts. */
const KEY_COUNTS: readonly string[] = Array.from({ length: 32 }, (_, i) => String(i))

/** Messages of this error and its causes (a connection layer may wrap the driver's error). */
function messages(err: unknown): string[] {
  const out: string[] = []
  for (let e = err, depth = 0; e instanceof Error && depth < 4; e = e.cause, depth++) out.push(e.message)
  return out
}

function isNoScript(err: unknown): boolean {
  return messages(err).some((m) => m.startsWith('NOSCRIPT'))
}

/**
 * Errors about the transport (unavailable, timeout, closed, read-only master...) already classified
 * as a `ValkitError` pass through unchanged; an error reply becomes `VALKIT_SCRIPT`.
 */
export function scriptError(script: Script, err: unknown): unknown {
  if (err instanceof ValkitError && err.code !== 'VALKIT_COMMAND') return err
  const message = messages(err).at(-1) ?? String(err)
  return new ValkitError('VALKIT_SCRIPT', `Script "${script.name}" failed: ${message}`, {
    cause: err,
    details: { script: script.name, sha: script.sha },
  })
}

/**
 * Runs a script in one round trip: `EVALSHA sha numkeys ...keys ...args`, routed by the first key;
 * when the server answers `NOSCRIPT` (fresh server, restart, failover, `SCRIPT FLUSH`), sends
 * `EVAL` with the source once, which also caches it for the next `EVALSHA`.
 *
 * Convention: scripts return negative integers for domain outcomes (not held, limited, missing)
 * and these come back as the reply; an error raised by the script (a bug or bad input) rejects
 * with `VALKIT_SCRIPT` naming the script, the server's error as `cause`. Transport errors
 * classified by the connection layer (`VALKIT_UNAVAILABLE`, `VALKIT_TIMEOUT`, ...) pass through.
 *
 * Throws `VALKIT_INVALID_ARGUMENT` when `keys.length` differs from `script.numberOfKeys`.
 *
 * @example
 * ```ts
 * const reply = await runScript(connection, releaseLock, [ks.key('lock', 'orders')], [token])
 * if (reply === -1) return { released: false }
 * ```
 */
export async function runScript(
  target: ScriptTarget,
  script: Script,
  keys: readonly RedisArg[],
  args: readonly RedisArg[] = [],
  options?: RunScriptOptions,
): Promise<RedisReply> {
  const numberOfKeys = script.numberOfKeys
  if (keys.length !== numberOfKeys) {
    throw new ValkitError(
      'VALKIT_INVALID_ARGUMENT',
      `Script "${script.name}" takes ${numberOfKeys} keys, got ${keys.length}.`,
      { details: { script: script.name } },
    )
  }
  // Numbers become strings here, in the one copy made anyway, so the driver need not copy again.
  const command: RedisArg[] = new Array<RedisArg>(3 + numberOfKeys + args.length)
  command[0] = 'EVALSHA'
  command[1] = script.sha
  command[2] = KEY_COUNTS[numberOfKeys] ?? String(numberOfKeys)
  for (let i = 0; i < numberOfKeys; i++) {
    const key = keys[i]!
    command[3 + i] = typeof key === 'number' ? String(key) : key
  }
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!
    command[3 + numberOfKeys + i] = typeof arg === 'number' ? String(arg) : arg
  }
  const commandOptions: CommandOptions | undefined =
    numberOfKeys === 0 && options?.buffers !== true ? undefined : { key: keys[0], buffers: options?.buffers }
  try {
    return await target.command(command, commandOptions)
  } catch (err) {
    if (!isNoScript(err)) throw scriptError(script, err)
  }
  command[0] = 'EVAL'
  command[1] = script.source
  try {
    return await target.command(command, commandOptions)
  } catch (err) {
    throw scriptError(script, err)
  }
}
