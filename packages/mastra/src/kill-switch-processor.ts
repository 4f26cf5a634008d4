// The kill switch as a Mastra processor (verified on @mastra/core 1.71), its hooks translated
// into the core's model-call lifecycle: processInputStep hands Mastra the step's model and tools
// sent through the guard; processLLMRequest starts the step's call (a refusal ends the run
// before the model is called); processOutputStream counts output and checks each tool call
// before Mastra runs it; processOutputStep settles; the next step and processOutputResult end
// what an error or an abort left open.
import { randomUUID } from 'node:crypto'
import {
  type AdapterOptions,
  type AgentGuard,
  adapterSetup,
  BUDGET_SCOPE_KEY,
  type BudgetScope,
  findKillSwitchError,
  type ModelCall,
  type ModelCallStart,
  mergeBudgetScope,
} from '@killswitch/core'
import type { Processor, ProcessorContext } from '@mastra/core/processors'
import type { ChunkType } from '@mastra/core/stream'
import { toTokenUsage } from './mastra-usage.js'
import { notRetried, refuse } from './refusal.js'
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
type Hooks = `process${'InputStep' | 'LLMRequest' | 'OutputStream' | 'OutputStep' | 'OutputResult'}`
/**
 * The kill switch processor and its five hooks.
 *
 * @example
 * const killSwitch: KillSwitchProcessor = killSwitchProcessor({ killSwitch: ks, credential })
 */
export type KillSwitchProcessor = Base & Required<Pick<Base, Hooks>>

