// What each AI SDK stream part means to the guard: the translation that the core's
// watchModelStream needs (core/src/model-stream.ts runs the streamed call's whole lifecycle:
// counting, tool checks before the SDK sees a tool call, settling, every ending).
import type { LanguageModelV4StreamPart } from '@ai-sdk/provider'
import type { StreamEvent } from '@killswitch/core'
import { toTokenUsage } from './usage.js'

/** A tool call's JSON-encoded input as a value; unparseable input stays the raw string. */
export function parseToolInput(input: string): unknown {
  try {
    return JSON.parse(input)
  } catch {
    return input
  }
}

/**
 * A reader of one stream's parts. A tool call's arguments that streamed as deltas are
 * counted once: the core knows them by the tool call's id.
 *
 * @example
 * watchModelStream(call, stream, { read: streamPartReader(), idleConsumerMs: 5000 })
 */
export function streamPartReader(): (part: LanguageModelV4StreamPart) => StreamEvent | undefined {
  return readPart
}

function readPart(part: LanguageModelV4StreamPart): StreamEvent | undefined {
  switch (part.type) {
    case 'text-delta':
      return { type: 'text', text: part.delta }
    case 'reasoning-delta':
      return { type: 'output', text: part.delta }
    case 'tool-input-delta':
      return { type: 'output', text: part.delta, toolCallId: part.id }
    case 'tool-call': {
      const { toolName: name, input, toolCallId } = part
      return { type: 'tool-call', name, args: parseToolInput(input), input, toolCallId }
    }
    case 'error':
      return { type: 'error', error: part.error }
    case 'finish':
      return { type: 'finish', usage: toTokenUsage(part.usage, part.providerMetadata) }
    default:
      return undefined
  }
}
