// The kill switch as a Mastra processor, for agents whose model is not wrapped: each hook
// translates Mastra's events into the core's model-call lifecycle (verified on @mastra/core
// 1.71). processInputStep starts the step's call (a refusal ends the run before the model is
// called) and hands Mastra the step's model and tools sent through the guard (step-model.ts,
// step-tools.ts); processOutputStream counts output and checks each tool call BEFORE Mastra
// executes it; processOutputStep settles; processOutputResult and the next step end whatever
// an error or an abort left open.
import {
  type AdapterOptions,
  type AgentGuard,
  adapterSetup,
  BUDGET_SCOPE_KEY,
  findKillSwitchError,
  mergeBudgetScope,
} from '@killswitch/core'
import type { Processor, ProcessorContext } from '@mastra/core/processors'
import type { ChunkType } from '@mastra/core/stream'
import { toTokenUsage } from './mastra-usage.js'
import { StepRun } from './step-run.js'
import { KILL_SWITCH_PROCESSOR_ID, type KillSwitchTripwireMetadata, refuse } from './tripwire.js'

/**
 * Options of {@link killSwitchProcessor}: `{ killSwitch, credential }` or `{ guard }`, the
 * pricing names `model` and `provider`, the budget scope (`runId`, by default one per
 * request; `runCap`, `parentRunId`, `budgets`) and `toolPrices` (dollars per call). A request
 * adds its own scope: `requestContext.set('killswitch', { budgets: ['customer-acme'] })`.
 *
 * @example
 * const options: KillSwitchProcessorOptions = { killSwitch: ks, credential, toolPrices: { search: 0.01 } }
 */
export type KillSwitchProcessorOptions = AdapterOptions

type Hooks =
  | 'processInputStep'
  | 'processOutputStream'
  | 'processOutputStep'
  | 'processOutputResult'
type Base = Processor<typeof KILL_SWITCH_PROCESSOR_ID, KillSwitchTripwireMetadata>
/**
 * The kill switch processor: register the same object as input AND output processor.
 *
 * @example
 * const killSwitch: KillSwitchProcessor = killSwitchProcessor({ killSwitch: ks, credential })
 */
export type KillSwitchProcessor = Base & Required<Pick<Base, Hooks>>

/**
 * A Mastra processor that refuses a step before its model call, a tool call before it runs
 * and output past the hold mid-stream. A refusal at a hook ends the run with a tripwire
 * carrying the error's `code` (`killSwitchTripwire`); one while the provider call is pending
 * ends that call at once and reaches the caller as the typed error. Prefer `killSwitchModel`
 * when you can wrap the model (typed errors always); use one of the two, not both.
 *
 * @example
 * const killSwitch = killSwitchProcessor({ killSwitch: ks, credential })
 * const agent = new Agent({ ...config, inputProcessors: [killSwitch], outputProcessors: [killSwitch] })
 * killSwitchTripwire((await agent.generate('go')).tripwire)?.code // 'spending_cap_exceeded'
 */
export function killSwitchProcessor(
  options: KillSwitchProcessorOptions,
): KillSwitchProcessor & { readonly guard: AgentGuard } {
  const { guard, naming, scope } = adapterSetup(options)
  const runOf = (state: Record<string, unknown>): StepRun => {
    state.killswitch ??= new StepRun(guard)
    return state.killswitch as StepRun
  }
  /** Ends the run through Mastra's abort; a kill switch refusal also stops what is left of it. */
  const stop = (run: StepRun, abort: Abort, error: unknown): never => {
    if (findKillSwitchError(error)) run.refusal ??= error
    return refuse(abort, error)
  }

  return {
    id: KILL_SWITCH_PROCESSOR_ID,
    name: 'Kill switch',
    description: 'Spending cap, revocation and runaway detection for every model and tool call.',
    guard,

    async processInputStep(args) {
      const run = runOf(args.state)
      if (run.call) await run.endOpen()
      if (run.refusal !== undefined) return refuse(args.abort, run.refusal)
      const { modelId, provider } = args.model as { modelId?: string; provider?: string }
      try {
        run.scope ??= {
          runId: run.runId,
          ...mergeBudgetScope(scope, args.requestContext?.get(BUDGET_SCOPE_KEY), SCOPE_FIELD),
        }
        const limits = await run.start({
          model: naming.model ?? String(modelId),
          provider: naming.provider ?? provider,
          // Everything the provider will read: its size bounds the input tokens.
          input: { system: args.systemMessages, messages: args.messages, tools: toolSchemas(args) },
          maxOutputTokens: args.modelSettings?.maxOutputTokens,
          ...run.scope,
        })
        return { modelSettings: { ...args.modelSettings, ...limits }, ...run.step(args) }
      } catch (error) {
        return stop(run, args.abort, error)
      }
    },

    async processOutputStream(args) {
      const run = runOf(args.state)
      const { part } = args
      let refusal: unknown
      try {
        if (part.type !== 'error') {
          await read(run, part)
          return part
        }
        // The call failed (processOutputStep still runs, without usage): end it now.
        refusal = await run.fail(part.payload.error)
        if (!findKillSwitchError(refusal)) return part
      } catch (error) {
        refusal = await run.fail(error)
      }
      return stop(run, args.abort, refusal)
    },

    async processOutputStep(args) {
      const run = runOf(args.state)
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
        return stop(run, args.abort, error)
      }
      return args.messageList
    },

    async processOutputResult(args) {
      const run = runOf(args.state)
      if (run.call) await run.endOpen()
      return args.messageList
    },
  }
}

type Abort = ProcessorContext<KillSwitchTripwireMetadata>['abort']
const SCOPE_FIELD = `requestContext.${BUDGET_SCOPE_KEY}`

/** Counts a chunk's output, and checks a tool call before Mastra executes it. */
async function read({ call, streamedArgs }: StepRun, part: ChunkType): Promise<void> {
  if (call === undefined) return
  if (part.type === 'text-delta' || part.type === 'reasoning-delta') {
    call.output({ text: part.payload.text })
  } else if (part.type === 'tool-call-delta') {
    streamedArgs.add(part.payload.toolCallId)
    call.output({ text: part.payload.argsTextDelta })
  } else if (part.type === 'tool-call') {
    const { toolCallId, toolName, args } = part.payload
    if (!streamedArgs.has(toolCallId)) call.output({ text: JSON.stringify(args ?? {}) })
    await call.checkToolCall({ name: toolName, args })
  }
}

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
