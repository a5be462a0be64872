import { readFileSync } from 'node:fs'
import { basename } from 'node:path'
import { fileURLToPath } from 'node:url'
import { ValkitError } from '../errors.js'
import { defineScript, type Script } from './script.js'

/**
 * Loads a `.lua` file named `<verb-noun>-<numKeys>.lua` and defines it (see `defineScript`).
 * Reads synchronously, once, typically at module load. Resolve the file relative to the calling
 * module so it works from `src/` (tsx) and from `dist/` (where the build copies `.lua` files).
 *
 * @example
 * ```ts
 * const releaseLock = loadScript(new URL('./release-lock-1.lua', import.meta.url))
 * ```
 */
export function loadScript(file: URL | string, options: { readonly numberOfKeys?: number } = {}): Script {
  const path = file instanceof URL || file.startsWith('file:') ? fileURLToPath(file) : file
  let source: string
  try {
    source = readFileSync(path, 'utf8')
  } catch (err) {
    throw new ValkitError('VALKIT_SCRIPT', `Cannot read script file ${path}.`, {
      cause: err,
      details: { path },
    })
  }
  return defineScript({ name: basename(path), source, numberOfKeys: options.numberOfKeys })
}
