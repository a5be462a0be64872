import { invalidOption } from '../errors.js'
import type { ConfigLogger } from './valkit-options.js'
import { describeValue } from './validate.js'

const LOGGER_METHODS = ['debug', 'info', 'warn', 'error'] as const

/**
 * Validates the `logger` option: `undefined` (the default logger), `false`, or a logger object.
 * @internal
 */
export function resolveLogger(value: unknown): ConfigLogger | false | undefined {
  if (value === undefined || value === false) return value
  if (typeof value !== 'object' || value === null) {
    throw invalidOption(
      'logger',
      `got ${describeValue(value)}`,
      'false or an object with debug, info, warn and error functions',
    )
  }
  for (const method of LOGGER_METHODS) {
    if (typeof (value as Record<string, unknown>)[method] !== 'function') {
      throw invalidOption(
        `logger.${method}`,
        'is not a function',
        'a logger with debug, info, warn and error functions',
      )
    }
  }
  return value as ConfigLogger
}
