// A chat model that guards its own calls, wherever it is called from: directly (`invoke`,
// `stream`, `batch`, `streamEvents`), through a binding (`bindTools`, `withStructuredOutput`,
// `withConfig`), or by another middleware of a `createAgent` agent (summarization, tool
// selection, tool emulation) that killSwitchMiddleware never sees. Each provider call runs
// through the core's lifecycle as the middleware's do: held, clamped, given the stop signal,
// counted as it streams, and ended once whatever happens.
//
// It is the model itself, not a callback: a consumer that stops reading `model.stream()`
// returns this model's own generator, so the call ends at once at what streamed. LangChain
// tells callbacks nothing then (the KillSwitchCallbackHandler's call would stay held).
//
// The guarded model inherits everything from the model (an object whose prototype is it) and
// overrides the three methods that call the provider. Each runs the provider on the model
// itself (or its clamped rebuild), never on the guarded object, so no call is held twice.
import type { AdapterOptions, AdapterSetup, ModelCall, StreamEvent } from '@killswitch/core'
import { adapterSetup, InvalidConfigError, watchModelStream } from '@killswitch/core'
import { BaseCallbackHandler } from '@langchain/core/callbacks/base'
import type { CallbackManagerForLLMRun, Callbacks } from '@langchain/core/callbacks/manager'
import { BaseChatModel } from '@langchain/core/language_models/chat_models'
import type { AIMessageChunk } from '@langchain/core/messages'
import type { ChatGenerationChunk, ChatResult } from '@langchain/core/outputs'
import { RunnableBinding } from '@langchain/core/runnables'
import { refuseClientRetries } from './client-retries.js'
import { withMaxOutputTokens } from './model-binding.js'
import { budgetScope, sentFields, startLangChainCall } from './model-call-request.js'
import { identityFromLsParams, isConfigurableModel } from './model-identity.js'
import { deltaText, modelCallResult, providerMessage } from './model-io.js'

type Options = BaseChatModel['ParsedCallOptions']
type Fields = Record<string, unknown>

/** Models returned by guardModel: guarding one again would hold each call twice. */
const guardedModels = new WeakSet<object>()

/**
 * The model, guarded by the agent's kill switch: every call it makes is refused when the
 * agent is revoked, over its cap or running away, clamped to what the agent can afford,
 * stopped in flight on revocation or at the hold, and settled at the provider's usage (or
 * what the guard counted, whichever is larger). Use it for a model called outside the
 * agent's model node: a middleware's own model, a direct `invoke` or `stream`. Not together
 * with killSwitchMiddleware or KillSwitchCallbackHandler on the same calls (held twice).
 *
 * @example
 * const summarizer = guardModel(new ChatOpenAI({ model: 'gpt-4o-mini', maxTokens: 1000, maxRetries: 0 }), { killSwitch: ks, credential })
 * createAgent({ model, tools, middleware: [summarizationMiddleware({ model: summarizer }), killSwitchMiddleware({ killSwitch: ks, credential })] })
 */
export function guardModel<T extends BaseChatModel>(model: T, options: AdapterOptions): T {
  const refused = refusal(model)
  if (refused !== undefined) throw new InvalidConfigError('model', refused)
  return guarded(model, adapterSetup(options, { name: 'guardModel' }))
}

/** Why guardModel cannot guard `model`, if it cannot. */
function refusal(model: unknown): string | undefined {
  if (!(model instanceof BaseChatModel)) {
    return 'Invalid model: guardModel guards LangChain chat models (a BaseChatModel such as ChatOpenAI). For a chain or an agent, use KillSwitchCallbackHandler or killSwitchMiddleware.'
  }
  if (isConfigurableModel(model)) {
    return "Invalid model: initChatModel's configurable model builds a new provider model for each call, out of guardModel's reach. Build the provider model itself (new ChatOpenAI({ model: 'gpt-4o-mini', maxRetries: 0 })) and guard that, or put a KillSwitchCallbackHandler in the configurable model's callbacks."
  }
  if (isGuardedModel(model)) {
    return 'Invalid model: it is already guarded (guardModel was given its own result): guarded again, each call would be held twice. Pass the guarded model as it is.'
  }
  return undefined
}

