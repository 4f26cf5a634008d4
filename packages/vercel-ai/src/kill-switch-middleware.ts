// The AI SDK middleware: every generate and stream call goes through the core's one
// model-call lifecycle (startModelCall, call.send, watchModelStream). No policy here: it only
// translates AI SDK params, results and stream parts.
import type {
  EmbeddingModelV4,
  LanguageModelV4,
  LanguageModelV4CallOptions,
  LanguageModelV4Middleware,
} from '@ai-sdk/provider'
import {
  type AdapterOptions,
  adapterSetup,
  InvalidConfigError,
  KillSwitchError,
  type ProviderLimits,
  watchModelStream,
} from '@killswitch/core'
import { wrapEmbeddingModel, wrapLanguageModel } from 'ai'
import {
  killSwitchEmbeddingMiddleware,
  type WrappableEmbeddingModel,
} from './embedding-middleware.js'
import { startLanguageModelCall } from './language-model-call.js'
import { parseToolInput, streamPartReader } from './stream-guard.js'
import { toTokenUsage } from './usage.js'

/** The options every adapter takes (tool prices go to `guardTools`), and `idleConsumerMs`. */
export interface KillSwitchMiddlewareOptions extends Omit<AdapterOptions, 'toolPrices'> {
  /**
   * Milliseconds without a read before a stream's consumer is taken as gone (default 5000):
   * `streamText` tees its stream, so a `break` never reaches the model, a pause is the sign.
   */
  idleConsumerMs?: number
}

/** Any model object `wrapLanguageModel` accepts (V2, V3 and V4 providers). */
export type WrappableModel = Parameters<typeof wrapLanguageModel>[0]['model']

/**
 * Wraps a model so that every call goes through the agent's guard: a language model
 * (`generateText`, `streamText`) or an embedding model (`embed`, `embedMany`).
 *
 * @example
 * const model = withKillSwitch(openai('gpt-4o'), { killSwitch: ks, credential })
 * const embedder = withKillSwitch(openai.embedding('text-embedding-3-small'), { killSwitch: ks, credential })
 */
export function withKillSwitch(
  model: WrappableModel,
  options: KillSwitchMiddlewareOptions,
): LanguageModelV4
export function withKillSwitch(
  model: WrappableEmbeddingModel,
  options: Omit<AdapterOptions, 'toolPrices'>,
): EmbeddingModelV4
export function withKillSwitch(
  model: WrappableModel | WrappableEmbeddingModel,
  options: KillSwitchMiddlewareOptions,
): LanguageModelV4 | EmbeddingModelV4 {
  const calls = model as { doGenerate?: unknown; doStream?: unknown; doEmbed?: unknown } | null
  if (typeof calls?.doEmbed === 'function') {
    return wrapEmbeddingModel({
      model: model as WrappableEmbeddingModel,
      middleware: killSwitchEmbeddingMiddleware(options),
    })
  }
  // An image, speech or transcription model has no calls this adapter can guard: wrapped,
  // it would fail at its first call, or (called around the wrapper) spend unguarded.
  if (typeof calls?.doGenerate !== 'function' || typeof calls.doStream !== 'function') {
    throw new InvalidConfigError(
      'model',
      'Invalid model: withKillSwitch guards language models (doGenerate and doStream) and embedding models (doEmbed); this is neither. Image, speech and transcription calls are not guarded by the AI SDK adapter: guard them with ks.guard(credential).reserveSpend at their price.',
    )
  }
  return wrapLanguageModel({
    model: model as WrappableModel,
    middleware: killSwitchMiddleware(options),
  })
}

/**
 * Middleware for `wrapLanguageModel`: refuses a call before the provider sees it (revoked,
 * over the cap, runaway), clamps `maxOutputTokens`, stops the call in flight on revocation,
 * settles from the real usage and checks every tool call before the SDK executes it.
 *
 * @example
 * wrapLanguageModel({ model, middleware: killSwitchMiddleware({ killSwitch: ks, credential }) })
 */
export function killSwitchMiddleware(
  options: KillSwitchMiddlewareOptions,
): LanguageModelV4Middleware {
  const { guard, naming, scope } = adapterSetup(options, {
    name: 'killSwitchMiddleware',
    own: ['idleConsumerMs'],
    without: ['toolPrices'],
  })
  const idleConsumerMs = options.idleConsumerMs ?? 5_000
  if (typeof idleConsumerMs !== 'number' || !(idleConsumerMs > 0)) {
    throw new InvalidConfigError(
      'idleConsumerMs',
      `Invalid idleConsumerMs: a number of milliseconds > 0 (got ${String(idleConsumerMs)}).`,
    )
  }
  // Holds the call, a call's `providerOptions.killswitch` over the options' scope; `sent`
  // gives the provider its params within the hold, with the stop signal.
  const start = (params: LanguageModelV4CallOptions, model: LanguageModelV4) =>
    startLanguageModelCall(guard, model, params, { naming, scope })

  return {
    specificationVersion: 'v4',
    // The provider is called through `model`, not the `doGenerate` closure: that is bound to
    // the caller's params, and the clamp and stop signal exist only once the call is held.
    async wrapGenerate({ params, model }) {
      const { call, sent } = await start(params, model)
      const result = await call.run((limits) => model.doGenerate(sent(limits)))
      // One pass, no array per part: this runs on every call (the overhead bench's hot path).
      let text = ''
      const toolCalls: Array<{ name: string; args: unknown }> = []
      for (const part of result.content) {
        if (part.type === 'text') text += part.text
        if (part.type === 'tool-call') {
          toolCalls.push({ name: part.toolName, args: parseToolInput(part.input) })
        }
      }
      const usage = toTokenUsage(result.usage, result.providerMetadata)
      await call.finish({ usage, text, toolCalls })
      // A middleware inside this one changed the request after the hold: said loudly.
      call.checkSent(result.request?.body)
      // generateText executes the tools once this result is back: checked before that, each
      // under its id (guardTools runs it in this call's run and budgets).
      let index = 0
      for (const part of result.content) {
        if (part.type !== 'tool-call') continue
        const toolCall = toolCalls[index++] as (typeof toolCalls)[number]
        await call.checkToolCall({ ...toolCall, toolCallId: part.toolCallId })
      }
      return result
    },
    async wrapStream({ params, model }) {
      try {
        const { call, sent } = await start(params, model)
        const started = await call.run(async (limits) => {
          const answer = await model.doStream(sent(limits))
          // A middleware inside this one changed the request after the hold: the call fails.
          call.checkSent(answer.request?.body)
          return answer
        })
        const read = streamPartReader()
        return {
          ...started,
          stream: watchModelStream(call, started.stream, { read, idleConsumerMs }),
        }
      } catch (error) {
        // A refusal thrown would be an `error` part (textStream just ends); an errored stream
        // rejects textStream and text with it. Others (a 429) go to the SDK's own retries.
        if (!KillSwitchError.isInstance(error)) throw error
        return { stream: new ReadableStream({ start: (stream) => stream.error(error) }) }
      }
    },
  }
}
