// The kill switch as a Mastra processor (verified on @mastra/core 1.71), its hooks translated
// into the core's model-call lifecycle: processInputStep hands Mastra the step's model and tools
// sent through the guard; each call of that model is a call of the core's, sized from what the
// provider receives (refused: the step's first part ends the run with a tripwire);
// processOutputStream counts output and checks each tool call before Mastra runs it;
// processOutputStep settles; the next step and processOutputResult end what an error left open.
import { randomUUID } from 'node:crypto'
import type { LanguageModelV4, LanguageModelV4CallOptions } from '@ai-sdk/provider'
import {
  type AdapterOptions,
  type AdapterSetup,
  type AgentGuard,
  adapterSetup,
  BUDGET_SCOPE_KEY,
  type BudgetScope,
  findKillSwitchError,
  InvalidConfigError,
  type ModelCall,
  mergeBudgetScope,
  type ProviderLimits,
  type StreamEvent,
} from '@killswitch/core'
import { startLanguageModelCall } from '@killswitch/vercel-ai'
import type { Processor, ProcessorContext } from '@mastra/core/processors'
import type { ChunkType } from '@mastra/core/stream'
import { toTokenUsage } from './mastra-usage.js'
import { notRetried, refuse } from './refusal.js'
import { mastraToolOutcome } from './tool-outcome.js'
import { KILL_SWITCH_PROCESSOR_ID, type KillSwitchTripwireMetadata as M } from './tripwire.js'

/**
 * Options of {@link killSwitchProcessor}: the adapters' (`runId` defaults to one per request).
 * A request adds its scope: `requestContext.set('killswitch', { budgets: ['customer-acme'] })`.
 *
 * @example
 * const options: KillSwitchProcessorOptions = { killSwitch: ks, credential, toolPrices: { search: 0.01 } }
 */
export type KillSwitchProcessorOptions = AdapterOptions

type Base = Processor<typeof KILL_SWITCH_PROCESSOR_ID, M>
type Hooks = `process${'InputStep' | 'OutputStream' | 'OutputStep' | 'OutputResult'}`
/**
 * The kill switch processor and its four hooks.
 *
 * @example
 * const killSwitch: KillSwitchProcessor = killSwitchProcessor({ killSwitch: ks, credential })
 */
export type KillSwitchProcessor = Base & Required<Pick<Base, Hooks>>

// A step's model as Mastra calls it (its options have the AI SDK's names in every version).
type Method = (options: LanguageModelV4CallOptions) => PromiseLike<unknown>
type Execute = (...args: unknown[]) => unknown
const SCOPE_FIELD = `requestContext.${BUDGET_SCOPE_KEY}`
const UNSETTLED = 'the step ended without reporting usage (error or abort)'

/**
 * A processor (register it as input AND output processor) that refuses a step before its
 * model call, a tool call before it runs and output past the hold: the run ends with a
 * tripwire (`killSwitchTripwire`), or the typed error when the provider call was pending.
 *
 * @example
 * const killSwitch = killSwitchProcessor({ killSwitch: ks, credential })
 * const agent = new Agent({ ...config, inputProcessors: [killSwitch], outputProcessors: [killSwitch] })
 */
export function killSwitchProcessor(
  options: KillSwitchProcessorOptions,
): KillSwitchProcessor & { readonly guard: AgentGuard } {
  const { guard, naming, scope } = adapterSetup(options, { name: 'killSwitchProcessor' })
  const runOf = (state: Record<string, unknown>): Run => {
    state.killswitch ??= new Run(guard, naming)
    return state.killswitch as Run
  }
  /** Ends the run through Mastra's abort; after a refusal nothing more of it runs. */
  const stop = (run: Run, abort: ProcessorContext<M>['abort'], error: unknown): never => {
    run.refused(error)
    return refuse(abort, error)
  }

  return {
    id: KILL_SWITCH_PROCESSOR_ID,
    name: 'Kill switch',
    description: 'Spending cap, revocation and runaway detection for every model and tool call.',
    guard,

    async processInputStep({ model, tools, state, abort, requestContext }) {
      const run = runOf(state)
      await run.endOpen()
      try {
        if (run.refusal !== undefined) throw run.refusal
        const requested = requestContext?.get(BUDGET_SCOPE_KEY)
        run.scope ??= { runId: randomUUID(), ...mergeBudgetScope(scope, requested, SCOPE_FIELD) }
        return run.step(model, tools)
      } catch (error) {
        return stop(run, abort, error)
      }
    },

    async processOutputStream({ part, state, abort }) {
      const run = runOf(state)
      try {
        // Refused (a call before the provider was called, a tool): the run ends at this part.
        if (run.refusal !== undefined) throw run.refusal
        // A failed call ends now (its processOutputStep has no usage). Mastra ends the run
        // with the error: a tripwire raised on an error part is dropped.
        if (part.type === 'error') await run.end(part.payload.error)
        else await run.read(part)
        return part
      } catch (error) {
        return stop(run, abort, await run.end(error))
      }
    },

    async processOutputStep({ state, abort, messageList, toolCalls = [], ...step }) {
      const run = runOf(state)
      const call = run.call
      run.call = undefined
      try {
        await call?.finish({
          usage: toTokenUsage(step.usage, step.providerMetadata),
          text: step.text,
          toolCalls: toolCalls.map((tool) => ({ name: tool.toolName, args: tool.args })),
        })
      } catch (error) {
        return stop(run, abort, error)
      }
      return messageList
    },

    async processOutputResult({ state, messageList }) {
      await runOf(state).endOpen()
      return messageList
    },
  }
}

