// Test support: Anthropic's prompt cache as two generations of the AI SDK see it, each keeping
// Anthropic's bill of every call. `anthropicV2Model` answers as @ai-sdk/anthropic@2 (AI SDK 5,
// spec V2) does, shapes copied from its 2.0.112 source (not a dependency: ai 7 converts such a
// model): its usage holds the uncached input (`input_tokens`) and the cache reads alone; cache
// writes are only in `providerMetadata.anthropic`. `anthropicFetch` is the Messages API itself,
// for the real @ai-sdk/anthropic@4 client. Not exported.
import type { WrappableModel } from '../kill-switch-middleware.js'

/** A Messages API `usage` object, as Anthropic returns it. */
export interface AnthropicUsage {
  input_tokens: number
  output_tokens: number
  cache_read_input_tokens?: number
  cache_creation_input_tokens?: number
  cache_creation?: { ephemeral_5m_input_tokens: number; ephemeral_1h_input_tokens: number }
}

/** Anthropic's usage for a call with `uncached` plain input tokens and these cache counts. */
export function anthropicUsage(
  uncached: number,
  output: number,
  cache: { read?: number; write5m?: number; write1h?: number } = {},
): AnthropicUsage {
  const write5m = cache.write5m ?? 0
  const write1h = cache.write1h ?? 0
  return {
    input_tokens: uncached,
    output_tokens: output,
    cache_read_input_tokens: cache.read ?? 0,
    cache_creation_input_tokens: write5m + write1h,
    cache_creation: { ephemeral_5m_input_tokens: write5m, ephemeral_1h_input_tokens: write1h },
  }
}

/** The caches both adapters' tests settle: a 5-minute write, a 1-hour write, a read. */
export const CACHE_CASES = [
  { name: 'a five-minute cache write', usage: anthropicUsage(50, 200, { write5m: 22_000 }) },
  {
    name: 'a one-hour cache write',
    usage: anthropicUsage(50, 200, { write1h: 22_000 }),
    ttl: '1h' as const,
  },
  { name: 'a cache read', usage: anthropicUsage(50, 200, { read: 22_000 }) },
]

/**
 * Anthropic's bill in micro-dollars, at claude-haiku-4-5's published rates: $1 per million
 * input tokens, cache reads 0.1x, five-minute cache writes 1.25x, one-hour ones 2x, $5 per
 * million output tokens. Exact (not rounded): a fraction of a micro-dollar stays.
 */
export function haikuBillMicros(usage: AnthropicUsage): number {
  const write1h = usage.cache_creation?.ephemeral_1h_input_tokens ?? 0
  const write5m = (usage.cache_creation_input_tokens ?? 0) - write1h
  // In hundredths of a micro-dollar: integers, so the sum is exact.
  const hundredths =
    100 * usage.input_tokens +
    10 * (usage.cache_read_input_tokens ?? 0) +
    125 * write5m +
    200 * write1h +
    500 * usage.output_tokens
  return hundredths / 100
}

type V2Model = Extract<WrappableModel, { specificationVersion: 'v2' }>
type V2Stream = Awaited<ReturnType<V2Model['doStream']>>['stream']
type V2Part = V2Stream extends ReadableStream<infer Part> ? Part : never

export interface AnthropicV2Model {
  model: V2Model
  /** What Anthropic billed so far, in micro-dollars (exact). */
  billMicros(): number
  /** Provider calls so far, generate and stream. */
  calls(): number
}

