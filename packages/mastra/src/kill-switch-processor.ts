// The kill switch as a Mastra processor, for agents whose model is not wrapped. Each hook
// translates Mastra's events into the core's model-call lifecycle (guard.startModelCall):
// holds, clamps, what each ending costs and which error wins are decided there.
//
// Where each check sits (verified against @mastra/core 1.71):
// - processInputStep: starts the step's model call (a refusal ends the run before the model
//   is called), clamps `maxOutputTokens`, and hands Mastra the step's model with its calls
//   sent through the guard (stop signal; each retry Mastra makes is a call of its own) and
//   the step's tools through guard.runToolCall (step-tools.ts).
// - processOutputStream: every chunk, generate and stream alike. Output is counted (the cap
//   holds mid-stream); a `tool-call` is checked BEFORE Mastra executes the tool.
// - processOutputStep: settles the step at the provider's usage.
// - processOutputResult and the next processInputStep end whatever an error or an abort
//   left open.
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
  type ProviderLimits,
} from '@killswitch/core'
import type {
  ProcessInputStepArgs,
  ProcessInputStepResult,
  ProcessOutputResultArgs,
  ProcessOutputStepArgs,
  ProcessOutputStreamArgs,
  Processor,
} from '@mastra/core/processors'
import type { ChunkType } from '@mastra/core/stream'
import { toTokenUsage } from './mastra-usage.js'
import { stepModel } from './step-model.js'
import { stepTools } from './step-tools.js'
import { KILL_SWITCH_PROCESSOR_ID, type KillSwitchTripwireMetadata, refuse } from './tripwire.js'

/**
 * Options of {@link killSwitchProcessor}: `{ killSwitch, credential }` or `{ guard }`, the
 * pricing names `model` and `provider`, the budget scope (`runId`, default one per request;
 * `runCap`, `parentRunId`, `budgets`) and `toolPrices` (dollars per call, held before a tool
 * runs). A request adds its own scope with `requestContext.set('killswitch', { budgets })`.
 *
 * @example
 * const options: KillSwitchProcessorOptions = { killSwitch: ks, credential, toolPrices: { webSearch: 0.01 } }
 */
export type KillSwitchProcessorOptions = AdapterOptions

/**
 * The kill switch processor: register the same object as input AND output processor.
 *
 * @example
 * const killSwitch: KillSwitchProcessor = killSwitchProcessor({ killSwitch: ks, credential })
 * new Agent({ ...config, inputProcessors: [killSwitch], outputProcessors: [killSwitch] })
 */
export type KillSwitchProcessor = Processor<
  typeof KILL_SWITCH_PROCESSOR_ID,
  KillSwitchTripwireMetadata
> &
  Required<
    Pick<
      Processor<typeof KILL_SWITCH_PROCESSOR_ID, KillSwitchTripwireMetadata>,
      'processInputStep' | 'processOutputStream' | 'processOutputStep' | 'processOutputResult'
    >
  >

/** What one request holds open; kept in Mastra's per-request processor state. */
interface RunState {
  /** The default `runId`: Mastra's processors see no run id at every hook. */
  runId: string
  scope: BudgetScope | undefined
  /** The step's call request: Mastra's retries of a failed call start a call each. */
  request: ModelCallStart | undefined
  call: ModelCall | undefined
  sent: boolean
  /** Tool calls whose arguments were counted from their deltas already. */
  streamedArgs: Set<string>
  /** Set once the kill switch refused this run: nothing of it may run any more. */
  refusal: unknown
}

const UNSETTLED = 'the step ended without reporting usage (error or abort)'

/**
 * A Mastra processor that refuses a step before its model call, a tool call before it runs,
 * and output past the hold mid-stream; refusals end the run with a tripwire whose metadata
 * carries the error `code` (read it with `killSwitchTripwire`). Prefer `killSwitchModel`
 * when you can wrap the model: only that path gives the caller the typed error itself.
 * Use one of the two, not both: each accounts every model call.
 *
 * @example
 * const killSwitch = killSwitchProcessor({ killSwitch: ks, credential })
 * const agent = new Agent({ ...config, inputProcessors: [killSwitch], outputProcessors: [killSwitch] })
 * const result = await agent.generate('go')
 * killSwitchTripwire(result.tripwire)?.code // 'spending_cap_exceeded' once the cap is reached
 */
