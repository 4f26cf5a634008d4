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
 * A reader of one stream's parts (it remembers which tool inputs streamed as deltas: their
 * final `tool-call` part repeats the same input, counted once).
 *
 * @example
 * watchModelStream(call, stream, { read: streamPartReader(), idleConsumerMs: 5000 })
 */
export function streamPartReader(): (part: LanguageModelV4StreamPart) => StreamEvent | undefined {
  const streamedInputs = new Set<string>()
  return (part) => {
    switch (part.type) {
      case 'text-delta':
        return { type: 'text', text: part.delta }
      case 'reasoning-delta':
        return { type: 'output', text: part.delta }
      case 'tool-input-delta':
        streamedInputs.add(part.id)
        return { type: 'output', text: part.delta }
      case 'tool-call': {
        const args = parseToolInput(part.input)
        const event = { type: 'tool-call' as const, name: part.toolName, args }
        return streamedInputs.has(part.toolCallId) ? event : { ...event, input: part.input }
      }
      case 'error':
        return { type: 'error', error: part.error }
      case 'finish':
        return { type: 'finish', usage: toTokenUsage(part.usage, part.providerMetadata) }
      default:
        return undefined
    }
  }
}
