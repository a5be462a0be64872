/**
 * Versioned agent and conversation context: values and bounded lists per scope, versions from
 * Redis/Valkey, compare-and-set, read-your-writes, cross-instance invalidation.
 *
 * @packageDocumentation
 */
export { createAgentContext } from './create-agent-context.js'
export {
  AGENT_CONTEXT_DEFAULTS,
  AGENT_CONTEXT_MAX_LIST_ITEMS,
  resolveAgentContextOptions,
  type AgentContextL1Options,
  type AgentContextListOptions,
  type AgentContextOptions,
  type ResolvedAgentContextOptions,
} from './agent-context-options.js'
export type {
  AgentContext,
  AgentContextStats,
  ContextAppended,
  ContextAppendOptions,
  ContextAppendResult,
  ContextDeleted,
  ContextClearResult,
  ContextConflict,
  ContextDeleteResult,
  ContextEntry,
  ContextReadOptions,
  ContextScope,
  ContextWriteOptions,
  ContextWriteResult,
  ContextWritten,
  ContextUnconditional,
} from './agent-context-types.js'
