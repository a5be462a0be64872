import {
  invalidOption,
  parseDuration,
  resolveCodecOptions,
  type CodecOptions,
  type Duration,
  type ResolvedCodecOptions,
} from '../../core/index.js'
import { checkNamespace } from '../cache-options.js'

/** Options of the in-process tier of an agent context. */
export interface AgentContextL1Options {
  /**
   * Most entries held in process.
   * @defaultValue 10_000
   */
  readonly maxEntries?: number
  /**
   * Most bytes held in process (encoded sizes).
   * @defaultValue 16_777_216 (16 MiB)
   */
  readonly maxBytes?: number
  /**
   * How long an entry read from Redis is served from process memory, at most. Writes elsewhere
   * drop it sooner (invalidation messages); this bounds staleness when a message is lost.
   * @defaultValue '1m'
   */
  readonly ttl?: Duration
}

/** Default bounds of a list entry, for `append()` (each call may override them). */
export interface AgentContextListOptions {
  /**
   * Most items a list keeps: appending one more drops the oldest (the last N turns).
   * @defaultValue 100
   */
  readonly maxItems?: number
  /**
   * Most bytes (encoded) a list keeps: oldest items are dropped until it fits; the newest item always stays.
   * @defaultValue 262_144 (256 KiB)
   */
  readonly maxBytes?: number
}

/** Options of `createAgentContext`. Resolved once, when the store is created. */
export interface AgentContextOptions {
  /**
   * Name of this store's key space and invalidation channel: keys are
   * `{prefix}:v1:cache:{<namespace>@<scope>}:...` (one hash tag per scope). Letters, digits and `_ - . /`.
   * @defaultValue 'agent-context'
   */
  readonly namespace?: string
  /**
   * The in-process tier, or `false` to read every entry from Redis/Valkey.
   * @defaultValue `{ maxEntries: 10_000, maxBytes: 16 MiB, ttl: '1m' }`
   */
  readonly l1?: false | AgentContextL1Options
  /**
   * Idle expiry of a scope: every change (write, append, delete, clear) sets the whole scope to
   * expire this long after it; `0` keeps scopes until they are cleared or deleted. With a ttl, a
   * scope's version counter expires with it and starts from the server's clock when the scope is
   * written again, so versions are never reused (and are large numbers, below 2^53).
   * @defaultValue 0 (no expiry)
   */
  readonly ttl?: Duration
  /**
   * Default bounds of list entries (`append`).
   * @defaultValue `{ maxItems: 100, maxBytes: 256 KiB }`
   */
  readonly lists?: AgentContextListOptions
  /**
   * Largest encoded value (or list item) accepted; larger ones throw `VALKIT_VALUE_TOO_LARGE`.
   * @defaultValue 1_048_576 (1 MiB)
   */
  readonly maxValueBytes?: number
  /**
   * How values are encoded: serializer, compression, encryption (AES-256-GCM keyring) — agent
   * memory often holds personal data.
   * @defaultValue `{ serializer: 'json', compression: 'deflate', compressThresholdBytes: 1024 }`
   */
  readonly codec?: CodecOptions
}

/** {@link AgentContextOptions} after validation, with every default applied. */
export interface ResolvedAgentContextOptions {
  readonly namespace: string
  readonly l1: false | { readonly maxEntries: number; readonly maxBytes: number; readonly ttlMs: number }
  readonly ttlMs: number
  readonly lists: { readonly maxItems: number; readonly maxBytes: number }
  readonly maxValueBytes: number
  readonly codec: ResolvedCodecOptions
}

/**
 * Defaults of {@link AgentContextOptions}.
 *
 * @example
 * ```ts
 * AGENT_CONTEXT_DEFAULTS.lists.maxItems // 100
 * ```
 */
export const AGENT_CONTEXT_DEFAULTS = Object.freeze({
  namespace: 'agent-context',
  l1: Object.freeze({ maxEntries: 10_000, maxBytes: 16 * 1024 * 1024, ttlMs: 60_000 }),
  ttlMs: 0,
  lists: Object.freeze({ maxItems: 100, maxBytes: 256 * 1024 }),
  maxValueBytes: 1024 * 1024,
})

/**
 * Most items a list may be configured to keep (a read returns them all in one reply).
 *
 * @example
 * ```ts
 * createAgentContext(valkit, { lists: { maxItems: AGENT_CONTEXT_MAX_LIST_ITEMS } }) // the largest bound accepted
 * ```
 */
export const AGENT_CONTEXT_MAX_LIST_ITEMS = 10_000

/** Checks an integer option in `[1, max]`. @internal */
export function boundedInteger(
  value: unknown,
  path: string,
  fallback: number,
  max = Number.MAX_SAFE_INTEGER,
): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1 || value > max) {
    throw invalidOption(
      path,
      `got ${typeof value === 'number' ? value : typeof value}`,
      `an integer from 1 to ${max}`,
    )
  }
  return value
}

function object(value: unknown, path: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalidOption(path, `got ${value === null ? 'null' : typeof value}`, 'an object')
  }
  return value as Record<string, unknown>
}

/**
 * Validates agent context options and applies defaults.
 *
 * @throws ValkitError `VALKIT_INVALID_OPTION` naming the option's path (`agentContext.lists.maxItems`).
 *
 * @example
 * ```ts
 * resolveAgentContextOptions({ ttl: '24h', lists: { maxItems: 50 } }).ttlMs // 86_400_000
 * ```
 */
export function resolveAgentContextOptions(
  options: AgentContextOptions = {},
  path = 'agentContext',
): ResolvedAgentContextOptions {
  object(options, path)
  const d = AGENT_CONTEXT_DEFAULTS
  const namespace = checkNamespace(options.namespace ?? d.namespace, `${path}.namespace`)
  let l1: ResolvedAgentContextOptions['l1']
  if (options.l1 === false) l1 = false
  else if (options.l1 === undefined) l1 = d.l1
  else {
    const o = object(options.l1, `${path}.l1`) as AgentContextL1Options
    const ttlMs = o.ttl === undefined ? d.l1.ttlMs : parseDuration(o.ttl, `${path}.l1.ttl`)
    if (ttlMs <= 0)
      throw invalidOption(`${path}.l1.ttl`, `got ${String(o.ttl)}`, 'a duration > 0 (or l1: false)')
    l1 = Object.freeze({
      maxEntries: boundedInteger(o.maxEntries, `${path}.l1.maxEntries`, d.l1.maxEntries),
      maxBytes: boundedInteger(o.maxBytes, `${path}.l1.maxBytes`, d.l1.maxBytes),
      ttlMs,
    })
  }
  const ttlMs = options.ttl === undefined ? d.ttlMs : parseDuration(options.ttl, `${path}.ttl`)
  const listOptions =
    options.lists === undefined ? {} : (object(options.lists, `${path}.lists`) as AgentContextListOptions)
  const lists = Object.freeze({
    maxItems: boundedInteger(
      listOptions.maxItems,
      `${path}.lists.maxItems`,
      d.lists.maxItems,
      AGENT_CONTEXT_MAX_LIST_ITEMS,
    ),
    maxBytes: boundedInteger(listOptions.maxBytes, `${path}.lists.maxBytes`, d.lists.maxBytes),
  })
  const maxValueBytes = boundedInteger(
    options.maxValueBytes,
    `${path}.maxValueBytes`,
    d.maxValueBytes,
    512 * 1024 * 1024,
  )
  const codec = resolveCodecOptions(options.codec ?? {}, `${path}.codec`)
  return Object.freeze({ namespace, l1, ttlMs, lists, maxValueBytes, codec })
}
