// The AI SDK language-model middleware: every generate and stream call goes through the
// agent's guard before the provider is called, and is settled from the provider's usage.
// No policy here: it only translates AI SDK events into guard calls.
import type {
  LanguageModelV4,
  LanguageModelV4CallOptions,
  LanguageModelV4GenerateResult,
  LanguageModelV4Middleware,
  LanguageModelV4StreamResult,
} from '@ai-sdk/provider'
import {
  type AgentGuard,
  InvalidConfigError,
  KillSwitchError,
  type ModelCallTicket,
} from '@killswitch/core'
import { type BudgetScope, pick, SCOPE_KEY, scopeOf } from './budget-scope.js'
import { checkToolCall, parseToolInput } from './check-tool-call.js'
import { type GuardSource, resolveGuard } from './guard-options.js'
import { modelIdentity } from './model-identity.js'
import { providerStatusOf } from './provider-status.js'
import { revocationError } from './revocation-error.js'
import { guardStream } from './stream-guard.js'
import { toTokenUsage } from './usage.js'

/** Options of `killSwitchMiddleware` and `withKillSwitch`. */
export type KillSwitchMiddlewareOptions = GuardSource &
  BudgetScope & {
    /** The model id to price the calls with, when the wrapped model's own id is not priced. */
    model?: string
    /** The provider id to price with; defaults to the wrapped model's (`openai.chat` -> `openai`). */
    provider?: string
    /**
     * Milliseconds a streamed call waits for its consumer to ask for the next part before it
     * takes the consumer as gone: the provider is aborted and the call charged for what it
     * produced (`StreamAbandonedError`). `streamText` does not pass a consumer's `break`,
     * `reader.cancel()` or a dropped result to the model, so a pause is the only sign.
     * Default 5000; raise it for a consumer that pauses longer between reads.
     */
    idleConsumerMs?: number
    // BudgetScope: `runId` groups this run's calls; `runCap` is the run's own budget in
    // dollars; `parentRunId` the run it was started in (its budget is drawn on too); `budgets`
    // the shared budgets every call draws on. A call adds its own scope through
    // `providerOptions.killswitch` ({ budgets: ['customer-acme'], runId, runCap, parentRunId }).
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
  const guard = resolveGuard(options)
  const base = pick(options)
  const idleConsumerMs = options.idleConsumerMs ?? DEFAULT_IDLE_CONSUMER_MS
  if (typeof idleConsumerMs !== 'number' || !(idleConsumerMs > 0)) {
    throw new InvalidConfigError(
      'idleConsumerMs',
      `Invalid idleConsumerMs: a number of milliseconds > 0 (got ${String(options.idleConsumerMs)}).`,
    )
  }

  // The call's scope: the options' with the call's `providerOptions.killswitch` over it.
  const scopeFor = (params: LanguageModelV4CallOptions) =>
    scopeOf(base, params.providerOptions?.[SCOPE_KEY], `providerOptions.${SCOPE_KEY}`)

  const reserve = (
    params: LanguageModelV4CallOptions,
    model: LanguageModelV4,
    scope: BudgetScope,
  ) => {
    const { model: id, provider } = modelIdentity(model, options)
    return guard.beforeModelCall({
      model: id,
      provider,
      // Only its size is used, to bound the input tokens.
      input: { prompt: params.prompt, tools: params.tools },
      maxOutputTokens: params.maxOutputTokens,
      ...scope,
    })
  }

  return {
    specificationVersion: 'v4',

    // The provider is called through `model` rather than the `doGenerate` closure: the
    // closure is bound to the untransformed params, and the clamp and the signal depend on
    // the ticket, which exists only here. Reserving and settling in one scope also means a
    // hold can never be taken without the code that settles it.
    async wrapGenerate({ params, model }) {
      const scope = scopeFor(params)
      const ticket = await reserve(params, model, scope)
      const stopper = new AbortController()
      const call = { sent: false }
      let result: LanguageModelV4GenerateResult
      try {
        result = await untilRevoked(guard, stopper, call, () =>
          model.doGenerate(guardParams(params, ticket, stopper.signal)),
        )
      } catch (error) {
        throw await failed(guard, ticket, error, call.sent)
      }
      let text = ''
      const toolCalls: Array<{ name: string; args: unknown }> = []
      for (const part of result.content) {
        if (part.type === 'text') text += part.text
        if (part.type === 'tool-call') {
          toolCalls.push({ name: part.toolName, args: parseToolInput(part.input) })
        }
      }
      await guard.afterModelCall(ticket, { usage: toTokenUsage(result.usage), text, toolCalls })
      // After settling (the call was made and is paid for), before returning: generateText
      // executes the tools only once this result is back.
      for (const part of result.content) {
        if (part.type === 'tool-call') await checkToolCall(guard, part, scope)
      }
      return result
    },

    async wrapStream({ params, model }) {
      let ticket: ModelCallTicket
      let scope: BudgetScope
      try {
        scope = scopeFor(params)
        ticket = await reserve(params, model, scope)
      } catch (error) {
        return refusedStream(error)
      }
      // Also aborted by the stream guard when it stops the call (cap reached mid-stream, a
      // refused tool call, a revocation): the provider's request ends at once instead of
      // streaming on, billed.
      const stopper = new AbortController()
      const call = { sent: false }
      let started: LanguageModelV4StreamResult
      try {
        started = await untilRevoked(guard, stopper, call, () =>
          model.doStream(guardParams(params, ticket, stopper.signal)),
        )
      } catch (error) {
        return refusedStream(await failed(guard, ticket, error, call.sent))
      }
      const stream = guardStream(started.stream, {
        guard,
        ticket,
        runId: scope.runId,
        scope,
        abortProvider: (reason) => stopper.abort(reason),
        idleConsumerMs,
      })
      return { ...started, stream }
    },
  }
}

