// The kill switch as a Mastra processor, for agents whose model is not wrapped. Each hook
// translates one Mastra event into one guard call; the decisions are the core's.
//
// Where each check sits, and why (verified against @mastra/core 1.71):
// - processInputStep: before each model call. Holds the call's cost bound, clamps
//   `maxOutputTokens` to what the budget pays for, and returns the step's model with the
//   guard's signal merged into its calls (revocation aborts the provider's request). A
//   refusal aborts before the model is called.
// - processOutputStream: every chunk, generate and stream alike. Output deltas are counted
//   (the cap holds mid-stream); a `tool-call` chunk is checked BEFORE Mastra executes the tool
//   (revocation, loop detection, a paid tool's price). Aborting in processOutputStep would
//   NOT stop that step's tools, so tools are never checked there.
// - processOutputStep: settles the step at the provider's usage. Mastra runs the step's tools
//   after this hook even when it aborts, so a refusal here is also enforced in front of each
//   tool's `execute` (tools-stopped-after.ts).
// - processOutputResult and the next processInputStep: end whatever an error or an abort
//   left open (failModelCall: a call that may have left is charged), so holds never
//   outlive the run.
import { randomUUID } from 'node:crypto'
import {
  type AgentGuard,
  type ModelCallTicket,
  parseToolPrices,
  type ToolCallTicket,
} from '@killswitch/core'
import {
  type BudgetScope,
  type GuardSource,
  modelIdentity,
  resolveGuard,
  SCOPE_KEY,
  scopeOf,
} from '@killswitch/vercel-ai'
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
import { toolsStoppedAfter } from './tools-stopped-after.js'
import { KILL_SWITCH_PROCESSOR_ID, type KillSwitchTripwireMetadata, refuse } from './tripwire.js'
import { withStopSignal } from './with-stop-signal.js'

/**
 * Options of {@link killSwitchProcessor}: where the guard comes from, and paid tools.
 *
 * @example
 * const toolPrices = { webSearch: 0.01 }
 * const options: KillSwitchProcessorOptions = { killSwitch: ks, credential, toolPrices }
 */
export type KillSwitchProcessorOptions = GuardSource &
  BudgetScope & {
    /**
     * Paid tools and their price per call in dollars, e.g. `{ 'web-search': 0.01 }`: held
     * before the tool runs, settled when it succeeds, released when it fails.
     */
    toolPrices?: Readonly<Record<string, number>>
    /** The model id to price, when the agent's model id is not the one in the price list. */
    model?: string
    /** The provider to price with (`openai`, `anthropic`...), overriding the model's own. */
    provider?: string
    // BudgetScope: `runId` (default: one per request), `runCap` (the run's own budget in
    // dollars), `parentRunId` (drawn on too), `budgets` (shared budgets every call draws on).
    // A request adds its own through Mastra's request context: `requestContext.set('killswitch',
    // { budgets: ['customer-acme'] })`.
  }

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

/** What one run holds open; kept in Mastra's per-request processor state. */
interface RunState {
  /** Mastra gives processInputStep no run id: one per request, for per-run limits. */
  runId: string
  /** The request's budget scope, read at its first step (options and request context). */
  scope: BudgetScope | undefined
  ticket: ModelCallTicket | undefined
  tools: Map<string, ToolCallTicket>
  /** Tool calls whose arguments were counted from their deltas already. */
  streamedArgs: Set<string>
  /** Set when the kill switch refused this run: its tools must not run any more. */
  refusal: unknown
}

type ProcessorAbort = ProcessInputStepArgs<KillSwitchTripwireMetadata>['abort']

const STATE_KEY = 'killswitch'
const UNSETTLED = 'the step ended without reporting usage (error or abort)'

