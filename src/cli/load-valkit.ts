import type { ValkitOptions } from '../core/config/index.js'
import { createValkit, type Valkit } from '../index.js'

/**
 * Creates the valkit instance a command works with. Throws `VALKIT_INVALID_OPTION` for a bad
 * URL or option (the CLI turns it into a usage error, exit 2).
 */
export function loadValkit(options: ValkitOptions): Valkit {
  return createValkit(options)
}
