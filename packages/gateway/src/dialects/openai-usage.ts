// OpenAI usage blocks to TokenUsage. Chat and embeddings say `prompt_tokens` /
// `completion_tokens`, the Responses API `input_tokens` / `output_tokens`; in both the
// cached tokens (read, and written where the model prices writes) are a part of the input and
// the reasoning tokens a part of the output, as in TokenUsage.
import type { TokenUsage } from '@killswitch/core'
import { count, record } from './dialect.js'

export function openaiUsage(value: unknown): TokenUsage | undefined {
  const usage = record(value)
  if (!usage) return undefined
  const inputDetails = record(usage.prompt_tokens_details) ?? record(usage.input_tokens_details)
  const outputDetails =
    record(usage.completion_tokens_details) ?? record(usage.output_tokens_details)
  const result: TokenUsage = {}
  const input = count(usage.prompt_tokens) ?? count(usage.input_tokens)
  const output = count(usage.completion_tokens) ?? count(usage.output_tokens)
  const cached = count(inputDetails?.cached_tokens)
  const written = count(inputDetails?.cache_write_tokens)
  const reasoning = count(outputDetails?.reasoning_tokens)
  if (input !== undefined) result.inputTokens = input
  if (output !== undefined) result.outputTokens = output
  if (cached !== undefined) result.cacheReadTokens = cached
  if (written !== undefined) result.cacheWriteTokens = written
  if (reasoning !== undefined) result.reasoningTokens = reasoning
  return Object.keys(result).length > 0 ? result : undefined
}
