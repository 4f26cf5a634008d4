// The AI SDK language-model middleware: every generate and stream call goes through the
// core's one model-call lifecycle (guard.startModelCall, call.send, watchModelStream). No
// policy here: it only translates AI SDK calls, results and stream parts.
import type {
  LanguageModelV4,
  LanguageModelV4CallOptions,
  LanguageModelV4Middleware,
} from '@ai-sdk/provider'
import {
  type AdapterOptions,
  adapterSetup,
  InvalidConfigError,
  KillSwitchError,
  type ModelCall,
  type ProviderLimits,
  watchModelStream,
} from '@killswitch/core'
import { SCOPE_KEY, scopeOf } from './budget-scope.js'
import { modelIdentity } from './model-identity.js'
import { parseToolInput, streamPartReader } from './stream-guard.js'
import { toTokenUsage } from './usage.js'

/**
 * Options of `killSwitchMiddleware` and `withKillSwitch`: `{ killSwitch, credential }` or a
 * ready `{ guard }`; `model`, `provider` to price a model whose own id is not priced; the
 * budget scope (`runId`, `runCap`, `parentRunId`, `budgets`), which a call extends through
 * `providerOptions.killswitch`. Tool prices go to `guardTools` (the tools run there).
 */
export interface KillSwitchMiddlewareOptions extends Omit<AdapterOptions, 'toolPrices'> {
  /**
   * Milliseconds a streamed call waits for its consumer to ask for the next part before it
   * takes the consumer as gone: the provider is aborted and the call charged for what it
   * produced (`StreamAbandonedError`). `streamText` does not pass a consumer's `break`,
   * `reader.cancel()` or a dropped result to the model, so a pause is the only sign.
   * Default 5000; raise it for a consumer that pauses longer between reads.
   */
  idleConsumerMs?: number
}

const DEFAULT_IDLE_CONSUMER_MS = 5_000

/**
 * Kill switch middleware for `wrapLanguageModel`: refuses a call before the provider sees it
 * when the agent is revoked, over its cap or a runaway; clamps `maxOutputTokens` to what the
 * budget pays for; cancels the call in flight on revocation; settles from the real usage; and
 * checks every tool call before the SDK executes it. Refusals throw the core's typed errors.
 *
 * @example
 * import { wrapLanguageModel } from 'ai'
 * import { killSwitchMiddleware } from '@killswitch/vercel-ai'
 * const model = wrapLanguageModel({
 *   model: openai('gpt-4o'),
 *   middleware: killSwitchMiddleware({ killSwitch: ks, credential }),
 * })
 */
export function killSwitchMiddleware(
  options: KillSwitchMiddlewareOptions,
): LanguageModelV4Middleware {
  const { guard, naming, scope: base } = adapterSetup(options)
  const idleConsumerMs = options.idleConsumerMs ?? DEFAULT_IDLE_CONSUMER_MS
  if (typeof idleConsumerMs !== 'number' || !(idleConsumerMs > 0)) {
    throw new InvalidConfigError(
      'idleConsumerMs',
      `Invalid idleConsumerMs: a number of milliseconds > 0 (got ${String(options.idleConsumerMs)}).`,
    )
  }

  const start = (params: LanguageModelV4CallOptions, model: LanguageModelV4) =>
    guard.startModelCall({
      ...modelIdentity(model, naming),
      // Only its size is used, to bound the input tokens.
      input: { prompt: params.prompt, tools: params.tools },
      maxOutputTokens: params.maxOutputTokens,
      // The options' scope with the call's `providerOptions.killswitch` over it.
      ...scopeOf(base, params.providerOptions?.[SCOPE_KEY], `providerOptions.${SCOPE_KEY}`),
      ...(params.abortSignal ? { signal: params.abortSignal } : {}),
    })

  return {
    specificationVersion: 'v4',

    // The provider is called through `model` rather than the `doGenerate` closure: the
    // closure is bound to the untransformed params, and the clamp and the stop signal exist
    // only once the call is reserved.
    async wrapGenerate({ params, model }) {
      const call = await start(params, model)
      const result = await send(call, (limits) => model.doGenerate(providerParams(params, limits)))
      let text = ''
      const toolCalls: Array<{ name: string; args: unknown }> = []
      for (const part of result.content) {
        if (part.type === 'text') text += part.text
        if (part.type === 'tool-call') {
          toolCalls.push({ name: part.toolName, args: parseToolInput(part.input) })
        }
      }
      await call.finish({ usage: toTokenUsage(result.usage), text, toolCalls })
      // After settling (the call was made and is paid for), before returning: generateText
      // executes the tools only once this result is back.
      for (const toolCall of toolCalls) await call.checkToolCall(toolCall)
      return result
    },

    async wrapStream({ params, model }) {
      try {
        const call = await start(params, model)
        const started = await send(call, (limits) => model.doStream(providerParams(params, limits)))
        const read = streamPartReader()
        return {
          ...started,
          stream: watchModelStream(call, started.stream, { read, idleConsumerMs }),
        }
      } catch (error) {
        return refusedStream(error)
      }
    },
  }
}

/** The provider called through the call's lifecycle; its failure ended there and rethrown. */
async function send<T>(call: ModelCall, provider: (limits: ProviderLimits) => PromiseLike<T>) {
  try {
    return await call.send(provider)
  } catch (error) {
    throw await call.fail(error)
  }
}

/**
 * A refusal as a stream that errors at once. Thrown from `wrapStream`, the error would become
 * an `error` part: `textStream` would end as if the model had nothing to say and `await text`
 * would reject with NoOutputGeneratedError. An errored stream makes `textStream`,
 * `fullStream` and `text` reject with the kill switch's own error. Other errors (a provider's
 * 429) are rethrown, so that the SDK's retries and error handling stay as they are.
 */
function refusedStream(error: unknown): { stream: ReadableStream<never> } {
  if (!KillSwitchError.isInstance(error)) throw error
  return {
    stream: new ReadableStream({
      start(controller) {
        controller.error(error)
      },
    }),
  }
}

/**
 * The caller's params with the call's clamped output limit and stop signal (aborted on
 * revocation, at the cap, and when the caller's own signal aborts), without the kill
 * switch's `providerOptions` key: it is this middleware's input, not the provider's
 * (providers read only their own key, but a gateway forwards all).
 */
function providerParams(
  params: LanguageModelV4CallOptions,
  { maxOutputTokens, signal }: ProviderLimits,
): LanguageModelV4CallOptions {
  const { [SCOPE_KEY]: _scope, ...providerOptions } = params.providerOptions ?? {}
  return {
    ...params,
    ...(params.providerOptions ? { providerOptions } : {}),
    maxOutputTokens,
    abortSignal: signal,
  }
}
