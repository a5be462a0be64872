import { ValkitError, type Valkit } from '../core/index.js'
import { resolveRateLimiterOptions, type RateLimiterOptions } from './ratelimit-options.js'
import { ValkitRateLimiter } from './rate-limiter.js'
import type { RateLimiter } from './ratelimit-types.js'

/**
 * Creates a rate limiter on a valkit instance. Its rules (token bucket, GCRA, exact sliding
 * window log, approximate sliding window counter, fixed window, concurrency leases) are checked
 * and charged together, atomically, by one Lua script on the server's clock: one round trip per
 * check whatever the number of rules, and a request refused by one rule consumes nothing from
 * the others. Options are validated once, here (`VALKIT_INVALID_OPTION` naming the path).
 *
 * Without Redis (`topology.kind === 'memory'`) the same algorithms run in process. While
 * Redis/Valkey is down, checks are decided as `whenUnavailable` says (by default an in-process
 * insurance limiter with this instance's share of each limit); a store outage is never
 * reported as `limited`.
 *
 * @example
 * ```ts
 * import { createValkit } from 'valkit'
 * import { createRateLimiter } from 'valkit/ratelimit'
 *
 * const valkit = createValkit({ url: process.env.REDIS_URL })
 * const limiter = createRateLimiter(valkit, {
 *   name: 'agents',
 *   rules: {
 *     user: { algorithm: 'sliding-window-log', limit: 100, window: '1m', by: 'user' },
 *     tenant: { algorithm: 'token-bucket', limit: 2000, window: '1m', burst: 200, by: 'tenant' },
 *     global: { algorithm: 'gcra', limit: 20_000, window: '1m', by: [] },
 *   },
 *   hashTag: 'limiter',
 * })
 * const d = await limiter.check({ user: '42', tenant: 'acme' })
 * if (!d.allowed) console.log(`refused by ${d.rule}, retry in ${d.retryAfterSeconds}s`)
 * ```
 */
export function createRateLimiter(valkit: Valkit, options: RateLimiterOptions): RateLimiter {
  if (typeof valkit !== 'object' || valkit === null || typeof valkit.connection !== 'object') {
    throw new ValkitError(
      'VALKIT_INVALID_ARGUMENT',
      'createRateLimiter(valkit, options) needs a valkit instance (createValkit()).',
    )
  }
  const resolved = resolveRateLimiterOptions(options)
  if (resolved.adaptive?.rules != null) {
    resolved.adaptive.rules.forEach((name, i) => {
      if (!(name in resolved.rules)) {
        throw new ValkitError(
          'VALKIT_INVALID_OPTION',
          `Invalid option \`ratelimit.adaptive.rules[${i}]\`: no rule named ${JSON.stringify(name)}.`,
          {
            details: { path: `ratelimit.adaptive.rules[${i}]` },
          },
        )
      }
    })
  }
  return new ValkitRateLimiter(valkit, resolved)
}
