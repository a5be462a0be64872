import { createHash } from 'node:crypto'
import { ValkitError } from '../errors.js'
import { parseScriptHeader, type ScriptHeader } from './script-header.js'

/** A Lua script ready to run: its SHA1 is computed once, up front. */
export interface Script {
  /** Name used in errors and telemetry, e.g. `release-lock`. */
  readonly name: string
  /** SHA1 (hex) of `source`, as EVALSHA and SCRIPT LOAD use it. */
  readonly sha: string
  readonly source: string
  /** How many leading arguments of a call are keys (all sharing one hash tag). */
  readonly numberOfKeys: number
  /** The parsed header comment. */
  readonly header: ScriptHeader
}

/** Options of {@link defineScript}. */
export interface DefineScriptOptions {
  /** The script's name: `<verb-noun>`, or a file name `<verb-noun>-<numKeys>.lua`. */
  readonly name: string
  readonly source: string
  /** Number of KEYS. Omitted: parsed from a name ending in `-<numKeys>` or `-<numKeys>.lua`. */
  readonly numberOfKeys?: number
}

const NAME_PATTERN = /^([A-Za-z0-9_]+(?:-[A-Za-z0-9_]+)*?)(?:-(\d+))?(?:\.lua)?$/
const KEYS_USE = /\bKEYS\[(\d+)\]/g

/**
 * Defines a script from its source. Validates the header (`parseScriptHeader`), that it documents
 * exactly `numberOfKeys` keys and that the body reads no `KEYS[n]` beyond them; throws `VALKIT_SCRIPT` otherwise.
 *
 * Convention: scripts return negative integers for domain outcomes (`-1` not held, `-2` held by
 * another owner) and raise errors only for bugs; `runScript` turns raised errors into `VALKIT_SCRIPT`.
 *
 * @example
 * ```ts
 * const release = defineScript({
 *   name: 'release-lock-1.lua',
 *   source: `--[[ Release a lock if this owner holds it.
 *     KEYS[1] lock key   ARGV[1] owner token
 *     Returns 1 released | -1 not held ]]
 *   if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
 *   return -1`,
 * })
 * ```
 */
export function defineScript(options: DefineScriptOptions): Script {
  const { source } = options
  const match = typeof options.name === 'string' ? NAME_PATTERN.exec(options.name) : null
  if (match === null) {
    throw new ValkitError(
      'VALKIT_SCRIPT',
      `Invalid script name ${JSON.stringify(options.name)}: expected <verb-noun>-<numKeys>.lua.`,
    )
  }
  const name = match[1]!
  if (typeof source !== 'string' || source.length === 0) {
    throw new ValkitError('VALKIT_SCRIPT', `Script "${name}" has no source.`, { details: { script: name } })
  }
  const numberOfKeys = options.numberOfKeys ?? (match[2] === undefined ? undefined : Number(match[2]))
  if (numberOfKeys === undefined || !Number.isSafeInteger(numberOfKeys) || numberOfKeys < 0) {
    throw new ValkitError(
      'VALKIT_SCRIPT',
      `Script "${name}" needs numberOfKeys, or a name ending in -<numKeys> (like ${name}-1.lua).`,
      { details: { script: name } },
    )
  }
  const header = parseScriptHeader(source, name)
  if (header.keys.length !== numberOfKeys) {
    throw new ValkitError(
      'VALKIT_SCRIPT',
      `Script "${name}" is malformed: it takes ${numberOfKeys} keys but its header documents ${header.keys.length}.`,
      { details: { script: name } },
    )
  }
  for (const use of source.matchAll(KEYS_USE)) {
    if (Number(use[1]) > numberOfKeys) {
      throw new ValkitError(
        'VALKIT_SCRIPT',
        `Script "${name}" reads ${use[0]} but takes ${numberOfKeys} keys.`,
        {
          details: { script: name },
        },
      )
    }
  }
  const sha = createHash('sha1').update(source, 'utf8').digest('hex')
  return Object.freeze({ name, sha, source, numberOfKeys, header })
}