/** A V2 Anthropic model whose i-th call (0-based) reports `usage(i)`. */
export function anthropicV2Model(
  usage: (call: number) => AnthropicUsage,
  modelId = 'claude-haiku-4-5',
): AnthropicV2Model {
  let calls = 0
  let bill = 0
  const answer = () => {
    const raw = usage(calls++)
    bill += haikuBillMicros(raw)
    return {
      // @ai-sdk/anthropic@2's doGenerate: usage from input_tokens, reads as cachedInputTokens.
      usage: {
        inputTokens: raw.input_tokens,
        outputTokens: raw.output_tokens,
        totalTokens: raw.input_tokens + raw.output_tokens,
        cachedInputTokens: raw.cache_read_input_tokens ?? undefined,
      },
      providerMetadata: {
        anthropic: {
          usage: { ...raw },
          cacheCreationInputTokens: raw.cache_creation_input_tokens ?? null,
          stopSequence: null,
          iterations: null,
          container: null,
          contextManagement: null,
        },
      },
    }
  }
  const body = (options: Parameters<V2Model['doGenerate']>[0]) => ({
    model: modelId,
    max_tokens: options.maxOutputTokens,
    messages: options.prompt,
  })
  const response = { id: 'msg_1', modelId, headers: {} }
  const model: V2Model = {
    specificationVersion: 'v2',
    provider: 'anthropic.messages',
    modelId,
    supportedUrls: {},
    async doGenerate(options) {
      const { usage, providerMetadata } = answer()
      return {
        content: [{ type: 'text', text: 'ok' }],
        finishReason: 'stop',
        usage,
        request: { body: body(options) },
        response,
        warnings: [],
        providerMetadata,
      }
    },
    async doStream(options) {
      const { usage, providerMetadata } = answer()
      const parts: V2Part[] = [
        { type: 'stream-start', warnings: [] },
        { type: 'response-metadata', id: response.id, modelId },
        { type: 'text-start', id: '0' },
        { type: 'text-delta', id: '0', delta: 'ok' },
        { type: 'text-end', id: '0' },
        { type: 'finish', finishReason: 'stop', usage, providerMetadata },
      ]
      const stream = new ReadableStream<V2Part>({
        start(controller) {
          for (const part of parts) controller.enqueue(part)
          controller.close()
        },
      })
      return { stream, request: { body: { ...body(options), stream: true } }, response }
    },
  }
  return { model, billMicros: () => bill, calls: () => calls }
}

export interface AnthropicFetch {
  /** For `createAnthropic({ fetch })`: answers every request, streamed or not. */
  fetch: typeof globalThis.fetch
  /** What Anthropic billed so far, in micro-dollars (exact). */
  billMicros(): number
}

/** The Messages API answering "ok" to each call, the i-th (0-based) with `usage(i)`. */
export function anthropicFetch(usage: (call: number) => AnthropicUsage): AnthropicFetch {
  let calls = 0
  let bill = 0
  const fetch = async (_url: string | URL | Request, init?: RequestInit) => {
    const body = JSON.parse(String(init?.body)) as { model: string; stream?: boolean }
    const raw = usage(calls++)
    bill += haikuBillMicros(raw)
    const message = {
      id: 'msg_1',
      type: 'message',
      role: 'assistant',
      model: body.model,
      content: [] as unknown[],
      stop_reason: null as string | null,
      stop_sequence: null,
    }
    if (body.stream !== true) {
      const done = { ...message, content: [{ type: 'text', text: 'ok' }], stop_reason: 'end_turn' }
      return Response.json({ ...done, usage: raw })
    }
    // As Anthropic streams: the input counts in message_start, the output in message_delta.
    const events: Array<[string, object]> = [
      ['message_start', { message: { ...message, usage: { ...raw, output_tokens: 1 } } }],
      ['content_block_start', { index: 0, content_block: { type: 'text', text: '' } }],
      ['content_block_delta', { index: 0, delta: { type: 'text_delta', text: 'ok' } }],
      ['content_block_stop', { index: 0 }],
      [
        'message_delta',
        {
          delta: { stop_reason: 'end_turn', stop_sequence: null },
          usage: { output_tokens: raw.output_tokens },
        },
      ],
      ['message_stop', {}],
    ]
    const text = events
      .map(([type, data]) => `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`)
      .join('')
    return new Response(text, { headers: { 'content-type': 'text/event-stream' } })
  }
  return { fetch: fetch as typeof globalThis.fetch, billMicros: () => bill }
}
