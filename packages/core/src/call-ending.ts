// What each ending of a model call or a paid tool costs: one rule for every adapter and every
// way a call ends (success, provider error, caller abort, a consumer that stops reading,
// revocation, the cap reached mid-stream, a provider that ignores its abort, a tool that
// throws).
//
// - The request never left the process: release the hold. Nor did it cost anything when
//   the provider refused it outright (a 4xx answer such as 400, 401, 429, with no output
//   streamed and no usage reported): providers do not bill a request they refused.
// - It left: settle the larger of what the provider's usage says and what the guard
//   counted (the input bound plus the output counted as it streamed). Usage that is
//   missing, not a whole non-negative number, below what streamed, or input below what the
//   request's text comes to (its bytes / 16) is not believed: the guard's own figure stands
//   in for it. When neither usage nor any output is known, the most the call can cost is
//   settled (the input bound and the output limit the provider was told; the whole hold when
//   no limit was told): money that may have left is spent. So is it when the kill switch
//   stopped the call (revoked, the cap reached, a loop found) before the provider's usage
//   came: the provider may have gone on past the stop, to the output limit it was told; so
//   is a call an untrusted agent cut (the gateway's, hanging up). A caller's abort in
//   process is charged what was counted. Every charge but the provider's believed
//   usage is the guard's own figure, and the caller records it as unreconciled: the
//   provider's bill corrects it (`agents.reconcile`).
// - Usage above what streamed is believed, however far above (reasoning bills output that
//   never streams, and a provider that ignored its limit bills past the hold): the ledger
//   records a bill too high rather than too low; the agent is stopped sooner, never later.
// - A paid tool is charged its price once it started, whether it returned or threw; released
//   only when it provably never ran.
import type { TokenUsage } from './guard-types.js'
import { MAX_MICROS } from './ledger/ledger-input.js'
import { mulDivCeil } from './money.js'
import { costBound, costOfUsage, maxOutputRate } from './pricing/cost.js'
import type { ModelRates } from './pricing/model-rates.js'
import type { OutputCount } from './pricing/output-count.js'

/** How a call ended, as far as its cost goes. */
export type CallEnd =
  /** The provider call provably never started (refused before it, failed to build it). */
  | { sent: false }
  /**
   * The request left the process; `usage` is the provider's report, when there is one;
   * `providerStatus` the HTTP status the provider answered with, when it refused the call.
   */
  | {
      sent: true
      usage?: TokenUsage
      providerStatus?: number
      /**
       * The kill switch itself stopped the call after its request left (a revocation, the
       * cap reached mid-stream, a loop found, its store lost), or an agent it does not trust
       * cut it (the gateway's agent hung up): the provider was told to stop.
       */
      stoppedByGuard?: boolean
    }

/** What the guard knows of a call: its prices, its bounds and what streamed. */
export interface CallFigures {
  readonly rates: ModelRates
  /** The input-token bound the hold was computed with. */
  readonly inputTokens: number
  /**
   * The least input tokens the request's text comes to, quickly (`inputBound().leastTokens`):
   * possibly above the exact figure, which `exactInputLeast` gives (when absent, this is it).
   */
  readonly inputLeast: number
  /** The exact least (`leastInputTokens`), asked only of a report below `inputLeast`. */
  readonly exactInputLeast?: () => number
  /**
   * The most input any provider bills for the request (`billableInputMost`: its model's
   * window, per value of a list). The hold keeps the whole bound: a window the price data has
   * too small must not let a call pass the cap; a charge for input not believed stops here.
   */
  readonly inputMost?: number
  /** The hold, in micro-dollars. */
  readonly holdMicros: number
  /**
   * The max output tokens the provider was told: the most an honest provider bills after
   * a stop (the hold may cover more: the count's headroom where the tokenizer is unknown).
   */
  readonly providerMaxOutputTokens?: number
  readonly output: OutputCount
  /** The model may bill output that never streams (reasoning: `reasonsUnseen`). */
  readonly unseenOutput?: boolean
}

/** What an ending costs, and on what evidence. */
export type EndingCost =
  | { action: 'release' }
  | {
      action: 'settle'
      costMicros: number
      /**
       * usage: the provider's usage, believed; counted: the guard's figures stood in for
       * usage that was missing or not believable; hold: nothing was known, the most the call can cost;
       * stopped: the kill switch stopped the call without the provider's usage: the input
       * bound and the output limit the provider was told (or what was counted, if more).
       */
      basis: 'usage' | 'counted' | 'hold' | 'stopped'
      inputTokens: number
      outputTokens: number
      /** Usage fields that were not believed, for the audit log. */
      distrusted: string[]
    }

