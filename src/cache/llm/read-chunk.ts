import { readLlmUsage, type LlmUsage } from './read-response.js'

/** What the cache reads from one stream chunk (event). */
export interface LlmChunkInfo {
  /** Text this chunk adds to the answer. */
  readonly text?: string | undefined
  /** Token usage reported by this chunk (fields seen later replace earlier ones). */
  readonly usage?: Partial<LlmUsage> | undefined
  /** The model that answers, when the chunk says. */
  readonly model?: string | undefined
  /**
   * The chunk carries output that the answer's text cannot reproduce (a tool call, a second
   * choice, a thinking block): the stream is passed through but not cached.
   */
  readonly opaque?: boolean | undefined
}

type Rec = Record<string, unknown>

function isRecord(value: unknown): value is Rec {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

const NOTHING: LlmChunkInfo = Object.freeze({})
const OPAQUE: LlmChunkInfo = Object.freeze({ opaque: true })

/** OpenAI chat completion chunk: `choices[].delta`, a final `usage` chunk with `include_usage`. */
function openAiChat(chunk: Rec): LlmChunkInfo {
  let text: string | undefined
  let opaque = false
  for (const choice of chunk.choices as unknown[]) {
    if (!isRecord(choice)) continue
    if (typeof choice.index === 'number' && choice.index > 0) opaque = true
    const delta = choice.delta
    if (!isRecord(delta)) continue
    if ((Array.isArray(delta.tool_calls) && delta.tool_calls.length > 0) || delta.function_call != null)
      opaque = true
    if (typeof delta.content === 'string') text = (text ?? '') + delta.content
  }
  return {
    text,
    opaque,
    usage: readLlmUsage(chunk.usage),
    model: typeof chunk.model === 'string' ? chunk.model : undefined,
  }
}

/** Anthropic message stream events. */
function anthropic(chunk: Rec): LlmChunkInfo {
  switch (chunk.type) {
    case 'message_start': {
      const msg = isRecord(chunk.message) ? chunk.message : {}
      return { usage: readLlmUsage(msg.usage), model: typeof msg.model === 'string' ? msg.model : undefined }
    }
    case 'content_block_start':
      return isRecord(chunk.content_block) && chunk.content_block.type === 'text' ? NOTHING : OPAQUE
    case 'content_block_delta': {
      const delta = chunk.delta
      return isRecord(delta) && delta.type === 'text_delta' && typeof delta.text === 'string'
        ? { text: delta.text }
        : OPAQUE
    }
    case 'message_delta':
      return { usage: readLlmUsage(chunk.usage) }
    default:
      return NOTHING
  }
}

/** OpenAI Responses stream events. */
function responses(chunk: Rec): LlmChunkInfo {
  const type = chunk.type as string
  if (type === 'response.output_text.delta')
    return typeof chunk.delta === 'string' ? { text: chunk.delta } : NOTHING
  if (type === 'response.output_item.added') {
    const item = chunk.item
    return isRecord(item) && item.type !== 'message' && item.type !== 'reasoning' ? OPAQUE : NOTHING
  }
  if (type === 'response.completed') {
    const response = isRecord(chunk.response) ? chunk.response : {}
    return {
      usage: readLlmUsage(response.usage),
      model: typeof response.model === 'string' ? response.model : undefined,
    }
  }
  return NOTHING
}

/** Vercel AI SDK `fullStream` parts (v4 `textDelta`, v5 `text`). */
function aiSdk(chunk: Rec): LlmChunkInfo {
  switch (chunk.type) {
    case 'text-delta': {
      const t = typeof chunk.textDelta === 'string' ? chunk.textDelta : chunk.text
      return typeof t === 'string' ? { text: t } : NOTHING
    }
    case 'finish':
    case 'step-finish':
      return { usage: readLlmUsage(chunk.usage ?? chunk.totalUsage) }
    case 'tool-call':
    case 'tool-call-delta':
    case 'tool-call-streaming-start':
    case 'tool-input-start':
    case 'tool-input-delta':
    case 'reasoning':
    case 'reasoning-delta':
      return OPAQUE
    default:
      return NOTHING
  }
}

/**
 * The built-in reader of stream chunks: plain strings (a text stream), OpenAI chat completion
 * chunks, OpenAI Responses events, Anthropic message events and Vercel AI SDK stream parts.
 * Anything else adds no text.
 *
 * @example
 * ```ts
 * readLlmChunk({ choices: [{ index: 0, delta: { content: 'Hel' } }] })            // { text: 'Hel', ... }
 * readLlmChunk({ type: 'content_block_delta', delta: { type: 'text_delta', text: 'lo' } }) // { text: 'lo' }
 * ```
 */
export function readLlmChunk(chunk: unknown): LlmChunkInfo {
  if (typeof chunk === 'string') return { text: chunk }
  if (!isRecord(chunk)) return NOTHING
  if (Array.isArray(chunk.choices)) return openAiChat(chunk)
  const type = chunk.type
  if (typeof type !== 'string') return isRecord(chunk.usage) ? { usage: readLlmUsage(chunk.usage) } : NOTHING
  if (type.startsWith('response.')) return responses(chunk)
  if (
    type.startsWith('message_') ||
    type.startsWith('content_block_') ||
    type === 'ping' ||
    type === 'error'
  ) {
    return anthropic(chunk)
  }
  return aiSdk(chunk)
}
