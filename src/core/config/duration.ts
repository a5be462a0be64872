import { invalidOption } from '../errors.js'

/**
 * A length of time: a number of milliseconds, or a string with a unit: `'500ms'`, `'2s'`,
 * `'1.5m'`, `'1h'`. A string of digits alone (as environment variables give) is milliseconds.
 */
export type Duration = number | string

/** The longest duration valkit accepts: the largest delay `setTimeout` honours (~24.8 days). */
export const MAX_DURATION_MS = 2_147_483_647

const UNIT_MS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }
const PATTERN = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/
const EXPECTED = "a non-negative number of milliseconds or a string such as '500ms', '2s', '1m' or '1h'"

/**
 * Turns a {@link Duration} into whole milliseconds (rounded to the nearest), or throws
 * `VALKIT_INVALID_OPTION` naming `path`.
 *
 * @example
 * ```ts
 * parseDuration('2s', 'connectTimeout') // 2000
 * parseDuration(250, 'health.interval') // 250
 * parseDuration('soon', 'commandTimeout') // throws: Invalid option `commandTimeout`: got the string "soon"...
 * ```
 */
export function parseDuration(value: unknown, path: string): number {
  let ms: number
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || value < 0) {
      throw invalidOption(path, `got ${String(value)}`, EXPECTED)
    }
    ms = value
  } else if (typeof value === 'string') {
    const match = PATTERN.exec(value)
    if (match === null) {
      throw invalidOption(path, `got the string ${JSON.stringify(value.slice(0, 40))}`, EXPECTED)
    }
    ms = Number(match[1]) * (UNIT_MS[match[2] ?? 'ms'] ?? 1)
  } else {
    throw invalidOption(path, `got ${value === null ? 'null' : `a value of type ${typeof value}`}`, EXPECTED)
  }
  const rounded = Math.round(ms)
  if (rounded > MAX_DURATION_MS) {
    throw invalidOption(
      path,
      `${rounded} ms is longer than timers support`,
      `at most ${MAX_DURATION_MS} ms (~24.8 days)`,
    )
  }
  return rounded
}