function guarded<T extends BaseChatModel>(model: T, setup: AdapterSetup): T {
  // Refused now (so are the models its withConfig and bindTools build): a model's own
  // retries would all run under one hold.
  refuseClientRetries(model)
  // Named now, not at the first call: a model the kill switch cannot price is refused here.
  identityFromLsParams(model.getLsParams({} as Options), setup.naming)
  const base = BaseChatModel.prototype
  const streams = model._streamResponseChunks !== base._streamResponseChunks
  const ownBindTools = model.bindTools
  const overrides: Partial<BaseChatModel> = {
    async _generate(messages, options, runManager) {
      const call = await start(model, setup, messages, options, runManager)
      const result: ChatResult = await call.run(({ maxOutputTokens, signal }) =>
        withMaxOutputTokens(model, maxOutputTokens)._generate(
          messages,
          { ...options, signal },
          countedRun(runManager, call),
        ),
      )
      const answer = modelCallResult(result.generations[0]?.message)
      await call.finish(answer)
      // The caller runs the tools the model asked for once this returns: checked before
      // (a structured output's answer is no tool it runs).
      const answered = structuredAnswer(model, options)
      for (const toolCall of answer.toolCalls ?? []) {
        if (toolCall.name !== answered) await call.checkToolCall(toolCall)
      }
      return result
    },
    // LangChain's own bridge from chunks to events, so that event streams (ChatOpenAI's
    // native ones included) go through the guarded chunks below.
    _streamChatModelEvents: base._streamChatModelEvents,
    ...(streams && {
      async *_streamResponseChunks(messages, options, runManager) {
        const call = await start(model, setup, messages, options, runManager)
        const answered = structuredAnswer(model, options)
        const source = await call.send(({ maxOutputTokens, signal }) => {
          const clamped = withMaxOutputTokens(model, maxOutputTokens)
          const chunks = clamped._streamResponseChunks(messages, { ...options, signal }, runManager)
          return Promise.resolve(ReadableStream.from(withEnding(chunks, answered)))
        })
        // A consumer's break returns this generator, which cancels the watched stream: the
        // call ends there, at what streamed (so no idle timer: the cancel always arrives).
        const read = (part: Part) => part.event
        const parts = watchModelStream(call, source, { read, idleConsumerMs: Infinity })
        for await (const { chunk } of parts) if (chunk !== undefined) yield chunk
      },
    }),
    // A binding's model: ChatOpenAI's withConfig (so its bindTools and withStructuredOutput)
    // builds a new model, and some bindTools build one of their own (FakeStreamingChatModel's).
    // It is guarded too, or the binding would call the provider unguarded.
    withConfig(config) {
      return guardedResult(model.withConfig.call(this, config), setup)
    },
    ...(ownBindTools !== undefined && {
      bindTools(tools, kwargs) {
        return guardedResult(ownBindTools.call(this, tools, kwargs), setup)
      },
    }),
  }
  // A run manager for every call, callbacks or not: the call's `metadata.killswitch` scope
  // and the tokens a model streams inside `_generate` reach the guard only through it.
  const callbacks = withRunAnchor(model.callbacks)
  const result = Object.assign(Object.create(model), overrides, { callbacks }) as T
  guardedModels.add(result)
  return result
}

/**
 * Whether `model` (or the model a binding wraps) is guardModel's, or built on one
 * (`Object.create(guarded)`): its calls hold already.
 */
export function isGuardedModel(model: unknown): boolean {
  const chat = RunnableBinding.isRunnableBinding(model) ? model.bound : model
  for (let at = chat; typeof at === 'object' && at !== null; at = Object.getPrototypeOf(at)) {
    if (guardedModels.has(at)) return true
  }
  return false
}

/**
 * A handler that handles nothing: LangChain makes a run manager only for a call with some
 * handler, and without one a call's metadata and streamed tokens never reach `_generate`.
 */
class KillSwitchRunAnchor extends BaseCallbackHandler {
  name = 'KillSwitchRunAnchor'
}
const RUN_ANCHOR = new KillSwitchRunAnchor()

function withRunAnchor(callbacks: Callbacks | undefined): Callbacks {
  if (callbacks === undefined) return [RUN_ANCHOR]
  if (Array.isArray(callbacks)) return [...callbacks, RUN_ANCHOR]
  const manager = callbacks.copy()
  manager.addHandler(RUN_ANCHOR, false)
  return manager
}

/** What a method of the model returned, with the chat model in it (if any) guarded. */
function guardedResult<T>(next: T, setup: AdapterSetup): T {
  if (next instanceof BaseChatModel) return isGuardedModel(next) ? next : guarded(next, setup)
  if (!RunnableBinding.isRunnableBinding(next)) return next
  const { bound, kwargs, config, configFactories } = next
  if (!(bound instanceof BaseChatModel) || isGuardedModel(bound)) return next
  return new RunnableBinding({ bound: guarded(bound, setup), kwargs, config, configFactories }) as T
}

