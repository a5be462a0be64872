/** Tokens of one model call. */
export interface LlmUsage {
  /** Prompt tokens, including tokens read from or written to the provider's prompt cache. */
  readonly inputTokens: number
  /** Completion tokens (including reasoning tokens where the provider counts them there). */
  readonly outputTokens: number
}

/** What the cache reads from a complete (non-streamed) response. */
export interface LlmResponseInfo {
  /**
   * The whole answer as text, or `undefined` when the response holds more than text (tool
   * calls, several choices): then a streamed request for the same prompt cannot be served from it.
   */
  readonly text?: string | undefined
  /** Token usage, when the response reports it. */
  readonly usage?: LlmUsage | undefined
  /** The model that answered (often more precise than the requested one, e.g. a dated snapshot). */
  readonly model?: string | undefined
}

type Rec = Record<string, unknown>

function isRecord(value: unknown): value is Rec {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function count(...values: unknown[]): number | undefined {
  let total: number | undefined
  for (const v of values) if (typeof v === 'number' && Number.isFinite(v) && v >= 0) total = (total ?? 0) + v
  return total
}

/**
 * Token usage from a provider's `usage` object: OpenAI chat (`prompt_tokens`,
 * `completion_tokens`), OpenAI Responses and Anthropic (`input_tokens`, `output_tokens`, plus
 * Anthropic's `cache_read_input_tokens` / `cache_creation_input_tokens`), Vercel AI SDK
 * (`promptTokens` / `completionTokens`, `inputTokens` / `outputTokens`).
 *
 * @example
 * ```ts
 * readLlmUsage({ prompt_tokens: 12, completion_tokens: 30 }) // { inputTokens: 12, outputTokens: 30 }
 * ```
 */
export function readLlmUsage(usage: unknown): Partial<LlmUsage> | undefined {
  if (!isRecord(usage)) return undefined
  const input = count(
    usage.prompt_tokens,
    usage.input_tokens,
    usage.cache_read_input_tokens,
    usage.cache_creation_input_tokens,
    usage.promptTokens,
    usage.inputTokens,
  )
  const output = count(
    usage.completion_tokens,
    usage.output_tokens,
    usage.completionTokens,
    usage.outputTokens,
  )
  if (input === undefined && output === undefined) return undefined
  return {
    ...(input === undefined ? {} : { inputTokens: input }),
    ...(output === undefined ? {} : { outputTokens: output }),
  }
}

function complete(usage: Partial<LlmUsage> | undefined): LlmUsage | undefined {
  if (usage === undefined) return undefined
  return { inputTokens: usage.inputTokens ?? 0, outputTokens: usage.outputTokens ?? 0 }
}

function openAiChatText(response: Rec): string | undefined {
  const choices = response.choices
  if (!Array.isArray(choices) || choices.length !== 1 || !isRecord(choices[0])) return undefined
  const msg = choices[0].message
  if (!isRecord(msg) || typeof msg.content !== 'string') return undefined
  if (Array.isArray(msg.tool_calls) && msg.tool_calls.length > 0) return undefined
  if (msg.function_call != null) return undefined
  return msg.content
}

function anthropicText(blocks: unknown[]): string | undefined {
  let out = ''
  for (const block of blocks) {
    if (!isRecord(block) || block.type !== 'text' || typeof block.text !== 'string') return undefined
    out += block.text
  }
  return out
}

function responsesText(response: Rec): string | undefined {
  const output = response.output
  if (
    Array.isArray(output) &&
    output.some((item) => isRecord(item) && item.type !== 'message' && item.type !== 'reasoning')
  ) {
    return undefined
  }
  return typeof response.output_text === 'string' ? response.output_text : undefined
}

/**
 * The built-in reader of a complete response: OpenAI chat completions, OpenAI Responses,
 * Anthropic messages, Vercel AI SDK `generateText` results, or a plain string.
 *
 * @example
 * ```ts
 * readLlmResponse({ model: 'gpt-4o-2024-08-06', choices: [{ message: { role: 'assistant', content: 'Hi!' } }],
 *   usage: { prompt_tokens: 9, completion_tokens: 3 } })
 * // { text: 'Hi!', usage: { inputTokens: 9, outputTokens: 3 }, model: 'gpt-4o-2024-08-06' }
 * ```
 */
export function readLlmResponse(response: unknown): LlmResponseInfo {
  if (typeof response === 'string') return { text: response }
  if (!isRecord(response)) return {}
  let text: string | undefined
  if (Array.isArray(response.choices)) text = openAiChatText(response)
  else if (Array.isArray(response.content)) text = anthropicText(response.content)
  else if (response.object === 'response' || Array.isArray(response.output)) text = responsesText(response)
  else if (typeof response.text === 'string') {
    const calls = response.toolCalls
    text = Array.isArray(calls) && calls.length > 0 ? undefined : response.text
  }
  const model = typeof response.model === 'string' ? response.model : undefined
  return { text, usage: complete(readLlmUsage(response.usage)), model }
}
