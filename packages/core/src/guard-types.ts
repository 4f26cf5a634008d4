import type { ToolOutcome } from './call-ending.js'
import type { KillSwitchError } from './errors.js'
import type { ModelCall, ModelCallStart, ProviderLimits } from './model-call.js'
import type { SpendRuleNames, SpendRules } from './spend-rules.js'
import type { ToolPrices } from './tool-prices.js'

// The one seam between the core and the framework adapters (DESIGN.md). An adapter only
// translates its framework's events into these calls; all policy is behind them.

/** Token usage of one model call, as the provider reported it. */
export interface TokenUsage {
  /** All input tokens, cache reads and cache writes included. */
  inputTokens?: number
  /** Input tokens read from the provider's prompt cache (a part of `inputTokens`). */
  cacheReadTokens?: number
  /** Input tokens written to the provider's prompt cache (a part of `inputTokens`). */
  cacheWriteTokens?: number
  /**
   * Of `cacheWriteTokens`, those written with a one-hour lifetime (Anthropic's
   * `ephemeral_1h_input_tokens`): priced at the one-hour write rate, whatever the request
   * showed (a cache set out of the request's sight is billed at it all the same).
   */
  longCacheWriteTokens?: number
  /** All output tokens, reasoning included. */
  outputTokens?: number
  /** Reasoning ("thinking") tokens (a part of `outputTokens`). */
  reasoningTokens?: number
}

/**
 * Which budgets a call draws on besides the agent's own: its run's budget (`runId` with
 * `runCap`, a sub-run naming `parentRunId` draws on its parent's too) and budgets chosen
 * for this call alone (an end customer's). Every level is held in the same atomic reserve.
 */
export interface BudgetScope {
  /** Groups the calls of one agent run (per-run limits, the run's budget). */
  runId?: string
  /** The run's own budget in dollars, set by its first call (a lifetime limit). */
  runCap?: number
  /** The run this run was started in (a sub-agent): it draws on that run's budget too. */
  parentRunId?: string
  /** Shared budgets (by id) to draw on for this call alone, e.g. `['customer-acme']`. */
  budgets?: readonly string[]
}

/** A model call about to be made. */
export interface ModelCallRequest extends BudgetScope {
  /** The model id, as the framework names it: `gpt-4o`, `openai/gpt-4o`, `claude-sonnet-4-0`. */
  model: string
  /** The provider id when known (`openai`, `anthropic`...): it disambiguates the price. */
  provider?: string
  /**
   * The prompt as the framework holds it (messages, tools). Only its size is used: it
   * bounds the input tokens (a token is at least one byte of UTF-8).
   */
  input: unknown
  /** The caller's own max output tokens, if set: it is never raised, only lowered. */
  maxOutputTokens?: number
  /**
   * The call produces no output tokens (embeddings): a model the price data prices for
   * input only may serve it. It is held for its input bound and one output token (the
   * least the guard holds), whatever `maxOutputTokens` says.
   */
  inputOnly?: boolean
  /**
   * The call asks for audio, image or video output (OpenAI `modalities: ['audio']`): a model
   * whose price data does not price media output is refused rather than priced as text.
   */
  mediaOutput?: boolean
  /**
   * A feature of the call billed at rates the price data does not hold (a priority service
   * tier, fast mode, regional inference, a fallback to another model), named as the caller
   * set it: the call is refused (UnknownModelPriceError), never priced at the standard rate.
   */
  billedApart?: string
  /**
   * The caller cannot pass the core's clamp on to the provider (a callback that only sees a
   * call, which does not stream): the provider is held to the limit the request asks for,
   * so the core never cuts it. A call it cannot afford whole is refused, and one that sets no
   * limit is held at the model's context window (its output cannot be longer).
   */
  fixedOutput?: boolean
}

