// What a guard remembers about each call between its before and after hooks. The public
// tickets are frozen read-only views; their private state is a private field only the guard
// reads, so a ticket the adapter drops is collected with its state. Not a WeakMap from
// ticket to state: one is made per guarded call, and a WeakMap entry costs about 2 µs of
// ephemeron work, more than the rest of the ticket.
import { KillSwitchError } from './errors.js'
import type {
  ModelCallResult,
  ModelCallTicket,
  Settlement,
  SpendTicket,
  ToolCallTicket,
} from './guard-types.js'
import type { HoldLease } from './hold-lease.js'
import { toUsd } from './money.js'
import type { ModelRates } from './pricing/model-rates.js'
import type { OutputCount } from './pricing/output-count.js'
import type { TokenCounter } from './pricing/tokenizer.js'
import { providerStatusOf } from './provider-status.js'
import { redactSecrets } from './redact.js'
import { canonicalHash } from './runaway/canonical-hash.js'
import { shapeHash } from './runaway/shape-hash.js'
import type { AgentRecord, LevelRefusal } from './store.js'

export interface ModelTicketState {
  rates: ModelRates
  /** The input-token bound the hold was computed with. */
  inputTokens: number
  /**
   * The least input tokens the request's text comes to, quickly (`inputBound().leastTokens`):
   * usage below it is checked against the exact figure, worked out from `input` then.
   */
  inputLeast: number
  /** The model's tokenizer, when known: the exact least input is its count of the text. */
  tokenizer: TokenCounter | undefined
  /** The request's input, kept by reference: a text answer is judged with its latest ask. */
  input: unknown
  boundMicros: number
  /** The output counted as it streams, and the limit the hold pays for. */
  output: OutputCount
  /** The model may bill reasoning that never streams (its name, or a request that turns it on). */
  unseenOutput: boolean
  /** Runaway detection sees the call and its result (not an input-only call: embeddings). */
  watched: boolean
  /** The level whose room sized the hold (a run's cap, a budget), when not the agent's own. */
  clampedBy: LevelRefusal | undefined
  /** Set by the call's one ending (call-ending.ts): its settlement, or a release at $0. */
  ending: Promise<Settlement> | undefined
  /** Set as the ending begins (it may complete before `ending` is assigned). */
  ended?: boolean
  /** The hold's lease, renewed while the call runs (set once the ticket exists). */
  lease: HoldLease | undefined
}

export interface SpendTicketState {
  amountMicros: number
  description: string
  /** Whom the spend pays (`SpendRequest.payee`), for its settlement's audit entry. */
  payee?: string | undefined
  details: Record<string, unknown> | undefined
  done: Promise<Settlement> | undefined
  /**
   * Released (never sent, as the caller said) and not settled since: one settle after it is
   * recorded, late (it clears this).
   */
  released?: boolean
  /** Set as the settle begins (it may complete before `done` is assigned). */
  ended?: boolean
  /** The hold's lease, renewed while the call runs (set once the ticket exists). */
  lease: HoldLease | undefined
}

/**
 * A frozen read-only view of a call for the adapter, with the guard's private state behind
 * it. A ticket made any other way (a copy, a look-alike) has no state: the guard refuses it.
 * Each kind sets its own fields and freezes itself (named stores: a copy of the view with
 * Object.assign cost more than the rest of the ticket).
 */
class Ticket<State> {
  readonly #state: State

  protected constructor(state: State) {
    this.#state = state
  }

  /** The state behind a ticket a guard issued (not one made with its prototype). */
  protected static stateIn<S>(ticket: Ticket<S>): S | undefined {
    return #state in ticket ? ticket.#state : undefined
  }
}

/** A model call's ticket. */
export class ModelTicket extends Ticket<ModelTicketState> implements ModelCallTicket {
  readonly id: string
  readonly handle: string
  readonly model: string
  readonly runId: string | undefined
  readonly maxOutputTokens: number
  readonly reservedUsd: number

