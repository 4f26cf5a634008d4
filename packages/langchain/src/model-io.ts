// What a LangChain model call sends and gets back, in the core's terms. The input is the plain
// data the guard bounds: everything that reaches the provider (system message, conversation,
// tool schemas, which providers bill as input too). The output is the AI message's
// `usage_metadata` (one shape for every provider; `llmOutput` differs per provider), passed
// as it is: the core judges usage that is missing, malformed or below what streamed.
import type { ModelCallResult, TokenUsage } from '@killswitch/core'
import type { HandleLLMNewTokenCallbackFields } from '@langchain/core/callbacks/base'
import { AIMessage, type BaseMessage, type UsageMetadata } from '@langchain/core/messages'
import { convertToOpenAITool } from '@langchain/core/utils/function_calling'

/** A createAgent model request, as the guard sizes it: tools as the JSON schema sent. */
export function modelInput(request: {
  systemMessage?: BaseMessage | undefined
  messages: readonly BaseMessage[]
  tools?: readonly unknown[] | undefined
}): unknown {
  const { systemMessage: system, messages } = request
  const sent = system !== undefined && system.text !== '' ? [system, ...messages] : messages
  return { messages: sent.map(providerMessage), tools: (request.tools ?? []).map(toolSchema) }
}

/**
 * What a provider receives of a message: not LangChain's bookkeeping (ids, metadata), which
 * would inflate the bound and cost a `toJSON` (tens of µs) to size.
 */
export function providerMessage(message: BaseMessage): unknown {
  const toolCalls = (message as { tool_calls?: unknown[] }).tool_calls
  const role = message.getType()
  return toolCalls?.length
    ? { role, content: message.content, tool_calls: toolCalls }
    : { role, content: message.content }
}

function toolSchema(tool: unknown): unknown {
  try {
    return convertToOpenAITool(tool as Parameters<typeof convertToOpenAITool>[0])
  } catch {
    return tool // a provider-specific tool is sent, and so sized, as it is
  }
}

/**
 * Maps `usage_metadata` onto the core's TokenUsage (same meanings: totals include their
 * parts). Undefined when there is none: the core then settles its own count, never zero.
 *
 * @example
 * const usage = toTokenUsage(message.usage_metadata)
 */
export function toTokenUsage(metadata: UsageMetadata | undefined | null): TokenUsage | undefined {
  if (typeof metadata !== 'object' || metadata === null) return undefined
  return {
    inputTokens: metadata.input_tokens,
    outputTokens: metadata.output_tokens,
    cacheReadTokens: metadata.input_token_details?.cache_read,
    cacheWriteTokens: metadata.input_token_details?.cache_creation,
    reasoningTokens: metadata.output_token_details?.reasoning,
  }
}

/** The model's answer as the core settles it: usage, text and tool calls. */
export function modelCallResult(message: unknown): ModelCallResult {
  if (!AIMessage.isInstance(message)) return {}
  return {
    usage: toTokenUsage(message.usage_metadata),
    // `text` converts the content to standard blocks (tens of µs): plain content is the text.
    text: typeof message.content === 'string' ? message.content : message.text,
    toolCalls: message.tool_calls?.map(({ name, args }) => ({ name, args })),
  }
}

/** The billed text of one streamed chunk: its token, and streamed tool-call arguments. */
export function deltaText(token: string, fields?: HandleLLMNewTokenCallbackFields) {
  const chunk = fields?.chunk
  const message = chunk && 'message' in chunk ? chunk.message : undefined
  // Streamed tool calls arrive as argument fragments with an empty token.
  const calls = (message as { tool_call_chunks?: Array<{ args?: string }> } | undefined)
    ?.tool_call_chunks
  return calls?.length ? token + calls.map((call) => call.args ?? '').join('') : token
}