/** Returned by `beforeModelCall`: the hold for this call. Pass it back to the other calls. */
export interface ModelCallTicket {
  /** The hold id in the ledger. */
  readonly id: string
  readonly handle: string
  readonly model: string
  readonly runId: string | undefined
  /** The max output tokens to send to the provider: the caller's value, clamped to the budget. */
  readonly maxOutputTokens: number
  /** Dollars held for this call (its cost bound). */
  readonly reservedUsd: number
}

/** Output seen while streaming. Give text (tokens are estimated) or a token count. */
export interface OutputDelta {
  text?: string
  tokens?: number
  /**
   * Output was produced that cannot be counted (audio, say, whose bytes say little of its
   * tokens): a call that then ends without usage is charged its whole output bound.
   */
  uncounted?: boolean
}

/** What a finished model call produced. */
export interface ModelCallResult {
  /** The provider's usage. When missing, the whole hold is settled (never zero). */
  usage?: TokenUsage
  /** The output text, for no-progress detection (hashed, never stored). */
  text?: string
  /** The tool calls the model asked for, for no-progress detection (hashed). */
  toolCalls?: ReadonlyArray<{ name: string; args: unknown }>
}

/** What a settled call cost. */
export interface Settlement {
  costUsd: number
  spentUsd: number
  availableUsd: number
}

/** Options of `ks.guard(credential, options)`. */
export interface GuardOptions {
  /**
   * Prices of paid tools in dollars per call, by tool name, over the kill switch's own
   * (`createKillSwitch({ toolPrices })`). Tools priced nowhere are free.
   */
  toolPrices?: ToolPrices
}

/** How a model call ended early, as `failModelCall` (and `ModelCall.fail`) is told it. */
export interface ModelCallFailure {
  /** false only when the provider call provably never started: the hold is released. */
  sent?: boolean
  /** The provider's usage report, when it gave one. */
  usage?: TokenUsage
  /** The HTTP status the provider answered with, when it refused the call. */
  providerStatus?: number
  /**
   * The caller ended it (its abort signal, a consumer that stopped reading): no failure of
   * the agent's for runaway detection (ten Stops in a row throttled an honest chat).
   */
  byCaller?: boolean
  /**
   * An agent the kill switch does not trust cut it short (the gateway's agent hung up): what
   * the provider went on to bill is unknown, so it is charged the most it can cost, as a stop
   * by the kill switch is.
   */
  untrustedCut?: boolean
}

/** A tool call about to run. */
export interface ToolCallRequest extends BudgetScope {
  name: string
  /** The arguments (hashed for loop detection; never stored unless configured). */
  args: unknown
  /**
   * Its price per call in dollars, held before it runs and settled after. Default: the
   * price configured for the tool's name (`toolPrices`), else free.
   */
  priceUsd?: number
  /**
   * false: the call was already checked when the model asked for it (`ModelCall.checkToolCall`),
   * so it is not observed again by runaway detection; only its price is held. Default true.
   */
  observe?: boolean
  /**
   * false: only check the call (revocation, runaway detection) where the model asks for it;
   * its price is held where it runs. Default true.
   */
  meter?: boolean
  /**
   * The framework's id of the call the model asked for (the AI SDK's `toolCallId`). Where it
   * runs (`observe: false`) with no run or budgets of its own, it takes those of the model's
   * call that asked for it (checked with the same id).
   */
  toolCallId?: string
}

/** How an adapter reads what its framework's tool call returned or threw (`runToolCall`). */
export interface ToolOutcomeOf<T> {
  returned?(value: T): ToolOutcome
  threw?(error: unknown): ToolOutcome
}

/** Returned by `beforeToolCall`. */
export interface ToolCallTicket {
  readonly handle: string
  readonly name: string
  readonly runId: string | undefined
  /** The hold id when the tool is paid; undefined for a free tool. */
  readonly holdId: string | undefined
  readonly priceUsd: number
}