/** One request (Mastra's per-request processor state): its step's call, and its refusal. */
class Run {
  scope: BudgetScope | undefined
  call: ModelCall | undefined
  /**
   * The call's result came whole (doGenerate), and Mastra replays it as stream parts: its
   * output is settled from its usage at the step's end, not counted part by part (counted
   * past the hold, a generate that had already come back was charged its count, 5x its bill:
   * red team rt40b). Its tool calls are still checked before they run.
   */
  whole = false
  refusal: unknown

  constructor(
    readonly guard: AgentGuard,
    readonly naming: AdapterSetup['naming'],
  ) {}

  /** Keeps a kill switch refusal (after it nothing more of the run runs); false for others. */
  refused(error: unknown): boolean {
    const refusal = findKillSwitchError(error) !== undefined
    if (refusal) this.refusal ??= error
    return refusal
  }

  /** Ends the open call, if any; returns the error the caller must see. */
  end(error: unknown): Promise<unknown> {
    const call = this.call
    this.call = undefined
    return call === undefined ? Promise.resolve(error) : call.fail(error)
  }

  /** Never throws: an unreachable ledger lapses the hold (charged); the run must still end. */
  async endOpen(): Promise<void> {
    if (this.call) await this.end(new Error(UNSETTLED)).catch(() => undefined)
  }

  /** Counts a chunk's output, and checks a tool call before Mastra executes it. */
  async read(part: ChunkType): Promise<void> {
    const event = streamEvent(part)
    if (event === undefined || this.call === undefined) return
    if (!this.whole) await this.call.apply(event)
    else if (event.type === 'tool-call') await this.call.checkToolCall(event)
  }

  /** The step's model and tools through the guard. */
  step(model: unknown, tools: Record<string, unknown> | undefined) {
    const { doGenerate, doStream } = (model ?? {}) as Partial<Record<string, Method>>
    // Mastra 1.71 resolves the model first; one the guard cannot reach is refused (fail closed).
    if (typeof doGenerate !== 'function' || typeof doStream !== 'function') {
      throw new InvalidConfigError('model', "The step's model is not a model object.")
    }
    // Tools without `execute` (client or provider-executed) pass unchanged.
    const guarded = ([name, tool]: [string, unknown]) => {
      const execute = (tool as { execute?: Execute } | null)?.execute
      return [name, execute ? { ...(tool as object), execute: this.#tool(name, execute) } : tool]
    }
    // Mastra makes a new model object per request: its fields copied under its class (made a
    // prototype, each would turn every read of Mastra's on the step model slow).
    const stepModel = Object.assign(Object.create(Object.getPrototypeOf(model)), model)
    stepModel.doGenerate = this.#send(model as LanguageModelV4, doGenerate, true)
    stepModel.doStream = this.#send(model as LanguageModelV4, doStream, false)
    return {
      model: stepModel,
      ...(tools && { tools: Object.fromEntries(Object.entries(tools).map(guarded)) }),
    }
  }

  /** Each call of the model (each of Mastra's retries too) is a call of the core's. */
  #send(model: LanguageModelV4, method: Method, whole: boolean) {
    return async (options: LanguageModelV4CallOptions) => {
      // Held as the AI SDK adapter holds a call: the provider's real limit (provider options
      // can raise it), in the request's scope.
      const request = { naming: this.naming, scope: this.scope }
      const held = await startLanguageModelCall(this.guard, model, options, request).catch(
        (error: unknown) => {
          if (!this.refused(error)) throw error
        },
      )
      // Refused: the provider is not called; Mastra reads this empty stream and
      // processOutputStream trips.
      if (held === undefined) return { stream: new ReadableStream({ start: (s) => s.close() }) }
      const { call, sent } = held
      this.call = call
      this.whole = whole
      const send = async (limits: ProviderLimits) => {
        const started = await method.call(model, sent(limits))
        // A middleware inside the model changed the request after the hold: said loudly (the
        // call is stopped, and `run` ends it like any failure of the provider call).
        call.checkSent((started as { request?: { body?: unknown } }).request?.body)
        return started
      }
      return call.run(send).catch((error: unknown) => {
        throw notRetried(error)
      })
    }
  }

  /** Mastra runs a step's tools even after the run is aborted: refused after a refusal. */
  #tool(name: string, execute: Execute) {
    const run = this
    return async function (this: unknown, ...args: unknown[]) {
      if (run.refusal !== undefined) throw run.refusal
      try {
        const request = { name, args: args[0], observe: false, ...run.scope }
        const returned = mastraToolOutcome
        return await run.guard.runToolCall(request, () => execute.apply(this, args), { returned })
      } catch (error) {
        run.refused(error)
        throw error
      }
    }
  }
}

/** What a Mastra stream chunk means to the guard (its tool calls carry parsed arguments). */
function streamEvent(part: ChunkType): StreamEvent | undefined {
  switch (part.type) {
    case 'text-delta':
      return { type: 'text', text: part.payload.text }
    case 'reasoning-delta':
      return { type: 'output', text: part.payload.text }
    case 'tool-call-delta':
      return {
        type: 'output',
        text: part.payload.argsTextDelta,
        toolCallId: part.payload.toolCallId,
      }
    case 'tool-call': {
      const { toolCallId, toolName: name, args } = part.payload
      return { type: 'tool-call', name, args, input: JSON.stringify(args ?? {}), toolCallId }
    }
    default:
      return undefined
  }
}
