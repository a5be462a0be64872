import { ValkitError } from '../../core/index.js'
import { canonicalJson } from './canonical-json.js'

/**
 * A request reduced to what changes the model's answer: a JSON-like object with the model's
 * name and every answer-changing field. Its canonical encoding is what the cache key hashes.
 */
export interface NormalizedLlmRequest {
  readonly model: string
  readonly [field: string]: unknown
}

/** Options of {@link normalizeLlmRequest}. */
export interface NormalizeLlmRequestOptions {
  /**
   * Trim text and collapse every run of whitespace to one space (message contents, `system`,
   * `instructions`, `prompt`), so `"Hi  there\n"` and `"Hi there"` share an entry.
   * @defaultValue false
   */
  readonly normalizeWhitespace?: boolean
  /**
   * Replace tool call ids (`call_…`, `toolu_…`) by their order of appearance, so an agent that
   * replays the same tool trajectory hits the cache although the provider issued new ids.
   * @defaultValue true
   */
  readonly renameToolCallIds?: boolean
  /** More top-level fields that do not change the answer (added to the built-in list). */
  readonly ignoreParams?: readonly string[]
}

/**
 * Top-level fields that do not change the answer: delivery (`stream`), attribution (`user`,
 * `metadata`), routing and storage hints, transport settings and credentials.
 */
const IGNORED: ReadonlySet<string> = new Set([
  'stream',
  'stream_options',
  'user',
  'metadata',
  'store',
  'service_tier',
  'prompt_cache_key',
  'prompt_cache_retention',
  'safety_identifier',
  'background',
  'request_id',
  'requestId',
  'idempotency_key',
  'idempotencyKey',
  'timeout',
  'signal',
  'headers',
  'extra_headers',
  'extraHeaders',
  'extra_query',
  'extraQuery',
  'max_retries',
  'maxRetries',
  'base_url',
  'baseURL',
  'baseUrl',
  'organization',
  'project',
])

/** A field whose name says it holds a credential never reaches the key (`api_key`, `apiKey`, `x-api-key`...). */
const SECRET = /api[-_]?key|secret|password|passwd|authorization|credential|access[-_]?token|bearer/i

/** Fields of a message (or content part) that are delivery hints, not content. */
const MESSAGE_IGNORED: ReadonlySet<string> = new Set(['cache_control'])