/** A spend that is not a model call: an x402 payment, a fixed-price API. */
/** How a spend ended, for `settleSpend`. */
export interface SpendSettle {
  /** What it really cost, in dollars; the amount held when absent. */
  amountUsd?: number
  /** Audit details (masked and bounded by the caller: they go in the log as they are). */
  details?: Record<string, unknown>
  /**
   * The amount is a bound, not the truth (a signed payment whose outcome is unknown: what
   * the payee can collect): charged as unreconciled spend, corrected when the truth arrives
   * (a later settle, `ks.agents.reconcile`, or a release once nothing was collected).
   */
  unreconciled?: boolean
}

export interface SpendRequest extends BudgetScope {
  amountUsd: number
  /** What kind of spend, for the audit log: `payment`, `tool`... */
  kind: string
  /** For people: `GET https://api.example.com/search`. */
  description: string
  /** Extra audit fields (payee, asset, network...). Never secrets. */
  details?: Record<string, unknown>
  /** How long the hold may live unsettled; defaults to the kill switch's hold TTL. */
  ttlMs?: number
  /** Who is paid, when someone is (an x402 `payTo`): checked against the spend rules. */
  payee?: string
  /**
   * The adapter's own rules for this spend (x402's `allowedPayees`, `maxPaymentUsd`),
   * checked with the agent's `spendRules`: the tighter wins.
   */
  rules?: SpendRules
  /**
   * What the adapter calls `rules` and their fields, for a refusal's message to name the
   * option to change (x402: `{ owner: 'killSwitchFetch', maxSpendUsd: 'maxPaymentUsd' }`).
   */
  rulesNamed?: SpendRuleNames
}

export interface SpendTicket {
  readonly id: string
  readonly handle: string
  readonly kind: string
  readonly amountUsd: number
  readonly runId: string | undefined
}

/**
 * An agent's guard: obtained with `ks.guard(credential)`. Every method that authorises
 * throws a KillSwitchError when the action is refused (revoked, over the cap, runaway,
 * unknown price, store unavailable) and never fails open.
 */