export function killSwitchProcessor(
  options: KillSwitchProcessorOptions,
): KillSwitchProcessor & { readonly guard: AgentGuard } {
  const { guard, naming, scope } = adapterSetup(options)

  const runState = (state: Record<string, unknown>): RunState => {
    state.killswitch ??= {
      runId: randomUUID(),
      scope: undefined,
      request: undefined,
      call: undefined,
      sent: false,
      streamedArgs: new Set(),
      refusal: undefined,
    } satisfies RunState
    return state.killswitch as RunState
  }

  /** Ends the open call, if any; returns the error the caller must see. */
  const fail = (run: RunState, error: unknown): Promise<unknown> => {
    const call = run.call
    run.call = undefined
    return call === undefined ? Promise.resolve(error) : call.fail(error)
  }
  // Never throws: an unreachable ledger lapses the hold, charged; the run must still end.
  const endOpen = (run: RunState) => fail(run, new Error(UNSETTLED)).catch(() => undefined)

  const refuseRun = (run: RunState, abort: ProcessorAbort, error: unknown): never => {
    if (findKillSwitchError(error)) run.refusal ??= error
    return refuse(abort, error)
  }

  const send = async <R>(run: RunState, provider: (limits: ProviderLimits) => PromiseLike<R>) => {
    if ((run.call === undefined || run.sent) && run.request) {
      run.call = await guard.startModelCall(run.request)
    }
    const call = run.call as ModelCall
    run.sent = true
    try {
      return await call.send(provider)
    } catch (error) {
      if (run.call === call) run.call = undefined
      throw await call.fail(error)
    }
  }

  const runTool = (run: RunState, name: string, input: unknown, execute: () => unknown) => {
    if (run.refusal !== undefined) return Promise.reject(run.refusal)
    const request = { name, args: input, observe: false, ...run.scope }
    return guard.runToolCall(request, execute).catch((error: unknown) => {
      if (findKillSwitchError(error)) run.refusal ??= error
      throw error
    })
  }

  const onChunk = async (run: RunState, call: ModelCall, part: ChunkType): Promise<void> => {
    switch (part.type) {
      case 'text-delta':
      case 'reasoning-delta':
        return call.output({ text: part.payload.text })
      case 'tool-call-delta':
        run.streamedArgs.add(part.payload.toolCallId)
        return call.output({ text: part.payload.argsTextDelta })
      case 'tool-call': {
        const { toolCallId, toolName, args } = part.payload
        if (!run.streamedArgs.has(toolCallId)) call.output({ text: JSON.stringify(args ?? {}) })
        return call.checkToolCall({ name: toolName, args })
      }
    }
  }

  return {
    id: KILL_SWITCH_PROCESSOR_ID,
    name: 'Kill switch',
    description: 'Spending cap, revocation and runaway detection for every model and tool call.',
    guard,

    async processInputStep(args): Promise<ProcessInputStepResult> {
      const run = runState(args.state)
      if (run.call) await endOpen(run)
      if (run.refusal !== undefined) return refuse(args.abort, run.refusal)
      const { modelId, provider } = args.model as { modelId?: string; provider?: string }
      try {
        run.scope ??= {
          runId: run.runId,
          ...mergeBudgetScope(scope, args.requestContext?.get(BUDGET_SCOPE_KEY), SCOPE_FIELD),
        }
        run.request = {
          model: naming.model ?? String(modelId),
          provider: naming.provider ?? provider,
          // Everything the provider will read: its size bounds the input tokens.
          input: { system: args.systemMessages, messages: args.messages, tools: toolSchemas(args) },
          maxOutputTokens: args.modelSettings?.maxOutputTokens,
          ...run.scope,
        }
        run.call = await guard.startModelCall(run.request)
        run.sent = false
      } catch (error) {
        return refuseRun(run, args.abort, error)
      }
      const tools = stepTools(args.tools, (...tool) => runTool(run, ...tool))
      const model = stepModel(args.model, (provider) => send(run, provider))
      return {
        modelSettings: { ...args.modelSettings, maxOutputTokens: run.call.maxOutputTokens },
        ...(tools === undefined ? {} : { tools }),
        ...(model === undefined ? {} : { model }),
      }
    },

    async processOutputStream(args: ProcessOutputStreamArgs<KillSwitchTripwireMetadata>) {
      const run = runState(args.state)
      const { part } = args
      try {
        if (part.type === 'error') {
          // The call failed: processOutputStep still runs, with no usage. End it now.
          const shown = await fail(run, part.payload.error)
          return findKillSwitchError(shown) ? refuseRun(run, args.abort, shown) : part
        }
        if (run.call) await onChunk(run, run.call, part)
      } catch (error) {
        return refuseRun(run, args.abort, await fail(run, error))
      }
      return part
    },

    async processOutputStep(args: ProcessOutputStepArgs<KillSwitchTripwireMetadata>) {
      const run = runState(args.state)
      const call = run.call
      run.call = undefined
      try {
        await call?.finish({
          usage: toTokenUsage(args.usage),
          text: args.text,
          toolCalls: (args.toolCalls ?? []).map((tool) => ({
            name: tool.toolName,
            args: tool.args,
          })),
        })
      } catch (error) {
        return refuseRun(run, args.abort, error)
      }
      return args.messageList
    },

    async processOutputResult(args: ProcessOutputResultArgs<KillSwitchTripwireMetadata>) {
      const run = runState(args.state)
      if (run.call) await endOpen(run)
      return args.messageList
    },
  }
}

type ProcessorAbort = ProcessInputStepArgs<KillSwitchTripwireMetadata>['abort']
const SCOPE_FIELD = `requestContext.${BUDGET_SCOPE_KEY}`

/** What the provider receives of each tool: name, description, schema (not its functions). */
function toolSchemas({ tools }: { tools?: Record<string, unknown> }): unknown[] {
  return Object.entries(tools ?? {}).map(([name, tool]) => {
    const { description, parameters, inputSchema } = (tool ?? {}) as {
      description?: unknown
      parameters?: { jsonSchema?: unknown }
      inputSchema?: { jsonSchema?: unknown }
    }
    return { name, description, schema: parameters?.jsonSchema ?? inputSchema?.jsonSchema }
  })
}
