// Paid tools on the agent's cap, as Mastra tool hooks (`hooks: { beforeToolCall,
// afterToolCall }`), the companion of killSwitchModel. They run right before and after each
// tool execution, and a refusal there is a SOFT block: the tool is skipped, the model gets
// `{ error: { code, message } }` as its output, and the run goes on (the model wrapper then
// refuses the next model call if the agent is revoked or out of budget).
//
// Division of labour, so that no call is counted twice: the model wrapper (or the processor)
// passes every tool call through `guard.beforeToolCall` (status and loop detection) before
// Mastra executes it; these hooks only meter money (`reserveSpend`, kind `tool`) and check
// the credential before a tool runs.
import {
  type AgentGuard,
  findKillSwitchError,
  type KillSwitchErrorCode,
  parseToolPrices,
  type SpendTicket,
} from '@killswitch/core'
import { type BudgetScope, type GuardSource, resolveGuard, scopeOf } from '@killswitch/vercel-ai'
import type { ToolHooks } from '@mastra/core/tools'

/**
 * Options of {@link killSwitchToolHooks}.
 *
 * @example
 * const options: KillSwitchToolHooksOptions = { guard, toolPrices: { webSearch: 0.01 } }
 */
export type KillSwitchToolHooksOptions = GuardSource &
  BudgetScope & {
    /** Paid tools and their price per call in dollars: held before the run, settled after. */
    toolPrices?: Readonly<Record<string, number>>
    // BudgetScope: a paid tool's price is held on the run (`runId`, `runCap`, `parentRunId`)
    // and on the shared `budgets` named here. Options only: the hooks see no per-request scope.
  }

/**
 * The output a refused tool returns to the model instead of running.
 *
 * @example
 * const refused: RefusedToolOutput = {
 *   error: { code: 'agent_revoked', message: 'Agent "a" is revoked...' },
 * }
 */
export interface RefusedToolOutput {
  error: { code: KillSwitchErrorCode; message: string }
}

/** How one tool execution ends, decided before it runs. */
interface OpenCall {
  succeeded(): Promise<void>
  failed(error: unknown): Promise<void>
}

/**
 * Tool hooks that hold a paid tool's price before it runs and settle it after (released if
 * it fails), and skip any tool of a revoked agent. A refusal returns
 * {@link RefusedToolOutput} to the model instead of running the tool; it does not end the
 * run. Errors that are not the kill switch's are rethrown: the tool never runs unchecked.
 *
 * Pair with `killSwitchModel`. With `killSwitchProcessor`, give the prices to the processor
 * instead (it holds them itself).
 *
 * @example
 * const guarded = { killSwitch: ks, credential }
 * const agent = new Agent({
 *   id: 'researcher', name: 'researcher', instructions, tools,
 *   model: killSwitchModel(openai('gpt-4o'), guarded),
 *   hooks: killSwitchToolHooks({ ...guarded, toolPrices: { webSearch: 0.01 } }),
 * })
 */
export function killSwitchToolHooks(options: KillSwitchToolHooksOptions): Required<ToolHooks> {
  const guard = resolveGuard(options)
  const toolPrices = parseToolPrices(options.toolPrices)
  const scope = scopeOf(options, undefined, 'options')
  // Mastra passes the same execution context object to both hooks of one call.
  const open = new WeakMap<object, OpenCall>()

  return {
    async beforeToolCall({ toolName, context }) {
      let call: OpenCall
      try {
        call = await begin(guard, toolName, toolPrices[toolName] ?? 0, scope)
      } catch (error) {
        const found = findKillSwitchError(error)
        if (!found) throw error
        const output: RefusedToolOutput = { error: { code: found.code, message: found.message } }
        return { proceed: false, output }
      }
      // Without a context to pair the hooks, charge now: a held price must never leak.
      if (typeof context === 'object' && context !== null) open.set(context, call)
      else await call.succeeded()
      return undefined
    },

    async afterToolCall({ context, error }) {
      if (typeof context !== 'object' || context === null) return
      const call = open.get(context)
      if (!call) return
      open.delete(context)
      await (error === undefined ? call.succeeded() : call.failed(error))
    },
  }
}

/** Checks the agent (free tool) or holds the price (paid tool); returns how to end the call. */
async function begin(
  guard: AgentGuard,
  name: string,
  priceUsd: number,
  scope: BudgetScope,
): Promise<OpenCall> {
  if (priceUsd === 0) {
    await guard.check()
    return { succeeded: async () => {}, failed: (error) => guard.onError(error, 'tool') }
  }
  const ticket: SpendTicket = await guard.reserveSpend({
    amountUsd: priceUsd,
    kind: 'tool',
    description: `tool ${name}`,
    details: { tool: name },
    ...scope,
  })
  return {
    succeeded: async () => {
      await guard.settleSpend(ticket)
    },
    // A failed call is released, not charged; the failure feeds the error-streak detector.
    failed: async (error) => {
      await guard.releaseSpend(ticket, { reason: 'tool failed' })
      await guard.onError(error, 'tool')
    },
  }
}
