// POST /v1/messages (Anthropic). The output limit is `max_tokens` (thinking included, so a
// thinking budget is kept below it). Usage counts `input_tokens` apart from the cache reads
// and writes; TokenUsage counts them inside its input, so they are added up. A stream
// reports input usage in `message_start` and the running totals in `message_delta`.
import { type TokenUsage, thinkingBelow } from '@killswitch/core'
import { errorBody } from '../api-errors.js'
import { sseEvent } from '../sse-parser.js'
import {
  count,
  type Dialect,
  type JsonBody,
  parseJson,
  positiveInt,
  record,
  type StreamReader,
} from './dialect.js'
import {
  refuseBilledApart,
  refuseCompaction,
  refuseMcpServers,
  refuseServerTools,
} from './unbounded-requests.js'

interface AnthropicCounts {
  input?: number
  cacheRead?: number
  cacheWrite?: number
  /** Of the cache writes, those for an hour (`cache_creation.ephemeral_1h_input_tokens`). */
  longCacheWrite?: number
  output?: number
}

function readCounts(value: unknown, into: AnthropicCounts): boolean {
  const usage = record(value)
  if (!usage) return false
  const fields = [
    ['input', usage.input_tokens],
    ['cacheRead', usage.cache_read_input_tokens],
    ['cacheWrite', usage.cache_creation_input_tokens],
    ['longCacheWrite', record(usage.cache_creation)?.ephemeral_1h_input_tokens],
    ['output', usage.output_tokens],
  ] as const
  let found = false
  for (const [key, raw] of fields) {
    const value = count(raw)
    if (value !== undefined) {
      into[key] = value
      found = true
    }
  }
  return found
}

function toUsage(counts: AnthropicCounts): TokenUsage {
  const cacheRead = counts.cacheRead ?? 0
  const cacheWrite = counts.cacheWrite ?? 0
  return {
    inputTokens: (counts.input ?? 0) + cacheRead + cacheWrite,
    cacheReadTokens: cacheRead,
    cacheWriteTokens: cacheWrite,
    ...(counts.longCacheWrite === undefined ? {} : { longCacheWriteTokens: counts.longCacheWrite }),
    // Unknown stays unknown: a stream cut before its message_delta has no output count.
    ...(counts.output === undefined ? {} : { outputTokens: counts.output }),
  }
}

/** Text, thinking and tool input of a content block or a block delta. */
function blockText(block: Record<string, unknown> | undefined): string {
  if (!block) return ''
  let text = ''
  for (const key of ['text', 'thinking', 'partial_json']) {
    const value = block[key]
    if (typeof value === 'string') text += value
  }
  if (block.type === 'tool_use' && block.input !== undefined) {
    const input = JSON.stringify(block.input)
    if (input !== '{}') text += input
  }
  return text
}

/** The output of a list of content blocks (a message's `content`). */
function contentText(content: unknown): string {
  if (!Array.isArray(content)) return ''
  return content.map((block) => blockText(record(block))).join('')
}

// The tools the agent runs itself: its own (no type, or `custom`) and the Anthropic-defined
// ones whose results the agent sends back (bash, text editor, computer use, memory). Every
// other type (web_search_*, web_fetch_*, code_execution_*, mcp_toolset...) runs at Anthropic.
const CLIENT_TOOL_PREFIXES = ['bash_', 'text_editor_', 'computer_', 'memory_']

function clientRun(type: string | undefined): boolean {
  return (
    type === undefined ||
    type === 'custom' ||
    CLIENT_TOOL_PREFIXES.some((prefix) => type.startsWith(prefix))
  )
}

export const anthropicMessages: Dialect = {
  family: 'anthropic',
  provider: 'anthropic',
  upstreamPath: '/v1/messages',

  requestedOutputTokens(body) {
    return positiveInt(body, 'max_tokens')
  },

  refuseUnbounded(body) {
    refuseMcpServers(body)
    refuseCompaction(body)
    refuseBilledApart(body)
    refuseServerTools(
      body,
      clientRun,
      'Run it in the agent as a client tool (no type, or "custom").',
    )
  },

  prepare(body, maxOutputTokens) {
    // The API requires budget_tokens < max_tokens; a clamped max_tokens lowers it too.
    const sent: JsonBody = { ...body, max_tokens: maxOutputTokens }
    if (body.thinking !== undefined) sent.thinking = thinkingBelow(body.thinking, maxOutputTokens)
    return sent
  },

  usageOf(response) {
    const counts: AnthropicCounts = {}
    return readCounts(record(response)?.usage, counts) ? toUsage(counts) : undefined
  },

  textOf(response) {
    return contentText(record(response)?.content) || undefined
  },

  streamReader(body): StreamReader {
    const counts: AnthropicCounts = {}
    let reported = false
    // Thinking is billed in full and streamed summarised (Claude 4): what streams does not
    // count it, so a stream cut without usage is charged its output bound.
    const type = record(body.thinking)?.type
    const uncounted = type === 'enabled' || type === 'adaptive'
    return {
      read(event) {
        const data = parseJson(event.data)
        if (!data) return { forward: true }
        let text = ''
        switch (data.type) {
          case 'message_start': {
            const message = record(data.message)
            reported = readCounts(message?.usage, counts) || reported
            // Its output_tokens is a placeholder (1): the count comes with message_delta.
            counts.output = undefined
            // Empty from an honest provider; content here reaches the agent all the same (the
            // SDK's message snapshot starts from it), so it is counted as the deltas are.
            text = contentText(message?.content)
            if (uncounted) return { text, forward: true, uncounted }
            break
          }
          case 'message_delta':
            reported = readCounts(data.usage, counts) || reported
            break
          case 'content_block_start':
            text = blockText(record(data.content_block))
            break
          case 'content_block_delta':
            text = blockText(record(data.delta))
            break
        }
        return { text, forward: true }
      },
      usage: () => (reported ? toUsage(counts) : undefined),
    }
  },

  streamError(error) {
    return sseEvent(errorBody('anthropic', error), 'error')
  },
}