export interface AgentGuard {
  /** Aborted when the agent is revoked, from any process: pass it to the provider call. */
  readonly signal: AbortSignal
  /**
   * The max output tokens a call that sets none is held for and told
   * (`createKillSwitch({ defaultMaxOutputTokens })`): an adapter whose provider adds tokens
   * beside it (a thinking budget) sizes the call with it.
   */
  readonly defaultMaxOutputTokens: number
  /**
   * Resolves the credential and returns the agent's handle. Throws AgentRevokedError if it
   * is revoked, RunawayDetectedError if its run was stopped and, with `requireBudget`,
   * SpendingCapExceededError when nothing is left at its tightest level (its cap with live
   * grants, a window, a shared budget; a fresh read of the store), unless that level is its
   * own and its approvals are on (its next call asks a person). With `fresh` (implied by
   * `requireBudget`) the agent is read from the store, not taken from the guard's last
   * record: a revocation another process made is refused at once, before this process's
   * `signal` hears of it (the last check before money leaves, as a signed payment does).
   */
  check(options?: { runId?: string; requireBudget?: boolean; fresh?: boolean }): Promise<string>
  /**
   * The agent's own spend rules (its policy), as the guard last read its record; undefined
   * when it has none. For choosing among offers (x402's options) before one is held: the
   * hold itself checks them again on a fresh record.
   */
  spendRules(): Promise<SpendRules | undefined>
  /** Checks status, price, budget and runaway policy, then holds the call's cost bound. */
  beforeModelCall(request: ModelCallRequest): Promise<ModelCallTicket>
  /**
   * Accounts streamed output (text is counted with the model's tokenizer or, unknown, as
   * UTF-8 bytes). Throws SpendingCapExceededError before the running cost passes the hold,
   * AgentRevokedError once the agent is revoked. Synchronous: no I/O.
   */
  onOutputDelta(ticket: ModelCallTicket, delta: OutputDelta): void
  /**
   * Settles the call: the provider's usage, unless it is missing, not a whole number >= 0,
   * or below what streamed, in which case the guard's own count stands in (never zero for
   * a call that produced output). Releases the rest of the hold. Idempotent per ticket.
   */
  afterModelCall(ticket: ModelCallTicket, result: ModelCallResult): Promise<Settlement>
  /**
   * The call ended without a result (provider error, caller abort, a consumer that stopped
   * reading, revocation, the cap reached mid-stream): ends it as call-ending.ts decides. A
   * request that may have left (`sent`, the default) is settled at the larger of `usage`
   * (if the provider reported some) and what the guard counted, or the whole hold when
   * nothing is known; `sent: false`, only when the provider call provably never started,
   * releases the hold, and so does `providerStatus` when the provider answered with a
   * refusal (400, 401, 403, 429, 503, 529...) before any output. Feeds the error to runaway
   * detection, unless the caller ended it (`byCaller`). Idempotent per ticket.
   */
  failModelCall(ticket: ModelCallTicket, error: unknown, options?: ModelCallFailure): Promise<void>
  /**
   * The lifecycle of a model call as one object (model-call.ts): `beforeModelCall`, then a
   * stop signal for the provider, output accounting, and one ending (`finish` or `fail`)
   * that returns the error the caller should see.
   */
  startModelCall(request: ModelCallStart): Promise<ModelCall>
  /**
   * One non-streaming provider call through the whole lifecycle: limits and stop signal
   * in, settled on success, ended and the right error thrown on failure or revocation.
   */
  runModelCall<T>(
    request: ModelCallStart,
    provider: (limits: ProviderLimits) => PromiseLike<T>,
    result: (value: T) => ModelCallResult,
  ): Promise<T>
  /**
   * Checks status and runaway policy for a tool call and holds a paid tool's price (its
   * `priceUsd`, else the configured `toolPrices`).
   */
  beforeToolCall(request: ToolCallRequest): Promise<ToolCallTicket>
  /**
   * Ends a tool call and feeds detection. A paid tool is charged its price when it returned
   * and when it failed after it started (it may have spent); released only for
   * `{ ok: false, started: false }`, a call whose tool provably never ran.
   */
  afterToolCall(ticket: ToolCallTicket, outcome: ToolOutcome): Promise<void>
  /**
   * Runs one tool call between `beforeToolCall` and `afterToolCall`: refused before it
   * runs (revoked, runaway, a paid tool over the cap), its price held, then charged whether
   * `run` returns or throws (it started; the error is rethrown). A framework that answers
   * for a tool it never ran (its arguments failed the schema) says so through `outcome`:
   * `returned` reads a value `run` returned, `threw` an error it threw.
   */
  runToolCall<T>(
    request: ToolCallRequest,
    run: () => PromiseLike<T> | T,
    outcome?: ToolOutcomeOf<T>,
  ): Promise<T>
  /**
   * Checks status, the spend rules (the agent's and the request's) and budget, then holds a
   * spend that is not a model call. A rule refuses with SpendRefusedError.
   */
  reserveSpend(request: SpendRequest): Promise<SpendTicket>
  /** Settles a spend at its real amount (defaults to the amount held). Idempotent. */
  settleSpend(ticket: SpendTicket, outcome?: SpendSettle): Promise<Settlement>
  /** Releases a spend's hold without spending. Idempotent. */
  releaseSpend(
    ticket: SpendTicket,
    outcome?: { reason?: string; details?: Record<string, unknown> },
  ): Promise<void>
  /**
   * Records a spend refused by a rule outside the core (an adapter's payee allowlist, say):
   * a `denied` audit entry with the spend's details, and a `denied` event.
   */
  refuseSpend(request: SpendRequest, error: KillSwitchError): Promise<void>
  /**
   * Records that a spend's outcome is unknown (the connection dropped after payment went
   * out): its hold stays until it lapses at `holdUntil` (set as the hold's TTL), and the
   * audit log says so.
   */
  markSpendUnknown(
    ticket: SpendTicket,
    outcome: { holdUntil: number; reason: string; details?: Record<string, unknown> },
  ): Promise<void>
  /** Reports an error outside a ticket (a chain failed...), for the error-streak detector. */
  onError(error: unknown, source?: 'model' | 'tool' | 'chain'): Promise<void>
}