type Method = (options: { abortSignal?: AbortSignal }) => PromiseLike<unknown>
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
  const { guard, naming, scope } = adapterSetup(options)
  const runOf = (state: Record<string, unknown>): Run => {
    state.killswitch ??= new Run(guard)
    return state.killswitch as Run
  }
  /** Ends the run through Mastra's abort; after a refusal nothing more of it runs. */
  const stop = (run: Run, abort: ProcessorContext<M>['abort'], error: unknown): never => {
    if (findKillSwitchError(error)) run.refusal ??= error
    return refuse(abort, error)
  }

  return {
    id: KILL_SWITCH_PROCESSOR_ID,
    name: 'Kill switch',
    description: 'Spending cap, revocation and runaway detection for every model and tool call.',
    guard,

    async processInputStep({ model, tools, modelSettings, ...args }) {
      const run = runOf(args.state)
      await run.endOpen()
      if (run.refusal !== undefined) return refuse(args.abort, run.refusal)
      const named = model as { modelId?: string; provider?: string }
      try {
        const requested = args.requestContext?.get(BUDGET_SCOPE_KEY)
        run.scope ??= { runId: run.runId, ...mergeBudgetScope(scope, requested, SCOPE_FIELD) }
      } catch (error) {
        return stop(run, args.abort, error)
      }
      run.request = {
        model: naming.model ?? String(named.modelId),
        provider: naming.provider ?? named.provider,
        input: schemas(tools), // with the prompt at processLLMRequest
        maxOutputTokens: modelSettings?.maxOutputTokens,
        ...run.scope,
      }
      return run.step(model, tools)
    },

    // Right before the provider call, after every input processor: a step another processor
    // aborts holds nothing. The prompt is what the provider reads: it bounds the input.
    async processLLMRequest({ prompt, state, abort }) {
      const run = runOf(state)
      if (run.request === undefined) return undefined
      run.request = { ...run.request, input: { prompt, tools: run.request.input } }
      try {
        run.sent = false
        run.call = await guard.startModelCall(run.request)
      } catch (error) {
        return stop(run, abort, error)
      }
      return undefined
    },

    async processOutputStream({ part, state, abort }) {
      const run = runOf(state)
      let refusal: unknown
      try {
        if (part.type !== 'error') return await run.read(part)
        // The call failed (processOutputStep still runs, without usage): end it now.
        refusal = await run.end(part.payload.error)
        if (!findKillSwitchError(refusal)) return part
      } catch (error) {
        refusal = await run.end(error)
      }
      return stop(run, abort, refusal)
    },

    async processOutputStep({ state, abort, usage, text, toolCalls = [], messageList }) {
      const run = runOf(state)
      const call = run.call
      run.call = undefined
      try {
        await call?.finish({
          usage: toTokenUsage(usage),
          text,
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
  readonly runId = randomUUID()
  scope: BudgetScope | undefined
  call: ModelCall | undefined
  request: ModelCallStart | undefined // the step's: each retry of Mastra's starts a call
  sent = false
  readonly streamed = new Set<string>() // tool calls whose arguments streamed as deltas
  refusal: unknown
  readonly #guard: AgentGuard

  constructor(guard: AgentGuard) {
    this.#guard = guard
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
  async read(part: ChunkType): Promise<ChunkType> {
    const call = this.call
    if (part.type === 'text-delta' || part.type === 'reasoning-delta') {
      call?.output({ text: part.payload.text })
    } else if (part.type === 'tool-call-delta') {
      this.streamed.add(part.payload.toolCallId)
      call?.output({ text: part.payload.argsTextDelta })
    } else if (part.type === 'tool-call' && call) {
      const { toolCallId, toolName, args } = part.payload
      if (!this.streamed.has(toolCallId)) call.output({ text: JSON.stringify(args ?? {}) })
      await call.checkToolCall({ name: toolName, args })
    }
    return part
  }

  /** The step's model and tools through the guard (a model that cannot be called is left). */
  step(model: unknown, tools: Record<string, unknown> | undefined) {
    const { doGenerate, doStream } = model as { doGenerate?: Method; doStream?: Method }
    const callable = typeof doGenerate === 'function' && typeof doStream === 'function'
    // Tools without `execute` (client or provider-executed) pass unchanged.
    const guarded = ([name, tool]: [string, unknown]) => {
      const execute = (tool as { execute?: Execute } | null)?.execute
      return [name, execute ? { ...(tool as object), execute: this.#tool(name, execute) } : tool]
    }
    return {
      // Everything else is read through the prototype: the model itself, untouched.
      ...(callable && {
        model: Object.create(model as object, {
          doGenerate: { value: this.#send(model, doGenerate) },
          doStream: { value: this.#send(model, doStream) },
        }),
      }),
      ...(tools && { tools: Object.fromEntries(Object.entries(tools).map(guarded)) }),
    }
  }

  /** Mastra calls the step's model itself: through the step's call (a retry: a new call). */
  #send(model: unknown, method: Method) {
    return async (options: { abortSignal?: AbortSignal }) => {
      if ((this.call === undefined || this.sent) && this.request) {
        this.call = await this.#guard.startModelCall(this.request).catch((error) => {
          throw notRetried(error)
        })
      }
      const call = this.call as ModelCall
      this.sent = true
      try {
        return await call.send(({ maxOutputTokens, signal }) => {
          const caller = options.abortSignal
          const abortSignal = caller ? AbortSignal.any([caller, signal]) : signal
          return method.call(model, { ...options, maxOutputTokens, abortSignal })
        })
      } catch (error) {
        if (this.call === call) this.call = undefined
        throw notRetried(await call.fail(error))
      }
    }
  }

  /** Mastra runs a step's tools even after the run is aborted: refused after a refusal. */
  #tool(name: string, execute: Execute) {
    const run = this
    return async function (this: unknown, ...args: unknown[]) {
      if (run.refusal !== undefined) throw run.refusal
      try {
        const request = { name, args: args[0], observe: false, ...run.scope }
        return await run.#guard.runToolCall(request, () => execute.apply(this, args))
      } catch (error) {
        if (findKillSwitchError(error)) run.refusal ??= error
        throw error
      }
    }
  }
}

/** What the provider receives of each tool: name, description, schema (not its functions). */
function schemas(tools: Record<string, unknown> = {}): unknown[] {
  return Object.entries(tools).map(([name, tool]) => {
    const { description, parameters, inputSchema } = (tool ?? {}) as {
      description?: unknown
      parameters?: { jsonSchema?: unknown }
      inputSchema?: { jsonSchema?: unknown }
    }
    return { name, description, schema: parameters?.jsonSchema ?? inputSchema?.jsonSchema }
  })
}
