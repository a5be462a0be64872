import { invalidOption } from '../errors.js'
import type { ResolvedValkitConfig } from './resolved-config.js'
import { checkKeys, describeValue } from './validate.js'

/**
 * Validates the `driver` option: `'node-redis'` (the default) or `{ ioredis: client }`.
 * @internal
 */
export function resolveDriver(value: unknown): ResolvedValkitConfig['driver'] {
  if (value === undefined || value === 'node-redis') return { kind: 'node-redis' }
  const expected =
    "'node-redis' or { ioredis: client } with a client made by `new Redis()` or `new Redis.Cluster()`"
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalidOption('driver', `got ${describeValue(value)}`, expected)
  }
  checkKeys(value as Record<string, unknown>, ['ioredis'], 'driver')
  const client = (value as { ioredis?: unknown }).ioredis
  if (
    typeof client !== 'object' ||
    client === null ||
    typeof (client as { sendCommand?: unknown }).sendCommand !== 'function'
  ) {
    throw invalidOption(
      'driver.ioredis',
      `got ${describeValue(client)}, which is not an ioredis client`,
      expected,
    )
  }
  return { kind: 'ioredis', client }
}
