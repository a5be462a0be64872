import { ValkitError } from '../errors.js'

/** What a script's header comment documents. */
export interface ScriptHeader {
  /** The text before the first `KEYS[n]` / `ARGV[n]` / `Returns`. */
  readonly description: string
  /** `keys[0]` documents `KEYS[1]`, and so on. */
  readonly keys: readonly string[]
  /** `args[0]` documents `ARGV[1]`, and so on. */
  readonly args: readonly string[]
  /** The text after `Returns`. */
  readonly returns: string
}

const MARKER = /\b(KEYS|ARGV)\[(\d+)\]|\bReturns\b:?/g

function malformed(name: string, problem: string): ValkitError {
  return new ValkitError('VALKIT_SCRIPT', `Script "${name}" is malformed: ${problem}.`, {
    details: { script: name },
  })
}

/**
 * Parses the header every valkit script opens with (after an optional `#!lua` shebang line):
 *
 * ```lua
 * --[[ Release a lock if this owner holds it.
 *   KEYS[1] lock key      ARGV[1] owner token
 *   Returns 1 released | -1 not held | -2 held by another owner ]]
 * ```
 *
 * Throws `VALKIT_SCRIPT` when the header is missing, has no description or no `Returns`, or skips
 * a `KEYS`/`ARGV` index.
 */
export function parseScriptHeader(source: string, name = 'script'): ScriptHeader {
  const body = source.startsWith('#!') ? source.slice(source.indexOf('\n') + 1) : source
  const trimmed = body.trimStart()
  const end = trimmed.indexOf(']]')
  if (!trimmed.startsWith('--[[') || end === -1) {
    throw malformed(
      name,
      'it must open with a header comment `--[[ description  KEYS[1] ...  ARGV[1] ...  Returns ... ]]`',
    )
  }
  const text = trimmed.slice(4, end)
  const keys: string[] = []
  const args: string[] = []
  let returns: string | undefined
  let description: string | undefined
  let previous: { kind: 'KEYS' | 'ARGV' | 'Returns'; index: number; from: number } | undefined
  const close = (until: number) => {
    const chunk = text
      .slice(previous?.from ?? 0, until)
      .replace(/\s+/g, ' ')
      .trim()
    if (previous === undefined) description = chunk
    else if (previous.kind === 'Returns') returns = chunk
    else {
      const list = previous.kind === 'KEYS' ? keys : args
      if (previous.index !== list.length + 1) {
        throw malformed(
          name,
          `the header documents ${previous.kind}[${previous.index}] after ${previous.kind}[${list.length}]`,
        )
      }
      list.push(chunk)
    }
  }
  for (const match of text.matchAll(MARKER)) {
    close(match.index)
    const kind = match[1] === undefined ? 'Returns' : (match[1] as 'KEYS' | 'ARGV')
    previous = { kind, index: Number(match[2] ?? 0), from: match.index + match[0].length }
  }
  close(text.length)
  if (!description) throw malformed(name, 'the header has no description')
  if (returns === undefined || returns === '') throw malformed(name, 'the header does not document `Returns`')
  return { description, keys, args, returns }
}
