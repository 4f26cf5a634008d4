// What a guard remembers about each call between its before and after hooks. The public
// tickets are frozen read-only views; their private state lives in these WeakMaps, so a
// ticket the adapter drops is collected with its state.
import { KillSwitchError } from './errors.js'
import type {
  ModelCallResult,
  ModelCallTicket,
  Settlement,
  SpendTicket,
  ToolCallTicket,
} from './guard-types.js'
import { toUsd } from './money.js'
import type { ModelRates } from './pricing/model-rates.js'
import type { OutputCount } from './pricing/output-count.js'
import { canonicalHash } from './runaway/canonical-hash.js'
import type { AgentRecord } from './store.js'

export interface ModelTicketState {
  rates: ModelRates
  /** The input-token bound the hold was computed with. */
  inputTokens: number
  boundMicros: number
  /** The output counted as it streams, and the limit the hold pays for. */
  output: OutputCount
  /** Set by the call's one ending (call-ending.ts): its settlement, or a release at $0. */
  ending: Promise<Settlement> | undefined
  /** Stops renewing the hold's lease. */
  stopLease: () => void
}

export interface SpendTicketState {
  amountMicros: number
  description: string
  details: Record<string, unknown> | undefined
  done: Promise<Settlement> | undefined
  /** Stops renewing the hold's lease. */
  stopLease: () => void
}

export const modelTickets = new WeakMap<ModelCallTicket, ModelTicketState>()
export const spendTickets = new WeakMap<SpendTicket, SpendTicketState>()
/** A paid tool's spend ticket, behind its tool ticket. */
export const toolSpends = new WeakMap<ToolCallTicket, SpendTicket>()

/** `$0.0105`: micro-dollars for people, without trailing zeros past the cents. */
export function formatUsd(micros: number): string {
  // Integer micro-dollars divided once: exact to six decimals, no trailing zeros.
  return `$${micros / 1_000_000}`
}

/** What the agent can still spend, in dollars (never below 0). */
export function availableUsd(agent: AgentRecord | undefined): number {
  return agent ? toUsd(Math.max(0, agent.capMicros - agent.spentMicros - agent.heldMicros)) : 0
}

export function settlementOf(costMicros: number, agent: AgentRecord): Settlement {
  return {
    costUsd: toUsd(costMicros),
    spentUsd: toUsd(agent.spentMicros),
    availableUsd: availableUsd(agent),
  }
}

/** A hash of a model's output (text and tool-call plan) for no-progress detection. */
export function outputHash(result: ModelCallResult): string | undefined {
  if (result.text === undefined && result.toolCalls === undefined) return undefined
  // Canonical: the same plan with its arguments' keys in another order is the same plan.
  return canonicalHash({ text: result.text ?? '', toolCalls: result.toolCalls ?? [] })
}

/** Our own refusals and aborts are not the agent's errors: they do not feed the error streak. */
export function isOwnOrAbort(error: unknown): boolean {
  if (KillSwitchError.isInstance(error)) return true
  return error instanceof Error && (error.name === 'AbortError' || error.name === 'TimeoutError')
}

/** A short description of an error for the audit log. */
export function describeError(error: unknown): string {
  if (KillSwitchError.isInstance(error)) return error.code
  if (error instanceof Error)
    return error.name === 'Error' ? error.message.slice(0, 120) : error.name
  return 'unknown error'
}