interface Context {
  readonly whitespace: boolean
  readonly ids: Map<string, string> | null
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** `null`, `undefined` and empty arrays say "nothing": they are dropped, so `tools: []` equals no `tools`. */
function empty(value: unknown): boolean {
  return value === undefined || value === null || (Array.isArray(value) && value.length === 0)
}

function text(value: string, ctx: Context): string {
  return ctx.whitespace ? value.trim().replace(/\s+/g, ' ') : value
}

function rename(id: unknown, ctx: Context): unknown {
  if (ctx.ids === null || typeof id !== 'string') return id
  let renamed = ctx.ids.get(id)
  if (renamed === undefined) ctx.ids.set(id, (renamed = `tool-${ctx.ids.size}`))
  return renamed
}

/** Tool call arguments are JSON text: `{"a":1}` and `{ "a": 1 }` mean the same. */
function jsonText(value: unknown): unknown {
  if (typeof value !== 'string') return value
  try {
    return canonicalJson(JSON.parse(value))
  } catch {
    return value
  }
}

/** One content part (OpenAI `{ type: 'text' }`, Anthropic `tool_use` / `tool_result`, images...). */
function part(value: unknown, ctx: Context): unknown {
  if (!isRecord(value)) return typeof value === 'string' ? text(value, ctx) : value
  const out: Record<string, unknown> = {}
  for (const [name, field] of Object.entries(value)) {
    if (empty(field) || MESSAGE_IGNORED.has(name)) continue
    out[name] = field
  }
  if (typeof out.text === 'string') out.text = text(out.text, ctx)
  if (out.type === 'tool_use' || out.type === 'server_tool_use') out.id = rename(out.id, ctx)
  if (out.type === 'tool_result') {
    out.tool_use_id = rename(out.tool_use_id, ctx)
    if (out.content !== undefined) out.content = content(out.content, ctx)
  }
  return out
}

/** A message's content: a string, or parts; a lone text part is the same as its text. */
function content(value: unknown, ctx: Context): unknown {
  if (typeof value === 'string') return text(value, ctx)
  if (!Array.isArray(value)) return value
  const parts = value.map((p) => part(p, ctx))
  const only = parts.length === 1 ? parts[0] : undefined
  if (
    isRecord(only) &&
    only.type === 'text' &&
    typeof only.text === 'string' &&
    Object.keys(only).length === 2
  ) {
    return only.text
  }
  return parts
}

function toolCall(value: unknown, ctx: Context): unknown {
  if (!isRecord(value)) return value
  const out: Record<string, unknown> = { ...value, id: rename(value.id, ctx) }
  if (isRecord(value.function))
    out.function = { ...value.function, arguments: jsonText(value.function.arguments) }
  return out
}

/** A chat message (OpenAI, Anthropic) or an OpenAI Responses input item. */
function message(value: unknown, ctx: Context): unknown {
  if (!isRecord(value)) return typeof value === 'string' ? text(value, ctx) : value
  const out: Record<string, unknown> = {}
  for (const [name, field] of Object.entries(value)) {
    if (empty(field) || MESSAGE_IGNORED.has(name)) continue
    out[name] = field
  }
  if (out.content !== undefined) out.content = content(out.content, ctx)
  if (Array.isArray(out.tool_calls)) out.tool_calls = out.tool_calls.map((c) => toolCall(c, ctx))
  if (out.tool_call_id !== undefined) out.tool_call_id = rename(out.tool_call_id, ctx)
  // OpenAI Responses items: function calls and their outputs are linked by call_id; `id` is random.
  if (out.call_id !== undefined) out.call_id = rename(out.call_id, ctx)
  if (out.type === 'function_call') {
    delete out.id
    out.arguments = jsonText(out.arguments)
  }
  return out
}

/**
 * The built-in normalization of an LLM request (OpenAI chat completions, OpenAI Responses,
 * Anthropic messages, legacy completions): keeps the model and every field that can change the
 * answer, drops the rest.
 *
 * - Dropped: `stream`, `stream_options`, `user`, `metadata`, `store`, `service_tier`, prompt
 *   cache hints, request/idempotency ids, transport settings (`timeout`, `signal`, `headers`,
 *   `baseURL`...), `cache_control` markers, and any field named like a credential
 *   (`api_key`, `apiKey`, `authorization`, `secret`...). Also `null`, `undefined` and `[]`.
 * - Kept as given: every other field, known or not (`temperature`, `top_p`, `max_tokens`,
 *   `seed`, `tools`, `tool_choice`, `response_format`, ...): an unknown field costs a miss,
 *   never a wrong answer.
 * - Made equal: key order; a lone text part and its text; `stop: 'x'` and `stop: ['x']`;
 *   whitespace inside tool call arguments (JSON); tool call ids (by order, unless turned off);
 *   whitespace in text when `normalizeWhitespace` is on.
 *
 * @throws ValkitError `VALKIT_INVALID_ARGUMENT` when the request is not an object with a
 *   non-empty string `model`.
 *
 * @example
 * ```ts
 * normalizeLlmRequest({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Hi' }], user: 'u-1', stream: true })
 * // { model: 'gpt-4o', messages: [{ role: 'user', content: 'Hi' }] }
 * ```
 */
export function normalizeLlmRequest(
  request: unknown,
  options: NormalizeLlmRequestOptions = {},
): NormalizedLlmRequest {
  if (!isRecord(request)) {
    throw new ValkitError(
      'VALKIT_INVALID_ARGUMENT',
      `An LLM request must be an object with a string \`model\` (got ${request === null ? 'null' : typeof request}).`,
    )
  }
  if (typeof request.model !== 'string' || request.model.length === 0) {
    throw new ValkitError(
      'VALKIT_INVALID_ARGUMENT',
      'An LLM request needs a non-empty string `model`; for another request shape pass a `normalize` option.',
    )
  }
  const ctx: Context = {
    whitespace: options.normalizeWhitespace === true,
    ids: options.renameToolCallIds === false ? null : new Map(),
  }
  const extra = options.ignoreParams === undefined ? null : new Set(options.ignoreParams)
  const out: Record<string, unknown> = { model: request.model }
  for (const [name, value] of Object.entries(request)) {
    if (name === 'model' || empty(value) || IGNORED.has(name) || SECRET.test(name) || extra?.has(name))
      continue
    if (typeof value === 'function' || typeof value === 'symbol') continue
    switch (name) {
      case 'messages':
        out.messages = Array.isArray(value) ? value.map((m) => message(m, ctx)) : value
        break
      case 'input':
        out.input = Array.isArray(value) ? value.map((m) => message(m, ctx)) : content(value, ctx)
        break
      case 'system':
      case 'instructions':
      case 'prompt':
        out[name] = content(value, ctx)
        break
      case 'stop':
      case 'stop_sequences':
        out[name] = typeof value === 'string' ? [value] : value
        break
      default:
        out[name] = value
    }
  }
  return out as NormalizedLlmRequest
}