const PER_MILLION = 1_000_000

/**
 * A cost the ledger can record: at most its largest settlement (`MAX_MICROS`, $1e9). Usage
 * past it (a provider reporting 1e15 tokens) is recorded there, stopping the agent, rather
 * than refused by the ledger, which left the call held until its lease lapsed (red team rt40).
 */
const ledgerMost = (micros: number) => Math.min(micros, MAX_MICROS)

/** A token count a provider can really report: a whole number >= 0. */
function valid(value: number | undefined): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0
}

/**
 * The cost of a call's ending (see the rule above).
 *
 * @example
 * costOfEnding({ sent: true, usage: { inputTokens: 120, outputTokens: 0 } }, figures)
 * // after 20,000 streamed tokens: settled at the counted figure, never at zero
 */
export function costOfEnding(end: CallEnd, figures: CallFigures): EndingCost {
  if (!end.sent) return { action: 'release' }
  if (refusedByProvider(end.providerStatus) && figures.output.tokens === 0 && !end.usage) {
    return { action: 'release' }
  }
  const { rates, output, holdMicros } = figures
  const usage = end.usage ?? {}
  const distrusted: string[] = []

  const cacheRead = valid(usage.cacheReadTokens) ? usage.cacheReadTokens : 0
  const cacheWrite = valid(usage.cacheWriteTokens) ? usage.cacheWriteTokens : 0
  const longCacheWrite = valid(usage.longCacheWriteTokens) ? usage.longCacheWriteTokens : 0
  // Input: providers always bill at least one input token for a request that left, and at
  // least what its text comes to (with the cached part, which some report apart).
  const input = usage.inputTokens
  const reportedInput = (input ?? 0) + cacheRead + cacheWrite
  const inputBelieved =
    valid(input) &&
    input > 0 &&
    (reportedInput >= figures.inputLeast ||
      reportedInput >= (figures.exactInputLeast?.() ?? figures.inputLeast))
  if (!inputBelieved) distrusted.push('inputTokens')
  // Output: believed when it is at least what streamed could honestly have been. A report
  // at or above the running count (never below the real one) needs no tokenizer pass.
  const out = usage.outputTokens
  const outputBelieved = valid(out) && (out >= output.tokens || out >= output.floor())
  if (!outputBelieved) distrusted.push('outputTokens')
  // Charged by the count only when the usage is not believed: then counted at its closest
  // (a stream its consumer left, aborted before the provider's usage came, was charged its
  // bytes, about 5x its tokens, though the model's tokenizer was at hand).
  const streamed = outputBelieved ? output.tokens : output.closest()

  if (!inputBelieved && !valid(out) && streamed === 0) {
    // Nothing known of what the call used: the most it can cost (never recorded as free).
    return { action: 'settle', ...mostItCanCost(figures), basis: 'hold', distrusted }
  }
  if (inputBelieved && outputBelieved) {
    const reasoning = valid(usage.reasoningTokens) ? usage.reasoningTokens : 0
    return {
      action: 'settle',
      costMicros: ledgerMost(
        costOfUsage(
          {
            inputTokens: input,
            cacheReadTokens: cacheRead,
            cacheWriteTokens: cacheWrite,
            longCacheWriteTokens: longCacheWrite,
            outputTokens: out,
            reasoningTokens: reasoning,
          },
          rates,
        ),
      ),
      basis: 'usage',
      inputTokens: input,
      outputTokens: out,
      distrusted,
    }
  }
  // Some of the usage is not believed: the guard's figure replaces that part. Output counted
  // from nothing streamed is the hold's bound, and so is the output of a model that reasons
  // unseen (its visible text is not its output) or that streamed what could not be counted
  // (audio). What streamed is never cut to the hold: a provider that ignored its limit and
  // sent a thousand tokens in one piece, past the point where the stream is stopped, bills
  // them all (money that left is spent; the settlement records it past the hold).
  const counted =
    streamed > 0 && !figures.unseenOutput && !output.uncounted
      ? streamed
      : Math.max(output.limit, streamed)
  const outputTokens = outputBelieved ? out : Math.max(valid(out) ? out : 0, counted)
  // A provider that reports input without its cached part: the total is at least the parts.
  // Not believed, the input is charged its bound, but never past what the model's window
  // holds (`inputMost`; red team r19: a request 6.6x the window was charged whole).
  const inputTokens = inputBelieved
    ? Math.max(input, cacheRead + cacheWrite)
    : Math.min(figures.inputTokens, figures.inputMost ?? Number.POSITIVE_INFINITY)
  const inputMicros = inputBelieved
    ? costOfUsage(
        {
          inputTokens: input,
          cacheReadTokens: cacheRead,
          cacheWriteTokens: cacheWrite,
          longCacheWriteTokens: longCacheWrite,
        },
        rates,
      )
    : costBound(inputTokens, 0, rates)
  // At the highest output rate (reasoning or a tier the real input may reach).
  const outputMicros = mulDivCeil(outputTokens, maxOutputRate(rates, inputTokens), PER_MILLION)
  const countedMicros = inputMicros + outputMicros
  // Stopped by the kill switch, what the provider did after the stop is unknown: what
  // streamed is only a floor, and a provider that ignores its abort goes on to the limit it
  // was told (red team r20: a revoked stream recorded 19% of its bill). The most it can
  // cost, then; so for a cut by an agent the kill switch does not trust (the gateway's agent
  // hanging up: red team rt40, an upstream going on billed 6x the cap). A caller's own abort
  // in process, or a consumer that stopped reading, is charged what was counted: an honest
  // provider stops at the disconnect, and a user's Stop must not cost the whole limit.
  if (end.stoppedByGuard === true) {
    const most = mostItCanCost(figures)
    if (countedMicros < most.costMicros)
      return { action: 'settle', ...most, basis: 'stopped', distrusted }
  }
  return {
    action: 'settle',
    costMicros: ledgerMost(countedMicros),
    basis: 'counted',
    inputTokens,
    outputTokens,
    distrusted,
  }
}

