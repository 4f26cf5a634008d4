// Test support: scripted AI SDK models (MockLanguageModelV4 from `ai/test`) that answer with
// text or tool calls, in generate and stream form, with realistic usage. Not exported.
import type {
  LanguageModelV4Content,
  LanguageModelV4GenerateResult,
  LanguageModelV4StreamPart,
  LanguageModelV4Usage,
} from '@ai-sdk/provider'
import { simulateReadableStream } from 'ai'
import { MockLanguageModelV4 } from 'ai/test'

/** The model id the tests price with `prices` overrides. */
export const MOCK_MODEL_ID = 'mock-model'
/** $10 per million input tokens, $30 per million output tokens: easy mental arithmetic. */
export const MOCK_PRICE = { inputPerMTok: 10, outputPerMTok: 30 }

/** V4 usage from token counts. */
export function v4Usage(
  input: number,
  output: number,
  extra: { cacheRead?: number; cacheWrite?: number; reasoning?: number } = {},
): LanguageModelV4Usage {
  const cacheRead = extra.cacheRead ?? 0
  const cacheWrite = extra.cacheWrite ?? 0
  const reasoning = extra.reasoning ?? 0
  return {
    inputTokens: { total: input, noCache: input - cacheRead - cacheWrite, cacheRead, cacheWrite },
    outputTokens: { total: output, text: output - reasoning, reasoning },
  }
}

/** One model answer: text, or a tool call. */
export type Answer =
  | { text: string; usage?: LanguageModelV4Usage }
  | { tool: string; args: unknown; usage?: LanguageModelV4Usage; toolCallId?: string }

const DEFAULT_USAGE = () => v4Usage(40, 20)

export function generateResult(answer: Answer, call = 0): LanguageModelV4GenerateResult {
  const content: LanguageModelV4Content[] =
    'text' in answer
      ? [{ type: 'text', text: answer.text }]
      : [
          {
            type: 'tool-call',
            toolCallId: answer.toolCallId ?? `call-${call}`,
            toolName: answer.tool,
            input: JSON.stringify(answer.args),
          },
        ]
  return {
    content,
    finishReason: { unified: 'text' in answer ? 'stop' : 'tool-calls', raw: undefined },
    usage: answer.usage ?? DEFAULT_USAGE(),
    warnings: [],
  }
}

export function streamParts(answer: Answer, call = 0): LanguageModelV4StreamPart[] {
  const finish: LanguageModelV4StreamPart = {
    type: 'finish',
    finishReason: { unified: 'text' in answer ? 'stop' : 'tool-calls', raw: undefined },
    usage: answer.usage ?? DEFAULT_USAGE(),
  }
  if ('text' in answer) {
    const words = answer.text.split(/(?<= )/)
    return [
      { type: 'stream-start', warnings: [] },
      { type: 'text-start', id: 't' },
      ...words.map((delta) => ({ type: 'text-delta' as const, id: 't', delta })),
      { type: 'text-end', id: 't' },
      finish,
    ]
  }
  return [
    { type: 'stream-start', warnings: [] },
    {
      type: 'tool-call',
      toolCallId: answer.toolCallId ?? `call-${call}`,
      toolName: answer.tool,
      input: JSON.stringify(answer.args),
    },
    finish,
  ]
}

/**
 * A mock model that gives `script(i)` as its i-th answer (0-based), to generate and stream
 * calls alike. Its `doGenerateCalls` / `doStreamCalls` log every provider call.
 */
export function scriptedModel(
  script: (call: number) => Answer,
  options: { modelId?: string; provider?: string } = {},
): MockLanguageModelV4 {
  let generateCalls = 0
  let streamCalls = 0
  return new MockLanguageModelV4({
    modelId: options.modelId ?? MOCK_MODEL_ID,
    provider: options.provider ?? 'mock.chat',
    doGenerate: async () => {
      const call = generateCalls++
      return generateResult(script(call), call)
    },
    doStream: async () => {
      const call = streamCalls++
      return {
        stream: simulateReadableStream({
          chunks: streamParts(script(call), call),
          chunkDelayInMs: null,
          initialDelayInMs: null,
        }),
      }
    },
  })
}

/** A model that calls `tool` with the same arguments on every step. */
export function loopingModel(
  tool = 'search',
  args: unknown = { query: 'gpu prices' },
): MockLanguageModelV4 {
  return scriptedModel(() => ({ tool, args }))
}

/** A model that calls `tool` on every step, for the next page each time: a loop that makes "progress". */
export function paginatingModel(tool = 'search'): MockLanguageModelV4 {
  return scriptedModel((call) => ({ tool, args: { query: `gpu prices, page ${call + 1}` } }))
}
