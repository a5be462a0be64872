import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { homedir } from 'node:os'
import { dirname, join } from 'node:path'
import { ValkitError, invalidOption } from '../core/errors.js'

/**
 * The admin token from, in order: the `adminToken` option, `VALKIT_ADMIN_TOKEN`, the contents
 * (trimmed) of the file named by `VALKIT_ADMIN_TOKEN_FILE`. `undefined` when none is set.
 * Throws `VALKIT_INVALID_OPTION` when the token file cannot be read or is empty.
 */
export function resolveAdminToken(explicit: string | undefined, env: NodeJS.ProcessEnv): string | undefined {
  if (explicit !== undefined) return explicit
  const fromEnv = env.VALKIT_ADMIN_TOKEN?.trim()
  if (fromEnv) return fromEnv
  const file = env.VALKIT_ADMIN_TOKEN_FILE?.trim()
  if (!file) return undefined
  let contents: string
  try {
    contents = readFileSync(file, 'utf8').trim()
  } catch (err) {
    throw new ValkitError(
      'VALKIT_INVALID_OPTION',
      `Cannot read VALKIT_ADMIN_TOKEN_FILE (${file}): ${(err as Error).message}`,
      {
        cause: err,
        details: { path: 'VALKIT_ADMIN_TOKEN_FILE' },
      },
    )
  }
  if (!contents)
    throw invalidOption('VALKIT_ADMIN_TOKEN_FILE', `the file ${file} is empty`, 'a file holding the token')
  return contents
}

/**
 * Compares a presented token with the expected one in constant time (both are hashed first,
 * so neither the content nor the length leaks through timing).
 */
export function tokenMatches(expected: string, presented: string): boolean {
  const a = createHash('sha256').update(expected).digest()
  const b = createHash('sha256').update(presented).digest()
  return timingSafeEqual(a, b)
}

/** A fresh random token: 32 bytes, base64url. */
export function generateAdminToken(): string {
  return randomBytes(32).toString('base64url')
}

/** Where `valkit serve` keeps a generated token: `$XDG_STATE_HOME/valkit/admin-token`, else `~/.valkit/admin-token`. */
export function defaultTokenFilePath(env: NodeJS.ProcessEnv = process.env): string {
  const state = env.XDG_STATE_HOME?.trim()
  if (state) return join(state, 'valkit', 'admin-token')
  return join(homedir(), '.valkit', 'admin-token')
}

/**
 * Generates a token and writes it to `path` readable by the owner only (0600; the folder is
 * created 0700). Returns the token; callers print the path, never the token.
 */
export function writeNewTokenFile(path: string): string {
  const token = generateAdminToken()
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 })
  writeFileSync(path, `${token}\n`, { mode: 0o600 })
  chmodSync(path, 0o600)
  return token
}