/**
 * The most an honest provider bills for the request: the input bound and the output limit it
 * was told; not the whole hold, whose count headroom (where the model's tokenizer is unknown)
 * no provider bills (red team r21 and rt32: 6x the most a Claude call could cost). Only the
 * endings with nothing better to go on ask for it (not every settled call).
 */
function mostItCanCost({ rates, output, holdMicros, ...figures }: CallFigures) {
  const told = figures.providerMaxOutputTokens
  if (told === undefined) {
    return { costMicros: holdMicros, inputTokens: figures.inputTokens, outputTokens: output.limit }
  }
  const inputTokens = Math.min(figures.inputTokens, figures.inputMost ?? Number.POSITIVE_INFINITY)
  const costMicros = Math.min(holdMicros, costBound(inputTokens, told, rates))
  return { costMicros, inputTokens, outputTokens: told }
}

/**
 * The statuses a provider answers when it refused a request before doing any work: bad
 * request, unauthorised, forbidden, not found, too large, unprocessable, rate limited, and
 * load shed: 503 (OpenAI's "Slow Down" and "engine overloaded") and 529 (Anthropic's
 * `overloaded_error`) turn a request away unserved, as a 429 does. Charging each its whole
 * hold made a provider's bad day burn an honest agent's cap (a retry storm of 503s recorded
 * 60x the bill). 408 (a timeout), 500, 502 and 504 are not here: the work may have been done.
 */
const REFUSALS = new Set([400, 401, 402, 403, 404, 409, 413, 415, 422, 429, 503, 529])

function refusedByProvider(status: number | undefined): boolean {
  return status !== undefined && REFUSALS.has(status)
}

/**
 * How a tool call ended. `started: false` only when the tool's own code provably never ran
 * (its arguments failed the framework's schema, the agent has no such tool).
 */
export type ToolOutcome = { ok: true } | { ok: false; error?: unknown; started?: boolean }

/**
 * What a paid tool's ending costs: its price, unless it provably never started. A tool that
 * failed after it started may have spent (it called its paid API, then failed on the
 * answer), so it is charged, as a model request that left is.
 *
 * @example
 * toolEndingAction({ ok: false, error }) // 'settle': it ran, it may have spent
 * toolEndingAction({ ok: false, started: false }) // 'release'
 */
export function toolEndingAction(outcome: ToolOutcome): 'settle' | 'release' {
  return outcome.ok || outcome.started !== false ? 'settle' : 'release'
}