/**
 * A refusal as a stream that errors at once. Thrown from `wrapStream`, the error would become
 * an `error` part: `textStream` would end as if the model had nothing to say and `await text`
 * would reject with NoOutputGeneratedError. An errored stream makes `textStream`,
 * `fullStream` and `text` reject with the kill switch's own error. Other errors (a provider's
 * 429) are rethrown, so that the SDK's retries and error handling stay as they are.
 */
function refusedStream(error: unknown): LanguageModelV4StreamResult {
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
 * The caller's params with the ticket's output bound and the call's stop signal merged in.
 * The guard's own signal lives as long as the agent, so it is not merged here (every merge
 * would hang a dependent signal on it): revocation reaches the call's `stopper` instead.
 */
function guardParams(
  params: LanguageModelV4CallOptions,
  ticket: ModelCallTicket,
  stop: AbortSignal,
): LanguageModelV4CallOptions {
  return {
    ...withoutScope(params),
    // The core never raises the caller's own value, only lowers it to what the budget pays.
    maxOutputTokens: ticket.maxOutputTokens,
    abortSignal: params.abortSignal ? AbortSignal.any([params.abortSignal, stop]) : stop,
  }
}

/**
 * The params without the kill switch's own `providerOptions` key: it is this middleware's
 * input, not the provider's (providers read only their own key, but a gateway forwards all).
 */
function withoutScope(params: LanguageModelV4CallOptions): LanguageModelV4CallOptions {
  if (params.providerOptions?.[SCOPE_KEY] === undefined) return params
  const { [SCOPE_KEY]: _scope, ...providerOptions } = params.providerOptions
  return { ...params, providerOptions }
}

/**
 * Calls the provider unless the agent was revoked since the reservation (then `sent` stays
 * false: the request never left). A revocation during the call aborts the provider's signal
 * and rejects at once: a provider that ignores its abort signal must not keep the caller
 * waiting after a revoke (the guard charges what it may have billed).
 */
async function untilRevoked<T>(
  guard: AgentGuard,
  stopper: AbortController,
  sent: { sent: boolean },
  call: () => PromiseLike<T>,
): Promise<T> {
  if (guard.signal.aborted) throw guard.signal.reason
  let onAbort = () => {}
  const revoked = new Promise<never>((_, reject) => {
    onAbort = () => {
      stopper.abort(guard.signal.reason)
      reject(guard.signal.reason)
    }
  })
  guard.signal.addEventListener('abort', onAbort, { once: true })
  try {
    sent.sent = true
    return await Promise.race([call(), revoked])
  } finally {
    guard.signal.removeEventListener('abort', onAbort)
  }
}

/**
 * The provider call failed or was cancelled: the guard charges or releases the hold (`sent`
 * says whether the provider was called at all) and feeds the error to its detectors.
 * Returns the error to throw: the typed revocation error when the agent was revoked meanwhile.
 */
async function failed(
  guard: AgentGuard,
  ticket: ModelCallTicket,
  error: unknown,
  sent: boolean,
): Promise<unknown> {
  const reason = guard.signal.aborted ? revocationError(guard) : error
  const status = guard.signal.aborted ? undefined : providerStatusOf(error)
  try {
    await guard.failModelCall(ticket, reason, {
      sent,
      ...(status === undefined ? {} : { providerStatus: status }),
    })
  } catch {
    // The ledger is unreachable: the hold expires by its TTL. The caller needs the reason
    // the call failed, not the ledger's.
  }
  return reason
}