  private constructor(view: ModelCallTicket, state: ModelTicketState) {
    super(state)
    this.id = view.id
    this.handle = view.handle
    this.model = view.model
    this.runId = view.runId
    this.maxOutputTokens = view.maxOutputTokens
    this.reservedUsd = view.reservedUsd
    Object.freeze(this)
  }

  static issue(view: ModelCallTicket, state: ModelTicketState): ModelCallTicket {
    return new ModelTicket(view, state)
  }

  static stateOf(ticket: unknown): ModelTicketState | undefined {
    return ticket instanceof ModelTicket ? Ticket.stateIn(ticket) : undefined
  }
}

/** A spend's ticket (a payment, a paid tool). */
export class SpendTicketHeld extends Ticket<SpendTicketState> implements SpendTicket {
  readonly id: string
  readonly handle: string
  readonly kind: string
  readonly amountUsd: number
  readonly runId: string | undefined

  private constructor(view: SpendTicket, state: SpendTicketState) {
    super(state)
    this.id = view.id
    this.handle = view.handle
    this.kind = view.kind
    this.amountUsd = view.amountUsd
    this.runId = view.runId
    Object.freeze(this)
  }

  static issue(view: SpendTicket, state: SpendTicketState): SpendTicket {
    return new SpendTicketHeld(view, state)
  }

  static stateOf(ticket: unknown): SpendTicketState | undefined {
    return ticket instanceof SpendTicketHeld ? Ticket.stateIn(ticket) : undefined
  }
}

/** A tool call's ticket; a paid tool's carries its spend ticket, taken by its one ending. */
export class ToolTicket
  extends Ticket<{ spend: SpendTicket | undefined }>
  implements ToolCallTicket
{
  readonly handle: string
  readonly name: string
  readonly runId: string | undefined
  readonly holdId: string | undefined
  readonly priceUsd: number

  private constructor(view: ToolCallTicket, spend: SpendTicket | undefined) {
    super({ spend })
    this.handle = view.handle
    this.name = view.name
    this.runId = view.runId
    this.holdId = view.holdId
    this.priceUsd = view.priceUsd
    Object.freeze(this)
  }

  static issue(view: ToolCallTicket, spend: SpendTicket | undefined): ToolCallTicket {
    return new ToolTicket(view, spend)
  }

  /** The paid tool's spend, once: undefined for a free tool or an ended call. */
  static takeSpend(ticket: unknown): SpendTicket | undefined {
    const state = ticket instanceof ToolTicket ? Ticket.stateIn(ticket) : undefined
    const spend = state?.spend
    if (state) state.spend = undefined
    return spend
  }
}

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

/**
 * A model call's result as runaway detection sees it: its output hashed only if a detector
 * reads it (no-progress does; a disabled one does not). A class, so the lazy hash costs no
 * accessor made per call.
 */
export class ModelResultObservation {
  readonly kind = 'model_result' as const
  readonly runId: string | undefined
  readonly model: string
  readonly costMicros: number
  readonly #result: ModelCallResult
  readonly #input: unknown

  constructor(
    runId: string | undefined,
    model: string,
    costMicros: number,
    result: ModelCallResult,
    input?: unknown,
  ) {
    this.runId = runId
    this.model = model
    this.costMicros = costMicros
    this.#result = result
    this.#input = input
  }

