// A model call's input as the guard bounds it (all that reaches the provider, tool schemas
// too) and its output: `usage_metadata` as it is (the core judges missing or bad figures).
import type { ModelCallResult, TokenUsage } from '@killswitch/core'
import type { HandleLLMNewTokenCallbackFields } from '@langchain/core/callbacks/base'
import { AIMessage, type BaseMessage, type UsageMetadata } from '@langchain/core/messages'
import { convertToOpenAITool } from '@langchain/core/utils/function_calling'

type Request = { systemMessage?: BaseMessage; messages: BaseMessage[]; tools?: unknown[] }
type Fields = Record<string, unknown>

/**
 * A createAgent model request as sent: its messages, and beside them (`sentContent`) its
 * tools as the JSON schema providers receive and the `options` spread into the request, by
 * where they were set (`requestOptions`).
 */
export function modelInput(
  { systemMessage: system, messages, tools = [] }: Request,
  options?: Fields,
): unknown {
  const sent = system !== undefined && !isEmpty(system) ? [system, ...messages] : messages
  const request = sentContent({ tools: tools.map(toolSchema), ...options })
  return { messages: sent.map(providerMessage), request }
}

// Settings every request names that carry no input: the model's name and how it streams.
const SETTINGS = new Set(['model', 'stream', 'stream_options'])

/**
 * The API fields a request sends beside its messages, as the guard sizes them: one rule for
 * every entry point. What the provider bills as input, or by which it bills, is kept whole
 * (tools, tool choice, a response format and its schema, a prediction, a previous response,
 * any text, a reasoning or truncation switch); scalar settings are not (numbers, flags set
 * off, fields left undefined, `SETTINGS`): ChatOpenAI's `invocationParams` names each of its
 * settings, defaults included, and they were held as 2.5x the prompt "hi" (red team rt41a).
 */
export function sentContent(fields: unknown): Fields {
  const content: Fields = {}
  if (typeof fields !== 'object' || fields === null) return content
  for (const key in fields) {
    const value = (fields as Fields)[key]
    if (!SETTINGS.has(key) && sends(value)) content[key] = value
  }
  return content
}

/**
 * Whether a field sends anything to size: text (a previous response's id, an effort), a
 * flag set on (`enable_thinking: true` turns reasoning on), any object but an empty list or
 * plain object (a URL or bytes name content though they list no keys).
 */
function sends(value: unknown): boolean {
  if (typeof value === 'string') return true
  if (typeof value !== 'object' || value === null) return value === true
  if (Array.isArray(value)) return value.length > 0
  if (Object.getPrototypeOf(value) !== Object.prototype) return true
  for (const _ in value) return true
  return false
}

/**
 * createAgent passes an empty system message when it has no prompt. Empty by its content,
 * not its text: a system message of images or files has no text and still reaches the
 * provider, so it must be sized (bounded by the context window).
 */
function isEmpty({ content }: BaseMessage): boolean {
  return content === '' || (Array.isArray(content) && content.length === 0)
}

/** A message as the provider gets it, without LangChain's bookkeeping (ids, metadata). */
export function providerMessage(message: BaseMessage): unknown {
  const { content, tool_calls: toolCalls } = message as BaseMessage & { tool_calls?: unknown[] }
  const role = message.getType()
  return toolCalls?.length ? { role, content, tool_calls: toolCalls } : { role, content }
}

function toolSchema(tool: unknown): unknown {
  try {
    return convertToOpenAITool(tool as Parameters<typeof convertToOpenAITool>[0])
  } catch {
    return tool // a provider-specific tool is sent, and so sized, as it is
  }
}

/**
 * Maps `usage_metadata` onto the core's TokenUsage (the same meanings).
 *
 * @example
 * const usage = toTokenUsage(message.usage_metadata)
 */
export function toTokenUsage(metadata: UsageMetadata | undefined | null): TokenUsage | undefined {
  if (typeof metadata !== 'object' || metadata === null) return undefined
  const { input_token_details: input, output_token_details: output } = metadata
  return {
    inputTokens: metadata.input_tokens,
    outputTokens: metadata.output_tokens,
    cacheReadTokens: input?.cache_read,
    cacheWriteTokens: input?.cache_creation,
    reasoningTokens: output?.reasoning,
  }
}

/** The answer as the core settles it: usage, text and tool calls. */
export function modelCallResult(message: unknown): ModelCallResult {
  if (!AIMessage.isInstance(message)) return {}
  // `text` converts the content to standard blocks (tens of µs): plain content is the text.
  const text = typeof message.content === 'string' ? message.content : message.text
  const toolCalls = message.tool_calls?.map(({ name, args }) => ({ name, args }))
  return { usage: toTokenUsage(message.usage_metadata), text, toolCalls }
}

/**
 * The billed text of a streamed chunk: its token, the reasoning streamed beside it (DeepSeek's
 * `reasoning_content`, which ChatOpenAI keeps in `additional_kwargs`: output billed like the
 * answer; red team rt41a: uncounted, a model reasoning 1,500 tokens was stopped at neither its
 * hold nor its cap), and tool-call argument fragments.
 */
export function deltaText(token: string, fields?: HandleLLMNewTokenCallbackFields): string {
  const chunk = fields?.chunk
  const message = (chunk && 'message' in chunk ? chunk.message : undefined) as
    | {
        tool_call_chunks?: Array<{ args?: string }>
        additional_kwargs?: { reasoning_content?: unknown }
      }
    | undefined
  const reasoning = message?.additional_kwargs?.reasoning_content
  const text = typeof reasoning === 'string' ? reasoning + token : token
  const calls = message?.tool_call_chunks
  return calls?.length ? text + calls.map((call) => call.args ?? '').join('') : text
}
