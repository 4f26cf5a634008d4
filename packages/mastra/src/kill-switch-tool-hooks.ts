// Paid tools on the agent's cap as Mastra tool hooks, beside killSwitchModel (which checked
// each tool call where the model asked for it: not observed twice). A refusal is a SOFT block:
// the tool is skipped, the model gets `{ error: { code, message } }`, and the model wrapper
// refuses the next model call. Errors that are not the kill switch's are rethrown.
import {
  type AdapterOptions,
  adapterSetup,
  findKillSwitchError,
  type KillSwitchErrorCode,
  type ToolCallTicket,
} from '@killswitch/core'
import type { ToolHooks } from '@mastra/core/tools'
import { mastraToolOutcome } from './tool-outcome.js'

/**
 * Options of {@link killSwitchToolHooks}: the adapters' but the model's names. Without a run
 * or budgets here, a paid tool takes those of the model call that asked for it.
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
 * Tool hooks that hold a paid tool's price before it runs and settle it after (charged once it
 * ran, whether it returned or threw: it may have spent), and skip every tool of a revoked
 * agent, returning {@link RefusedToolOutput}.
 *
 * @example
 * new Agent({ ...config, model, hooks: killSwitchToolHooks({ killSwitch: ks, credential, toolPrices: { webSearch: 0.01 } }) })
 */
export function killSwitchToolHooks(options: KillSwitchToolHooksOptions): Required<ToolHooks> {
  const { guard, scope } = adapterSetup(options, {
    name: 'killSwitchToolHooks',
    without: ['model', 'provider'],
  })
  // Mastra passes the same execution context object to both hooks of one call.
  const open = new WeakMap<object, ToolCallTicket>()
  const isKey = (context: unknown) => typeof context === 'object' && context !== null

  return {
    async beforeToolCall({ toolName, input, context }) {
      // The AI SDK's tool call id (Mastra passes the SDK's execute options as the context):
      // the call takes the run and budgets of the model call that asked for it.
      const toolCallId = isKey(context)
        ? (context as { toolCallId?: unknown }).toolCallId
        : undefined
      const request = {
        name: toolName,
        args: input,
        observe: false,
        toolCallId: typeof toolCallId === 'string' ? toolCallId : undefined,
        ...scope,
      }
      let ticket: ToolCallTicket
      try {
        ticket = await guard.beforeToolCall(request)
      } catch (error) {
        const found = findKillSwitchError(error)
        if (!found) throw error
        const output: RefusedToolOutput = { error: { code: found.code, message: found.message } }
        return { proceed: false, output }
      }
      // Without a context to pair the hooks, settle now: a held price must never leak.
      if (isKey(context)) open.set(context as object, ticket)
      else await guard.afterToolCall(ticket, { ok: true })
      return undefined
    },

    async afterToolCall({ context, error, output }) {
      const ticket = isKey(context) ? open.get(context as object) : undefined
      if (ticket === undefined) return
      open.delete(context as object)
      await guard.afterToolCall(
        ticket,
        error === undefined ? mastraToolOutcome(output) : { ok: false, error },
      )
    },
  }
}
