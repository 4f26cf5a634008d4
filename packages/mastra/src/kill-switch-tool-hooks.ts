// Paid tools on the agent's cap, as Mastra tool hooks, the companion of killSwitchModel: the
// guard's beforeToolCall/afterToolCall around each execution (a paid tool's price held,
// settled on success, released on failure). The model wrapper checked the call where the
// model asked for it, so it is not observed twice. A refusal is a SOFT block: the tool is
// skipped, the model gets `{ error: { code, message } }`, and the run goes on (the model
// wrapper refuses the next model call if the agent is revoked or out of budget).
import {
  type AdapterOptions,
  adapterSetup,
  findKillSwitchError,
  type KillSwitchErrorCode,
  type ToolCallTicket,
} from '@killswitch/core'
import type { ToolHooks } from '@mastra/core/tools'

/**
 * Options of {@link killSwitchToolHooks}: `{ killSwitch, credential }` (or `{ guard }`),
 * `toolPrices` in dollars per call, and the budget scope paid tools are held on (`runId`,
 * `runCap`, `parentRunId`, `budgets`; options only: the hooks see no per-request scope).
 *
 * @example
 * const options: KillSwitchToolHooksOptions = { killSwitch: ks, credential, toolPrices: { webSearch: 0.01 } }
 */
export type KillSwitchToolHooksOptions = Omit<AdapterOptions, 'model' | 'provider'>

/**
 * What a refused tool returns to the model instead of running.
 *
 * @example
 * const refused: RefusedToolOutput = { error: { code: 'agent_revoked', message: 'Agent "a" is revoked...' } }
 */
export interface RefusedToolOutput {
  error: { code: KillSwitchErrorCode; message: string }
}

/**
 * Tool hooks that hold a paid tool's price before it runs and settle it after (released if
 * it fails), and skip any tool of a revoked agent, returning {@link RefusedToolOutput} to
 * the model. Errors that are not the kill switch's are rethrown: no tool runs unchecked.
 * Pair with `killSwitchModel`; the processor holds tool prices itself.
 *
 * @example
 * const guarded = { killSwitch: ks, credential }
 * const agent = new Agent({
 *   ...config,
 *   model: killSwitchModel(openai('gpt-4o'), guarded),
 *   hooks: killSwitchToolHooks({ ...guarded, toolPrices: { webSearch: 0.01 } }),
 * })
 */
export function killSwitchToolHooks(options: KillSwitchToolHooksOptions): Required<ToolHooks> {
  const { guard, scope } = adapterSetup(options)
  // Mastra passes the same execution context object to both hooks of one call.
  const open = new WeakMap<object, ToolCallTicket>()
  const isKey = (context: unknown): context is object =>
    typeof context === 'object' && context !== null

  return {
    async beforeToolCall({ toolName, input, context }) {
      let ticket: ToolCallTicket
      try {
        ticket = await guard.beforeToolCall({
          name: toolName,
          args: input,
          observe: false,
          ...scope,
        })
      } catch (error) {
        const found = findKillSwitchError(error)
        if (!found) throw error
        const output: RefusedToolOutput = { error: { code: found.code, message: found.message } }
        return { proceed: false, output }
      }
      // Without a context to pair the hooks, settle now: a held price must never leak.
      if (isKey(context)) open.set(context, ticket)
      else await guard.afterToolCall(ticket, { ok: true })
      return undefined
    },

    async afterToolCall({ context, error }) {
      const ticket = isKey(context) ? open.get(context) : undefined
      if (!isKey(context) || !ticket) return
      open.delete(context)
      await guard.afterToolCall(ticket, error === undefined ? { ok: true } : { ok: false, error })
    },
  }
}
