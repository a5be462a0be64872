import type { Valkit } from '../../core/index.js'
import { AgentContextImpl } from './agent-context.js'
import { resolveAgentContextOptions, type AgentContextOptions } from './agent-context-options.js'
import type { AgentContext } from './agent-context-types.js'

/**
 * Creates a store of versioned agent/conversation context on a valkit instance: values and
 * bounded lists per scope, versions assigned atomically by Redis/Valkey (one Lua script per
 * change), compare-and-set, read-your-writes for the writer, an in-process copy kept coherent by
 * invalidation messages. Options are validated here (`VALKIT_INVALID_OPTION` naming the path).
 *
 * While Redis/Valkey is unreachable, reads are served from the in-process copy when it satisfies
 * them and every change fails with `VALKIT_UNAVAILABLE`: a version cannot be assigned, and
 * versions assigned locally could collide with other instances' and defeat compare-and-set. On
 * the memory topology (no Redis configured) the store lives in this process.
 *
 * @example
 * ```ts
 * import { createValkit } from 'valkit'
 * import { createAgentContext } from 'valkit/cache'
 *
 * const valkit = createValkit({ url: process.env.REDIS_URL })
 * const ctx = createAgentContext(valkit, { ttl: '24h', lists: { maxItems: 50 } })
 * await ctx.ready()
 *
 * const conv = ctx.scope(`conv:${conversationId}`)
 * const { version } = await conv.append('turns', { role: 'user', content: message })
 * await queue.add('answer', { conversationId, minVersion: version }) // the worker reads at least this version:
 * const turns = await ctx.scope(`conv:${job.conversationId}`).read<Turn[]>('turns', { minVersion: job.minVersion })
 * ```
 */
export function createAgentContext(valkit: Valkit, options: AgentContextOptions = {}): AgentContext {
  return new AgentContextImpl(valkit, resolveAgentContextOptions(options))
}