/** Reserves a call of the model: its identity, input, limits and scope, as sent. */
function start(
  model: BaseChatModel,
  { guard, naming, scope }: AdapterSetup,
  ...[messages, options, runManager]: Parameters<BaseChatModel['_generate']>
): Promise<ModelCall> {
  // Before the hold: a call option may ask for retries the model's own caller does not make.
  refuseClientRetries(model, options)
  // The API fields beside the messages (tools, kwargs, call options), as the model sends them.
  const params = invocationParams(model, options)
  return startLangChainCall(guard, {
    identity: identityFromLsParams(model.getLsParams(options), naming),
    chatModel: model,
    params,
    input: { messages: messages.map(providerMessage), request: sentFields(params, options) },
    optionsByPath: { '': model, request: params },
    // The run's `metadata.killswitch` over the options' scope, as the callback handler reads it.
    scope: budgetScope(scope, 'metadata', runManager),
    signal: options.signal,
  })
}

function invocationParams(model: BaseChatModel, options: Options): Fields | undefined {
  try {
    return model.invocationParams(options)
  } catch {
    return undefined // the model refuses these options itself when it is called
  }
}

/**
 * The run's callbacks, counting the tokens a model streams inside `_generate` (ChatOpenAI
 * with `streaming: true`) so the call stops at its hold.
 */
function countedRun(runManager: CallbackManagerForLLMRun | undefined, call: ModelCall) {
  if (runManager === undefined) return undefined
  const counted = Object.create(runManager) as CallbackManagerForLLMRun
  counted.handleLLMNewToken = (token, index, runId, parentRunId, tags, fields) => {
    call.output({ text: deltaText(token, fields) })
    return runManager.handleLLMNewToken(token, index, runId, parentRunId, tags, fields)
  }
  return counted
}

/** A streamed part: what it means to the guard, with the chunk for the consumer if any. */
type Part = { event: StreamEvent; chunk?: ChatGenerationChunk }

/**
 * The function whose call is the model's answer, when the call is a structured output by
 * function calling (`withStructuredOutput` with ChatOpenAI's `functionCalling`, the default
 * for gpt-4 and gpt-3.5, or ChatAnthropic's tool use): the schema bound as the call's only
 * tool, which LangChain parses into the result. No app runs it, so it is no tool call to
 * check: a classifier giving the same label 40 times is not a tool called 40 times. Every
 * provider's `withStructuredOutput` marks its calls `ls_structured_output_format` (for
 * LangSmith); createAgent marks its native structured output too, sent beside the agent's
 * own tools with a `json_schema` response format: those tools are checked.
 */
function structuredAnswer(model: BaseChatModel, options: Options): string | undefined {
  // ChatOpenAI keeps a binding's options on the model it builds until the call.
  const defaults = (model as { defaultOptions?: object }).defaultOptions
  const sent = { ...defaults, ...options } as Fields
  if (sent.ls_structured_output_format === undefined) return undefined
  if ((sent.response_format as { type?: unknown } | undefined)?.type === 'json_schema') {
    return undefined
  }
  const tools = sent.tools
  if (!Array.isArray(tools) || tools.length !== 1) return undefined
  // OpenAI's format ({ function: { name } }), Anthropic's and a LangChain tool's ({ name }).
  const tool = tools[0] as { name?: unknown; function?: { name?: unknown } } | undefined
  const name = tool?.function?.name ?? tool?.name
  return typeof name === 'string' ? name : undefined
}

/**
 * The chunks, then the answer's tool calls (but the structured answer's, `answered`: see
 * structuredAnswer) and usage once the provider finished.
 */
async function* withEnding(
  chunks: AsyncGenerator<ChatGenerationChunk>,
  answered: string | undefined,
): AsyncGenerator<Part> {
  let answer: AIMessageChunk | undefined
  for await (const chunk of chunks) {
    const message = chunk.message as AIMessageChunk
    // LangChain's own sum: usage reported in parts (Anthropic's input first, output last).
    answer = answer === undefined ? message : answer.concat(message)
    yield { event: { type: 'text', text: deltaText(chunk.text, { chunk }) }, chunk }
  }
  // Read as a whole reply is (modelCallResult): its tool calls, then its usage.
  const { toolCalls = [], usage } = modelCallResult(answer)
  for (const { name, args } of toolCalls) {
    if (name !== answered) yield { event: { type: 'tool-call', name, args } }
  }
  yield { event: { type: 'finish', usage } }
}
