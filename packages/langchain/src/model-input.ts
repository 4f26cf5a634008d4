// What a createAgent model call sends, as plain data: the guard bounds the input tokens by
// its size, so everything that reaches the provider must be in it (system message, the
// conversation, and the tool schemas, which providers bill as input too).

import type { BaseMessage } from '@langchain/core/messages'
import { convertToOpenAITool } from '@langchain/core/utils/function_calling'

/** The parts of a createAgent ModelRequest that are sent to the provider. */
export interface ModelInputParts {
  systemMessage?: BaseMessage | undefined
  messages: readonly BaseMessage[]
  tools?: readonly unknown[] | undefined
}

/**
 * Turns a model request into the plain data the guard sizes. Tool schemas are converted to
 * the JSON schema providers receive (a LangChain tool serialises to a stub without it).
 *
 * @example
 * await guard.beforeModelCall({ model: 'gpt-4o', input: modelInput(request) })
 */
export function modelInput(parts: ModelInputParts): unknown {
  const system = parts.systemMessage
  const messages =
    system !== undefined && system.text !== '' ? [system, ...parts.messages] : [...parts.messages]
  return { messages: messages.map(providerMessage), tools: (parts.tools ?? []).map(toolSchema) }
}

/**
 * What a provider receives of a message: its role, content and tool calls, not LangChain's
 * bookkeeping (ids, metadata, serialisation fields), which would inflate the bound and cost
 * a LangChain `toJSON` (tens of µs) to size.
 *
 * @example
 * const input = { messages: messages.flat().map(providerMessage) }
 */
export function providerMessage(message: BaseMessage): unknown {
  const toolCalls = (message as { tool_calls?: unknown[] }).tool_calls
  return {
    role: message.getType(),
    content: message.content,
    ...(toolCalls && toolCalls.length > 0 ? { tool_calls: toolCalls } : {}),
  }
}

function toolSchema(tool: unknown): unknown {
  try {
    return convertToOpenAITool(tool as Parameters<typeof convertToOpenAITool>[0])
  } catch {
    // A provider-specific tool that is not convertible is sent as it is: size it as it is.
    return tool
  }
}