/**
 * A Mastra processor that refuses a step before its model call, a tool call before it runs,
 * and output past the hold mid-stream; refusals end the run with a tripwire whose metadata
 * carries the error `code` (read it with `killSwitchTripwire`). Prefer `killSwitchModel`
 * when you can wrap the model: only that path gives the caller the typed error itself.
 *
 * Use one of the two, not both: each accounts every model call.
 *
 * @example
 * const killSwitch = killSwitchProcessor({ killSwitch: ks, credential })
 * const agent = new Agent({
 *   id: 'researcher', name: 'researcher', instructions, model, tools,
 *   inputProcessors: [killSwitch],
 *   outputProcessors: [killSwitch],
 * })
 * const result = await agent.generate('go', { abortSignal: killSwitch.guard.signal })
 * killSwitchTripwire(result.tripwire)?.code // 'spending_cap_exceeded' once the cap is reached
 */
export function killSwitchProcessor(
  options: KillSwitchProcessorOptions,
): KillSwitchProcessor & { readonly guard: AgentGuard } {
  const guard = resolveGuard(options)
  const toolPrices = parseToolPrices(options.toolPrices)

  const runState = (state: Record<string, unknown>): RunState => {
    const existing = state[STATE_KEY] as RunState | undefined
    if (existing) return existing
    const created: RunState = {
      runId: randomUUID(),
      scope: undefined,
      ticket: undefined,
      tools: new Map(),
      streamedArgs: new Set(),
      refusal: undefined,
    }
    state[STATE_KEY] = created
    return created
  }

  /**
   * Fails the open model call (the guard charges it) and releases paid tools that never ran.
   * Never throws: when the ledger is unreachable the holds lapse by their TTL, and whatever
   * refusal is under way must still reach Mastra.
   */
  const releaseOpen = async (run: RunState, error: unknown): Promise<void> => {
    const { ticket } = run
    run.ticket = undefined
    const tools = [...run.tools.values()]
    run.tools.clear()
    const pending: Array<Promise<void>> = tools.map((tool) =>
      guard.afterToolCall(tool, { ok: false, error }),
    )
    // The hold was taken in processInputStep, right before Mastra calls the model: the
    // request may have left, so the guard charges it (never a release).
    if (ticket) pending.push(guard.failModelCall(ticket, error, { sent: true }))
    // allSettled: one failed release must not keep the others from running.
    await Promise.allSettled(pending)
  }

  // The options' scope with the request context's `killswitch` entry over it; without a
  // `runId`, the request's own.
  const scopeFor = (
    run: RunState,
    requestContext: { get(key: string): unknown } | undefined,
  ): BudgetScope => {
    const scope = scopeOf(options, requestContext?.get(SCOPE_KEY), `requestContext.${SCOPE_KEY}`)
    return { ...scope, runId: scope.runId ?? run.runId }
  }

  const refuseRun = (run: RunState, abort: ProcessorAbort, error: unknown): never => {
    run.refusal = error
    return refuse(abort, error)
  }

  const account = (run: RunState, text: string): void => {
    if (run.ticket && text.length > 0) guard.onOutputDelta(run.ticket, { text })
  }

  const onChunk = async (run: RunState, part: ChunkType): Promise<void> => {
    switch (part.type) {
      case 'text-delta':
      case 'reasoning-delta':
        account(run, part.payload.text)
        return
      case 'tool-call-delta':
        run.streamedArgs.add(part.payload.toolCallId)
        account(run, part.payload.argsTextDelta)
        return
      case 'tool-call': {
        const { toolCallId, toolName, args } = part.payload
        if (!run.streamedArgs.has(toolCallId)) account(run, JSON.stringify(args ?? {}))
        const price = toolPrices[toolName]
        const ticket = await guard.beforeToolCall({
          name: toolName,
          args,
          ...(run.scope ?? { runId: run.runId }),
          ...(price === undefined ? {} : { priceUsd: price }),
        })
        run.tools.set(toolCallId, ticket)
        return
      }
      case 'tool-result':
      case 'tool-error': {
        const ticket = run.tools.get(part.payload.toolCallId)
        if (!ticket) return
        run.tools.delete(part.payload.toolCallId)
        const failed = part.type === 'tool-error' || part.payload.isError === true
        const error = part.type === 'tool-error' ? part.payload.error : undefined
        await guard.afterToolCall(ticket, failed ? { ok: false, error } : { ok: true })
        return
      }
      case 'error':
        // The model call failed: processOutputStep still runs, with empty usage. Settle from
        // the streamed output now instead, and feed the error to runaway detection.
        if (run.ticket) {
          const ticket = run.ticket
          run.ticket = undefined
          await guard.failModelCall(ticket, part.payload.error, { sent: true })
        }
        return
      default:
        return
    }
  }

  return {
    id: KILL_SWITCH_PROCESSOR_ID,
    name: 'Kill switch',
    description: 'Spending cap, revocation and runaway detection for every model and tool call.',
    guard,

    async processInputStep(
      args: ProcessInputStepArgs<KillSwitchTripwireMetadata>,
    ): Promise<ProcessInputStepResult> {
      const run = runState(args.state)
      if (run.ticket || run.tools.size > 0) await releaseOpen(run, new Error(UNSETTLED))
      const { modelSettings } = args
      const { model, provider } = modelIdentity(args.model, options)
      try {
        run.scope ??= scopeFor(run, args.requestContext)
        run.ticket = await guard.beforeModelCall({
          model,
          provider,
          // Everything the provider will read: the bytes bound the input tokens.
          input: {
            system: args.systemMessages,
            messages: args.messages,
            tools: toolDefinitions(args.tools),
          },
          maxOutputTokens: modelSettings?.maxOutputTokens,
          ...run.scope,
        })
      } catch (error) {
        return refuseRun(run, args.abort, error)
      }
      // Also stops tools when the agent is revoked from outside after their check.
      const tools = toolsStoppedAfter(args.tools, () =>
        guard.signal.aborted ? guard.signal.reason : run.refusal,
      )
      const stoppable = withStopSignal(args.model, guard.signal)
      return {
        modelSettings: { ...modelSettings, maxOutputTokens: run.ticket.maxOutputTokens },
        ...(tools === undefined ? {} : { tools }),
        ...(stoppable === undefined ? {} : { model: stoppable }),
      }
    },

    async processOutputStream(
      args: ProcessOutputStreamArgs<KillSwitchTripwireMetadata>,
    ): Promise<ChunkType> {
      const run = runState(args.state)
      try {
        await onChunk(run, args.part)
      } catch (error) {
        await releaseOpen(run, error)
        return refuseRun(run, args.abort, error)
      }
      return args.part
    },

    async processOutputStep(args: ProcessOutputStepArgs<KillSwitchTripwireMetadata>) {
      const run = runState(args.state)
      const ticket = run.ticket
      if (!ticket) return args.messageList
      run.ticket = undefined
      try {
        await guard.afterModelCall(ticket, {
          usage: toTokenUsage(args.usage),
          ...(args.text === undefined ? {} : { text: args.text }),
          toolCalls: (args.toolCalls ?? []).map((call) => ({
            name: call.toolName,
            args: call.args,
          })),
        })
      } catch (error) {
        return refuseRun(run, args.abort, error)
      }
      return args.messageList
    },

    async processOutputResult(args: ProcessOutputResultArgs<KillSwitchTripwireMetadata>) {
      const run = runState(args.state)
      if (run.ticket || run.tools.size > 0) await releaseOpen(run, new Error(UNSETTLED))
      return args.messageList
    },
  }
}

/**
 * What the provider receives of each tool: name, description and JSON schema. Only these,
 * because the tool objects also carry functions, clients and provider options that are not
 * sent (and may not even serialise).
 */
function toolDefinitions(tools: Record<string, unknown> | undefined): unknown[] {
  return Object.entries(tools ?? {}).map(([name, tool]) => {
    const { description, parameters, inputSchema } = (tool ?? {}) as {
      description?: unknown
      parameters?: { jsonSchema?: unknown }
      inputSchema?: { jsonSchema?: unknown }
    }
    return { name, description, schema: parameters?.jsonSchema ?? inputSchema?.jsonSchema }
  })
}