  get outputHash(): string | undefined {
    return outputHash(this.#result, this.#input)
  }

  get answerHash(): string | undefined {
    const { text, toolCalls } = this.#result
    if (text === undefined && toolCalls === undefined) return undefined
    const ask = shapeHash(withoutCallIds(latestUserAsk(this.#input), 0))
    return canonicalHash({ text: text ?? '', toolCalls: toolCalls ?? [], ask })
  }
}

/**
 * A hash of a model's output for no-progress detection, with the latest turn of its input
 * (what it answers: the user's ask, or the tool results it was just given). The same answer
 * to the same turn ("continue", a retried prompt, a tool answering the same thing again) is
 * a loop. The same label for different documents (a classifier working through a batch in
 * one run) is not, nor the same plan after new results: a coding agent runs the same
 * `npm test` after each edit, and the failures it reads change. The turn's call ids are left
 * out: a framework names every tool call anew, the same result under a new id is the same.
 */
export function outputHash(result: ModelCallResult, input?: unknown): string | undefined {
  if (result.text === undefined && result.toolCalls === undefined) return undefined
  const ask = withoutCallIds(latestAsk(input), 0)
  // Canonical: the same plan with its arguments' keys in another order is the same plan.
  if (result.toolCalls !== undefined && result.toolCalls.length > 0) {
    return canonicalHash({ text: result.text ?? '', toolCalls: result.toolCalls, ask })
  }
  return canonicalHash({ text: result.text ?? '', ask })
}

/**
 * Keys naming a tool call in a turn: AI SDK `toolCallId`, OpenAI `tool_call_id` and `call_id`,
 * Anthropic `tool_use_id`.
 */
const CALL_ID_KEYS = new Set(['toolCallId', 'tool_call_id', 'call_id', 'callId', 'tool_use_id'])
/**
 * Where a tool call itself names its id `id`: the entries of an assistant message's
 * `tool_calls` (OpenAI's wire, LangChain's messages) or `toolCalls`, Anthropic's `tool_use`
 * blocks, Responses' `function_call` items. A provider names each call anew: kept, the same
 * stuck turn read as new every time (red team rt42a: a createAgent loop ran to the cap).
 */
const CALL_LISTS = new Set(['tool_calls', 'toolCalls'])
const CALL_TYPES = new Set(['tool_use', 'function_call'])
/** Turns nest a few levels (message, parts, output): deeper values are kept as they are. */
const MAX_ID_DEPTH = 6

/**
 * `value` without its call ids: a copy of the plain objects and arrays that hold one.
 * `call`: `value` is a tool call of a call list (its `id` is a call id too).
 */
function withoutCallIds(value: unknown, depth: number, call = false): unknown {
  if (value === null || typeof value !== 'object' || depth >= MAX_ID_DEPTH) return value
  if (Array.isArray(value)) {
    let copy: unknown[] | undefined
    for (let i = 0; i < value.length; i++) {
      const inner = withoutCallIds(value[i], depth + 1, call)
      if (inner !== value[i]) copy ??= value.slice()
      if (copy) copy[i] = inner
    }
    return copy ?? value
  }
  const prototype = Object.getPrototypeOf(value)
  if (prototype !== Object.prototype && prototype !== null) return value
  const fields = value as Record<string, unknown>
  const named = call || (typeof fields.type === 'string' && CALL_TYPES.has(fields.type))
  let copy: Record<string, unknown> | undefined
  for (const key of Object.keys(fields)) {
    if (CALL_ID_KEYS.has(key) || (named && key === 'id')) {
      copy ??= { ...fields }
      delete copy[key]
      continue
    }
    const inner = withoutCallIds(fields[key], depth + 1, CALL_LISTS.has(key))
    if (inner === fields[key]) continue
    copy ??= { ...fields }
    copy[key] = inner
  }
  return copy ?? value
}

// Where a request's turns are, in the shapes adapters pass: AI SDK `prompt`, chat
// `messages`, Responses `input`, Gemini `contents`, LangChain LLM `prompts`.
const TURNS = ['messages', 'prompt', 'input', 'contents', 'prompts'] as const

/** The user's latest turn of a request (the latest turn when none says it is the user's). */
function latestUserAsk(input: unknown): unknown {
  const turns = turnsOf(input)
  if (!Array.isArray(turns)) return turns
  for (let i = turns.length - 1; i >= 0; i--) {
    const role = (turns[i] as { role?: unknown } | null)?.role
    if (role === 'user' || role === 'human') return turns[i]
  }
  return turns[turns.length - 1]
}

/**
 * Roles of the messages a model answers: the user's (AI SDK, OpenAI, Anthropic, LangChain
 * `human`) and the tools' results. A turn is all of them since the model last spoke.
 */
const ASK_ROLES = new Set(['user', 'human', 'tool', 'function'])

/** A message's role, if it has one. */
const roleOf = (message: unknown): unknown => (message as { role?: unknown } | null)?.role

/** Roles of tool results: a turn of them answers the calls the model's last message asked for. */
const RESULT_ROLES = new Set(['tool', 'function'])

/**
 * The latest turn of a request (its latest ask): its last message, the shape (`shapeHash`) of
 * the others since the model last spoke, and, for tool results, the model's message that asked
 * for them; the last message alone when the request has no roles; the input itself when it has
 * no turns. A document, then a fixed question about it, is a new ask for each document (red
 * team rt35: a batch labelling reviews in one run was revoked at its 5th same label); a line
 * that only a timestamp or a counter changes, before a fixed "Continue.", is not (red team
 * rt36: the exact turn let such a loop run to its run limit); the same result of another call
 * ("File edited." of each new file) is a new ask (red team rt37: a coding agent was revoked).
 */
function latestAsk(input: unknown): unknown {
  const turns = turnsOf(input)
  if (!Array.isArray(turns)) return turns
  const last = turns.length - 1
  if (!ASK_ROLES.has(roleOf(turns[last]) as string)) return turns[last]
  let start = last
  while (start > 0 && ASK_ROLES.has(roleOf(turns[start - 1]) as string)) start--
  const asked = start > 0 && RESULT_ROLES.has(roleOf(turns[start]) as string)
  if (start === last && !asked) return turns[last]
  const ask: Record<string, unknown> = { ask: turns[last] }
  if (start < last) ask.before = shapeHash(withoutCallIds(turns.slice(start, last), 0))
  if (asked) ask.asked = turns[start - 1]
  return ask
}

/** A request's turns (an array, in the shapes adapters pass), or the input itself. */
function turnsOf(input: unknown): unknown {
  let turns = input
  if (turns !== null && typeof turns === 'object' && !Array.isArray(turns)) {
    const fields = turns as Record<string, unknown>
    for (const key of TURNS) {
      if (fields[key] !== undefined) {
        turns = fields[key]
        break
      }
    }
  }
  return turns
}

/** Our own refusals and aborts are not the agent's errors: they do not feed the error streak. */
export function isOwnOrAbort(error: unknown): boolean {
  if (KillSwitchError.isInstance(error)) return true
  return error instanceof Error && (error.name === 'AbortError' || error.name === 'TimeoutError')
}

/**
 * The statuses of a provider turning requests away for its own load: rate limited (429),
 * overloaded (503, Anthropic's 529). They say nothing of the agent, and cost nothing (the
 * call's ending releases them): an honest parallel batch that met a short rate limit, its
 * SDK retrying in between, was throttled by error-streak as a failing loop and stayed
 * throttled after the provider recovered (red team r23).
 */
const LOAD_SHED = new Set([429, 503, 529])

/**
 * Whether error-streak counts `error` as a failure of the agent's: not the kill switch's own
 * error, not an abort, not a provider shedding load (`status`, read from the error when
 * not given).
 *
 * @example
 * countsAsFailure(Object.assign(new Error('rate limited'), { status: 429 })) // false
 */
export function countsAsFailure(error: unknown, status = providerStatusOf(error)): boolean {
  return !isOwnOrAbort(error) && (status === undefined || !LOAD_SHED.has(status))
}

/**
 * A short description of an error for the audit log: a plain error's message, its secrets
 * masked first (a failed request's message often quotes its URL, key and all).
 */
export function describeError(error: unknown): string {
  if (KillSwitchError.isInstance(error)) return error.code
  if (error instanceof Error)
    return error.name === 'Error' ? redactSecrets(error.message).slice(0, 120) : error.name
  return 'unknown error'
}
