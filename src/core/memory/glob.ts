/**
 * Compiles a Redis-style glob (`KEYS` / `SCAN MATCH` syntax) into a matcher.
 *
 * Supported: `*` (any run), `?` (one character), `[abc]`, `[a-z]`, `[^a]` or `[!a]` (negated class)
 * and `\x` (a literal `x`). An unterminated `[` is a literal `[`.
 *
 * @example
 * ```ts
 * const match = compileGlob('session:*:meta')
 * match('session:42:meta') // true
 * ```
 */
export function compileGlob(pattern: string): (key: string) => boolean {
  if (pattern === '*') return () => true
  if (!/[*?[\\]/.test(pattern)) return (key) => key === pattern
  const regexp = new RegExp(`^${globToRegExpSource(pattern)}$`, 's')
  return (key) => regexp.test(key)
}

const REGEXP_SPECIAL = /[\\^$.*+?()[\]{}|/-]/

function escapeChar(char: string): string {
  return REGEXP_SPECIAL.test(char) ? `\\${char}` : char
}

function globToRegExpSource(pattern: string): string {
  let out = ''
  for (let i = 0; i < pattern.length; i++) {
    const char = pattern[i] as string
    if (char === '*') {
      out += '.*'
    } else if (char === '?') {
      out += '.'
    } else if (char === '\\' && i + 1 < pattern.length) {
      out += escapeChar(pattern[++i] as string)
    } else if (char === '[') {
      const close = findClassEnd(pattern, i + 1)
      if (close === -1) {
        out += '\\['
        continue
      }
      let j = i + 1
      let cls = ''
      if (pattern[j] === '^' || pattern[j] === '!') {
        cls += '^'
        j++
      }
      for (; j < close; j++) {
        const c = pattern[j] as string
        if (c === '\\' && j + 1 < close) cls += escapeChar(pattern[++j] as string)
        else if (c === '-' && j > i + 1 && j + 1 < close) cls += '-'
        else cls += escapeChar(c)
      }
      out += cls === '' || cls === '^' ? (cls === '' ? '(?!)' : '.') : `[${cls}]`
      i = close
    } else {
      out += escapeChar(char)
    }
  }
  return out
}

function findClassEnd(pattern: string, from: number): number {
  for (let j = from; j < pattern.length; j++) {
    if (pattern[j] === '\\') j++
    else if (pattern[j] === ']') return j
  }
  return -1
}
