// The agent guard: the one seam adapters call (guard-types.ts). Every authorising method
// admits the agent (agent-access.ts), asks the runaway monitor, prices the action and holds
// its bound atomically in the store (guard-ledger.ts) before anything is spent.

import { refuseUnknownKeys } from './adapter-options.js'
import { AgentAccess, type PreparedActivity } from './agent-access.js'
import { approvalsOn, asksPerson, awaitApproval } from './approval-gate.js'
import { type Awaitable, andThen, promised, type Steps } from './awaitable.js'
import {
  type CallEnd,
  costOfEnding,
  type EndingCost,
  type ToolOutcome,
  toolEndingAction,
} from './call-ending.js'
import { capRefusalError, describeLevel } from './cap-refusal.js'
import { type Engine, storeCall } from './engine.js'
import {
  InvalidConfigError,
  KillSwitchError,
  type SpendRefusedError,
  UnknownModelPriceError,
} from './errors.js'
import {
  auditEntry,
  holdFunds,
  releaseFunds,
  renewHold,
  settleFunds,
  withDefined,
} from './guard-ledger.js'
import {
  availableUsd,
  countsAsFailure,
  describeError,
  formatUsd,
  ModelResultObservation,
  ModelTicket,
  type ModelTicketState,
  SpendTicketHeld,
  type SpendTicketState,
  ToolTicket,
} from './guard-tickets.js'
import type {
  AgentGuard,
  GuardOptions,
  ModelCallFailure,
  ModelCallRequest,
  ModelCallResult,
  ModelCallTicket,
  OutputDelta,
  Settlement,
  SpendRequest,
  SpendSettle,
  SpendTicket,
  TokenUsage,
  ToolCallRequest,
  ToolCallTicket,
  ToolOutcomeOf,
} from './guard-types.js'
import { newHoldId } from './hold-id.js'
import { keepHoldAlive } from './hold-lease.js'
import { MAX_TTL_MS } from './ledger/ledger-input.js'
import {
  type ModelCall,
  type ModelCallStart,
  type ProviderLimits,
  runModelCall,
  startModelCall,
} from './model-call.js'
import { chargeMicros, MAX_CAP_USD, toMicros, toUsd } from './money.js'
import { paymentStory } from './payments/payment-story.js'
import { isSearchModel } from './pricing/billed-apart.js'
import {
  affordableOutputTokens,
  billableInputMost,
  costBound,
  DEFAULT_CONTEXT_WINDOW,
  inputBound,
  leastInputTokens,
} from './pricing/cost.js'
import { type InputEvidence, type ModelRates, ratesFor } from './pricing/model-rates.js'
import { knownOutputCounting, type OutputCounting, outputCounting } from './pricing/output-count.js'
import type { TokenCounter } from './pricing/tokenizer.js'
import { reasonsUnseen } from './pricing/unseen-reasoning.js'
import { redactSecrets } from './redact.js'
import { availableAt, ownRuns, reserveScope } from './reserve-scope.js'
import { NO_MONITOR, type Observation } from './runaway/types.js'
import { checkSpendRules, parseSpendRules, type SpendRules } from './spend-rules.js'
import type { AgentRecord, LevelRefusal, ReserveResult } from './store.js'
import { outOfBudget, tightestLevel, windowRefusing } from './tightest-level.js'
import { parseToolPrices, type ToolPrices } from './tool-prices.js'

// A reserve refused for the cap is retried with fresh numbers (a smaller clamp may fit).
const RESERVE_ATTEMPTS = 4

/** Makes a guard for a credential. The credential is hashed at once and never kept. */
export function createGuard(
  engine: Engine,
  credential: string,
  options: GuardOptions = {},
): AgentGuard {
  checkGuardOptions(options)
  // Checked here, at the guard's construction: a bad price never reaches a call.
  const own = parseToolPrices(options?.toolPrices)
  const toolPrices =
    Object.keys(own).length === 0 ? engine.toolPrices : { ...engine.toolPrices, ...own }
  return new Guard(engine, credential, toolPrices)
}

/** The budget scope a call takes, which a guard does not (`BudgetScope`). */
const CALL_SCOPE = ['budgets', 'runId', 'runCap']

/**
 * Refuses what `ks.guard` does not take: a budget scope given here was ignored, and a
 * customer's budget or a run cap with it (red team r16: ten calls past a $0.001 budget).
 */
function checkGuardOptions(options: unknown): void {
  if (options === undefined) return
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    invalid('options', 'Invalid options: ks.guard takes an object ({ toolPrices }) or nothing.')
  }
  const scoped = Object.keys(options).find((key) => CALL_SCOPE.includes(key))
  if (scoped !== undefined) {
    invalid(
      scoped,
      `Invalid ${scoped}: ks.guard takes no budget scope; pass ${scoped} with each call (beforeModelCall, startModelCall, beforeToolCall, reserveSpend) or in an adapter's options, where it is applied.`,
    )
  }
  refuseUnknownKeys(options, ['toolPrices'], 'ks.guard')
}

function invalid(field: string, message: string): never {
  throw new InvalidConfigError(field, message)
}

class Guard implements AgentGuard {
  readonly #engine: Engine
  readonly #access: AgentAccess
  readonly #toolPrices: ToolPrices

  constructor(engine: Engine, credential: string, toolPrices: ToolPrices) {
    this.#engine = engine
    this.#access = new AgentAccess(engine, credential)
    this.#toolPrices = toolPrices
  }

  get signal(): AbortSignal {
    return this.#access.signal
  }

  /**
   * The max output tokens a call that sets none is held for and told
   * (`createKillSwitch({ defaultMaxOutputTokens })`, 4096 by default): an adapter whose
   * provider adds tokens beside it (a thinking budget) sizes the call with it.
   */
  get defaultMaxOutputTokens(): number {
    return this.#engine.defaultMaxOutputTokens
  }

  async spendRules(): Promise<SpendRules | undefined> {
    const agent = await this.#access.admit(undefined)
    return (this.#access.agent ?? agent).policy.spendRules
  }

  async check(
    options: { runId?: string; requireBudget?: boolean; fresh?: boolean } = {},
  ): Promise<string> {
    const access = this.#access
    const agent = await access.admit(options.runId)
    if (!options.fresh && !options.requireBudget) return agent.handle
    // Another process's revocation reaches this one's signal only at its next poll.
    const latest = await access.reload(agent.handle)
    if (latest.status === 'revoked') access.denyRevoked(latest.handle, latest)
    if (options.requireBudget) {
      // Every level (verify's reading); an agent with approvals on is asked at its reserve.
      const store = this.#engine.store
      const now = this.#engine.now()
      const { level, leftMicros } = await storeCall(store, () => tightestLevel(store, latest, now))
      if (outOfBudget(leftMicros, level, approvalsOn(latest))) {
        access.deny(latest.handle, 'spending_cap', capRefusalError(latest, level, 0))
      }
    }
    return agent.handle
  }

  beforeModelCall(request: ModelCallRequest): Promise<ModelCallTicket> {
    return promised(() => this.#beforeModel(request))
  }

  // A generator (awaitable.ts): no promise of its own while the store answers at once.
  *#beforeModel(request: ModelCallRequest): Steps<ModelCallTicket> {
    if (typeof request?.model !== 'string' || request.model.length === 0) {
      invalid('model', 'Invalid model: the model id is required to price the call (e.g. "gpt-4o").')
    }
    const userMax = request.maxOutputTokens
    if (userMax !== undefined && (!Number.isInteger(userMax) || userMax < 1)) {
      invalid(
        'maxOutputTokens',
        `Invalid maxOutputTokens: a whole number >= 1 is required (got ${String(userMax)}).`,
      )
    }
    const asked = reserveScope(request)
    const engine = this.#engine
    const access = this.#access
    const agent = (yield access.admit(request.runId)) as AgentRecord
    const scope = ownRuns(asked, agent.handle)
    const modelRates = engine.prices.resolve(request.model, request.provider)
    const input = inputBound(request.input, { contextWindow: modelRates?.contextWindow })
    const unpriced = unpricedPart(request, modelRates, input)
    if (!modelRates || unpriced) {
      const error = new UnknownModelPriceError(
        request.model,
        request.provider,
        unpriced?.what,
        unpriced?.fix,
      )
      return access.deny(agent.handle, 'unknown_price', error, { model: request.model })
    }
    const inputTokens = input.tokens
    // Reasoning it may bill unseen: by the model's name, or the request turning it on.
    const unseenOutput = input.reasons === true || reasonsUnseen(request.model)
    // Held and settled at the rates its input shows (media, a one-hour cache).
    const rates = ratesFor(modelRates, input)
    // The hold covers what the output count can reach: the max output tokens the provider is
    // told, times the count's headroom when the model's tokenizer is not known (a provider
    // that holds itself to its limit needs none).
    const modelCounting =
      knownOutputCounting(request.model) ??
      ((yield outputCounting(request.model)) as OutputCounting)
    const counting = request.fixedOutput === true ? modelCounting.limited : modelCounting
    const tokenizer = modelCounting.counter
    // A limit the core cannot pass on is the provider's own: without one, the whole window.
    // An input-only call bills no output: held for the least, one token.
    const wanted =
      request.inputOnly === true
        ? 1
        : (userMax ??
          (request.fixedOutput === true
            ? (modelRates.contextWindow ?? DEFAULT_CONTEXT_WINDOW)
            : engine.defaultMaxOutputTokens))
    // Past the cap of an agent with approvals on, a person is asked once; approved, the
    // grant is in the ledger and the reserve is tried again.
    for (let round = 0; round < 2; round++) {
      const held = yield* this.#holdModel(request, agent, {
        rates,
        inputTokens,
        // Usage under it is checked against the text's count: by the tokenizer, if known.
        inputLeast: tokenizer === undefined ? input.leastTokens : input.plausibleTokens,
        tokenizer,
        counting,
        wanted,
        scope,
        unseenOutput,
      })
      if ('ticket' in held) return held.ticket
      const known = access.agent ?? agent
      // The least this call could need: its prompt and one output token (as counted); all
      // it asks for when its limit cannot be cut.
      const least = costBound(
        inputTokens,
        (request.fixedOutput === true ? wanted : 1) * counting.headroom,
        rates,
      )
      if (round === 0 && asksPerson(approvalsOn(known), held.refusal)) {
        const full = costBound(inputTokens, wanted * counting.headroom, rates)
        yield this.#askApproval(known, full, `${request.model} call needs $${toUsd(full)}`, scope)
        continue
      }
      const error = capRefusalError(known, held.refusal, least)
      return access.deny(known.handle, 'spending_cap', error, { model: request.model })
    }
    throw new Error('unreachable')
  }

  /**
   * Asks a person to let the agent spend `neededMicros` (the call's bound) past its cap;
   * resolves once approved.
   */
  async #askApproval(
    agent: AgentRecord,
    neededMicros: number,
    reason: string,
    scope: ReturnType<typeof reserveScope>,
  ): Promise<void> {
    // A window, a budget or the call's run that would refuse it too: a grant lifts only the
    // cap, so nobody is asked (an approved call would be refused again, the grant left on
    // the cap).
    const store = this.#engine.store
    const now = this.#engine.now()
    const beside = await storeCall(store, () =>
      windowRefusing(store, agent, now, neededMicros, scope),
    )
    if (beside !== undefined) {
      this.#access.deny(agent.handle, 'spending_cap', capRefusalError(agent, beside, neededMicros))
    }
    // Overdrawn already (a lowered cap, a lapsed hold, a late settlement): the grant must
    // cover what is spent past the cap as well, or the approved call is refused again.
    const requestedMicros = neededMicros - Math.min(0, availableAt(agent, now))
    try {
      await awaitApproval(this.#engine, agent, requestedMicros, reason, this.#access.signal)
    } catch (error) {
      // Revoked while it waited: the answer is the revocation, not a missing decision.
      if (this.#access.signal.aborted) this.#access.denyRevoked(agent.handle, undefined)
      if (KillSwitchError.isInstance(error)) {
        this.#access.recordDenial(agent.handle, 'spending_cap', error, {
          requested: toUsd(requestedMicros),
        })
      }
      throw error
    }
  }

  /**
   * Holds a model call's bound, clamping its max output tokens to what the tightest level
   * leaves. Returns the ticket, or the level that refused once nothing fits.
   */
  *#holdModel(
    request: ModelCallRequest,
    agent: AgentRecord,
    call: {
      rates: ModelRates
      inputTokens: number
      inputLeast: number
      tokenizer: TokenCounter | undefined
      counting: OutputCounting
      wanted: number
      scope: ReturnType<typeof reserveScope>
      unseenOutput: boolean
    },
  ): Steps<{ ticket: ModelCallTicket } | { refusal: LevelRefusal | undefined }> {
    const engine = this.#engine
    const access = this.#access
    const { rates, inputTokens, counting, wanted, scope } = call
    let fresh = false
    let tightest = Number.POSITIVE_INFINITY
    let refusal: LevelRefusal | undefined
    for (let attempt = 0; attempt < RESERVE_ATTEMPTS; attempt++) {
      const known = access.agent ?? agent
      // The agent's own figures first; a refusal tells the tightest level's (budgets, windows).
      const available = Math.min(availableAt(known, engine.now()), tightest)
      const affordable = affordableOutputTokens(available, inputTokens, rates)
      const maxOutputTokens = Math.min(wanted, Math.floor(affordable / counting.headroom))
      // A limit that cannot be passed on is held whole, or not at all.
      if (available <= 0 || maxOutputTokens < (request.fixedOutput === true ? wanted : 1)) {
        if (fresh) break
        fresh = true
        tightest = Number.POSITIVE_INFINITY
        yield access.reload(known.handle)
        continue
      }
      const output = counting.start(maxOutputTokens)
      const amount = costBound(inputTokens, output.limit, rates)
      const holdId = newHoldId()
      const observation = {
        kind: 'model_call' as const,
        runId: request.runId,
        model: request.model,
      }
      const data: Record<string, unknown> = {
        holdId,
        kind: 'model',
        amount: toUsd(amount),
        model: request.model,
        priceId: rates.priceId,
        inputTokenBound: inputTokens,
        maxOutputTokens,
        requestedMaxOutputTokens: request.maxOutputTokens ?? null,
        runId: request.runId ?? null,
      }
      if (output.limit !== maxOutputTokens) data.outputCountBound = output.limit
      // An input-only call (embeddings) is not runaway activity: bulk by nature (an
      // ingestion is thousands of calls in one run; as activity, the call-rate throttle and
      // the run's call limit stopped it, red team r14). A throttle refuses it like any call.
      const watched = request.inputOnly !== true
      if (!watched) access.refuseIfThrottled(known, observation)
      // The call's runaway activity rides on its reserve: two store round trips a call.
      const activity = watched ? access.prepare(known, observation) : undefined
      let result: ReserveResult
      try {
        result = (yield holdFunds(engine, {
          handle: known.handle,
          holdId,
          amountMicros: amount,
          ttlMs: engine.holdTtlMs,
          kind: 'model',
          label: request.model,
          summary: `held ${formatUsd(amount)} for ${request.model} (up to ${maxOutputTokens} output tokens)`,
          data,
          scope,
          activity: activity?.batch,
        })) as ReserveResult
      } catch (error) {
        access.restore(activity)
        throw error
      }
      if (!result.ok) access.restore(activity)
      if (result.agent) access.agent = result.agent
      fresh = true
      if (!result.ok && result.reason !== 'cap') access.denyRevoked(known.handle, result.agent)
      if (!result.ok) {
        refusal = result.refusal
        if (result.availableMicros !== undefined) tightest = result.availableMicros
        continue
      }
      const state: ModelTicketState = {
        rates,
        inputTokens,
        inputLeast: call.inputLeast,
        tokenizer: call.tokenizer,
        input: request.input,
        boundMicros: amount,
        output,
        unseenOutput: call.unseenOutput,
        watched,
        // The refusal whose room sized this hold; none once a fresh read reset the bound.
        clampedBy: Number.isFinite(tightest) ? refusal : undefined,
        ending: undefined,
        lease: undefined,
      }
      const ticket = ModelTicket.issue(
        {
          id: holdId,
          handle: known.handle,
          model: request.model,
          runId: request.runId,
          maxOutputTokens,
          reservedUsd: toUsd(amount),
        },
        state,
      )
      state.lease = keepHoldAlive(engine, ticket, {
        handle: known.handle,
        holdId,
        ttlMs: engine.holdTtlMs,
      })
      // Runaway detection sees only calls that were admitted and held: a call refused for
      // the cap is not activity. A call it refuses never left: its hold is released.
      try {
        const admitted = result.agent ?? known
        if (activity) {
          // In place, no promise, unless a verdict must be carried out.
          const judged = access.judge(admitted, activity, result)
          if (judged) yield judged
        } else if (watched && engine.monitor !== NO_MONITOR) {
          yield access.observe(admitted, observation)
        }
      } catch (error) {
        yield this.#endModel(ticket, state, { sent: false }, describeError(error))
        throw error
      }
      return { ticket }
    }
    return { refusal }
  }

  onOutputDelta(ticket: ModelCallTicket, delta: OutputDelta): void {
    const state = ModelTicket.stateOf(ticket)
    if (!state || state.ending) return
    const access = this.#access
    // Counted first: the provider produced it (and bills it) whatever happens next.
    const counted = state.output.add(delta)
    if (access.signal.aborted) throw access.revokedError(ticket.handle)
    // The count never falls below the provider's for the text: past the limit, the running
    // cost would pass the hold. The provider was told less; it is not keeping to it.
    if (counted > state.output.limit) {
      // Named by the level that sized the hold (a run's cap, a budget's window), if one did.
      const clamp = state.clampedBy
      const cut = clamp ? ` (cut to what ${describeLevel(clamp)} left)` : ''
      const message = `Agent "${ticket.handle}" streamed past the ${ticket.maxOutputTokens} output tokens its $${ticket.reservedUsd} hold pays for${cut}: the stream was stopped before spending past the hold.`
      const agent = access.agent
      const error = agent
        ? capRefusalError(agent, clamp, toMicros(ticket.reservedUsd), message)
        : access.capError(agent, ticket.reservedUsd, message)
      access.recordDenial(ticket.handle, 'spending_cap', error, { model: ticket.model })
      throw error
    }
  }

  afterModelCall(ticket: ModelCallTicket, result: ModelCallResult): Promise<Settlement> {
    const state = ModelTicket.stateOf(ticket)
    if (!state) {
      return Promise.reject(
        new InvalidConfigError(
          'ticket',
          'Unknown ticket: pass the ticket beforeModelCall returned.',
        ),
      )
    }
    if (state.ending) return state.ending
    const outcome = result ?? {}
    // A call that did not stream (generateText, invoke) shows its output only now: its text
    // and its tool calls (names and arguments are output the provider bills too).
    if (state.output.tokens === 0) {
      if (typeof outcome.text === 'string') state.output.add({ text: outcome.text })
      for (const call of outcome.toolCalls ?? []) {
        state.output.add({ text: `${call.name}${argumentsText(call.args)}` })
      }
    }
    return this.#endModel(ticket, state, { sent: true, usage: outcome.usage }, 'finished', outcome)
  }

  async failModelCall(
    ticket: ModelCallTicket,
    error: unknown,
    options: ModelCallFailure = {},
  ): Promise<void> {
    const state = ModelTicket.stateOf(ticket)
    if (!state || state.ending) return
    // Unless the adapter knows the provider call never started, the request may have left:
    // it is paid for (call-ending.ts), unless the provider refused it outright.
    const end: CallEnd =
      options.sent === false
        ? { sent: false }
        : {
            sent: true,
            usage: options.usage,
            ...(options.providerStatus === undefined
              ? {}
              : { providerStatus: options.providerStatus }),
            // Ended by the kill switch's own error (it stopped the call, not the provider), or
            // cut by an agent it does not trust: the provider may have gone on to its limit.
            ...(KillSwitchError.isInstance(error) || options.untrustedCut
              ? { stoppedByGuard: true }
              : {}),
          }
    await this.#endModel(ticket, state, end, describeError(error))
    const access = this.#access
    // A user's Stop is no failure: ten in a row throttled an honest chat (red team rt40).
    if (!options.byCaller && countsAsFailure(error, options.providerStatus) && access.agent) {
      await access.defer(access.agent, { kind: 'error', runId: ticket.runId, source: 'model' })
    }
  }

  /** Ends a model call exactly once: settles or releases it as call-ending.ts decides. */
  #endModel(
    ticket: ModelCallTicket,
    state: ModelTicketState,
    end: CallEnd,
    reason: string,
    result?: ModelCallResult,
  ): Promise<Settlement> {
    if (state.ending) return state.ending
    // Ended at once when the store answers at once: an event listener that ends the same
    // call meanwhile gets the ending once it is known, not a second one.
    if (state.ended) return Promise.resolve().then(() => state.ending as Promise<Settlement>)
    state.ended = true
    state.ending = promised(() => this.#ending(ticket, state, end, reason, result))
    return state.ending
  }

  /** The ending's steps; a provider's `result` is then fed to runaway detection. */
  *#ending(
    ticket: ModelCallTicket,
    state: ModelTicketState,
    end: CallEnd,
    reason: string,
    result: ModelCallResult | undefined,
  ): Steps<Settlement> {
    state.lease?.end()
    const cost = costOfEnding(end, {
      rates: state.rates,
      inputTokens: state.inputTokens,
      inputLeast: state.inputLeast,
      inputMost: billableInputMost(state.input, state.rates.contextWindow),
      // The input as it is now: a caller that grew its messages since can only raise it
      // (usage then charged on the guard's figures: too high, never too low).
      exactInputLeast: () =>
        leastInputTokens(state.input, {
          contextWindow: state.rates.contextWindow,
          counter: state.tokenizer,
        }),
      holdMicros: state.boundMicros,
      providerMaxOutputTokens: ticket.maxOutputTokens,
      output: state.output,
      unseenOutput: state.unseenOutput,
    })
    if (cost.action === 'release') {
      this.#access.agent = (yield releaseFunds(this.#engine, {
        handle: ticket.handle,
        holdId: ticket.id,
        kind: 'model',
        reason: end.sent ? `refused by the provider: ${reason}` : `not sent: ${reason}`,
        data: { model: ticket.model },
      })) as AgentRecord
      const agent = this.#access.agent
      return {
        costUsd: 0,
        spentUsd: toUsd(agent?.spentMicros ?? 0),
        availableUsd: availableUsd(agent),
      }
    }
    const micros = cost.costMicros
    const ended = reason === 'finished' ? '' : `, the call ended early (${reason})`
    const basis = basisText(cost)
    const data: Record<string, unknown> = {
      holdId: ticket.id,
      kind: 'model',
      cost: toUsd(micros),
      model: ticket.model,
      priceId: state.rates.priceId,
      basis: cost.basis,
      inputTokens: cost.inputTokens,
      outputTokens: cost.outputTokens,
      streamedTokens: state.output.tokens,
    }
    if (cost.distrusted.length > 0 && cost.basis === 'counted') {
      data.usageNotBelieved = cost.distrusted
    }
    if (ticket.runId !== undefined) data.runId = ticket.runId
    if (reason !== 'finished') data.reason = reason
    // The bound was wrong (a prompt smaller than its usage says): keep the evidence.
    if (micros > state.boundMicros) data.aboveHold = toUsd(micros - state.boundMicros)
    const settlement = (yield this.#settle(
      ticket.handle,
      ticket.id,
      micros,
      'model',
      `settled ${formatUsd(micros)} for ${ticket.model} (${basis})${ended}`,
      data,
      // Charged on the guard's own figures (no usage, or usage not believed; or stopped before
      // the provider's usage came): unreconciled, for the provider's bill to correct
      // (`agents.reconcile`). Red team rt30: a revoked runaway's streams were charged $0.91
      // against a $0.025 bill, and nothing could correct it; rt32: a 20k-token prompt whose
      // stream broke off was charged its byte bound, 6.4x, for good; a provider that went on
      // after the agent hung up billed 25x what was counted, and nothing could raise it.
      cost.basis !== 'usage',
    )) as Settlement
    const agent = this.#access.agent
    if (result !== undefined && agent && state.watched && this.#engine.monitor !== NO_MONITOR) {
      // Judged with the next call (written by its reserve): no round trip of its own.
      const { runId, model } = ticket
      const observation = new ModelResultObservation(runId, model, micros, result, state.input)
      const deferred = this.#access.defer(agent, observation)
      if (deferred) yield deferred
    }
    return settlement
  }

  startModelCall(request: ModelCallStart): Promise<ModelCall> {
    return startModelCall(this, request)
  }

  runModelCall<T>(
    request: ModelCallStart,
    provider: (limits: ProviderLimits) => PromiseLike<T>,
    result: (value: T) => ModelCallResult,
  ): Promise<T> {
    return runModelCall(this, request, provider, result)
  }

  beforeToolCall(request: ToolCallRequest): Promise<ToolCallTicket> {
    return promised(() => this.#beforeTool(request))
  }

  *#beforeTool(asked: ToolCallRequest): Steps<ToolCallTicket> {
    if (typeof asked?.name !== 'string' || asked.name.length === 0) {
      invalid('name', 'Invalid tool call: the tool name is required.')
    }
    // The scope of each tool call its model asked for, for where the tool runs apart.
    const scopes = this.#access.toolCallScopes
    if (asked.meter === false && asked.toolCallId !== undefined) {
      scopes.remember(asked.toolCallId, asked)
    }
    const request = asked.meter === false ? asked : scopes.scoped(asked)
    // The one place a tool's price is decided: the call's own, else the configured one.
    // Own keys only: a tool named `toString` is not priced by Object.prototype.
    const configured = Object.hasOwn(this.#toolPrices, request.name)
      ? this.#toolPrices[request.name]
      : undefined
    const price = request.meter === false ? 0 : (request.priceUsd ?? configured ?? 0)
    if (typeof price !== 'number' || !Number.isFinite(price) || price < 0) {
      invalid(
        'priceUsd',
        `Invalid priceUsd for tool "${request.name}": a finite number of dollars >= 0 (got ${String(request.priceUsd)}).`,
      )
    }
    const access = this.#access
    const agent = (yield access.admit(request.runId)) as AgentRecord
    // Checked already where the model asked for it (`observe: false`): not observed twice.
    const observed: Observation | undefined =
      request.observe === false
        ? undefined
        : { kind: 'tool_call', runId: request.runId, tool: request.name, args: request.args }
    const { name, runId } = request
    if (price === 0) {
      if (observed && this.#engine.monitor !== NO_MONITOR) yield access.observe(agent, observed)
      const free = { handle: agent.handle, name, runId, holdId: undefined, priceUsd: 0 }
      return ToolTicket.issue(free, undefined)
    }
    // A paid tool is held first: one refused for the cap is not activity for runaway
    // detection. One that detection refuses has not run: its hold is released.
    const held: SpendRequest = {
      amountUsd: price,
      kind: 'tool',
      description: `tool ${name}`,
      details: { tool: name },
      runId,
    }
    if (request.runCap !== undefined) held.runCap = request.runCap
    if (request.parentRunId !== undefined) held.parentRunId = request.parentRunId
    if (request.budgets !== undefined) held.budgets = request.budgets
    const spend = yield* this.#reserveSpend(held, observed)
    const paid = { handle: agent.handle, name, runId, holdId: spend.id, priceUsd: price }
    return ToolTicket.issue(paid, spend)
  }

  afterToolCall(ticket: ToolCallTicket, outcome: ToolOutcome): Promise<void> {
    return promised(() => this.#afterTool(ticket, outcome))
  }

  *#afterTool(ticket: ToolCallTicket, outcome: ToolOutcome): Steps<void> {
    const spend = ToolTicket.takeSpend(ticket)
    if (spend) {
      if (outcome.ok) {
        yield this.settleSpend(spend)
      } else if (toolEndingAction(outcome) === 'release') {
        yield this.releaseSpend(spend, {
          reason: `tool never started: ${describeError(outcome.error)}`,
        })
      } else {
        const failed = describeError(outcome.error)
        const ending = `, the tool failed after it started (${failed}): it may have spent`
        yield this.#endSpend(spend, { details: { failed } }, ending)
      }
    }
    const agent = this.#access.agent
    // Runaway detection's record of the result (nothing to build when detection is off).
    if (agent && this.#engine.monitor !== NO_MONITOR) {
      yield this.#access.defer(agent, {
        kind: 'tool_result',
        runId: ticket.runId,
        tool: ticket.name,
        ok: outcome.ok,
      })
    }
  }

  runToolCall<T>(
    request: ToolCallRequest,
    run: () => PromiseLike<T> | T,
    outcome?: ToolOutcomeOf<T>,
  ): Promise<T> {
    return promised(() => this.#runTool(request, run, outcome))
  }

  // One driven computation for the whole call: no promise between its steps while the store
  // answers at once, only the tool's own.
  *#runTool<T>(
    request: ToolCallRequest,
    run: () => PromiseLike<T> | T,
    outcome: ToolOutcomeOf<T> | undefined,
  ): Steps<T> {
    const ticket = yield* this.#beforeTool(request)
    let value: T
    try {
      value = (yield run()) as T
    } catch (error) {
      yield* this.#afterTool(ticket, outcome?.threw?.(error) ?? { ok: false, error })
      throw error
    }
    yield* this.#afterTool(ticket, outcome?.returned?.(value) ?? RAN)
    return value
  }

  reserveSpend(request: SpendRequest): Promise<SpendTicket> {
    // The caller's description is kept (hold, settlement, denial, an approval's reason) and
    // sent (approval webhooks): a URL's query, a key in it, masked first.
    const description = request?.description
    const shown =
      typeof description === 'string'
        ? { ...request, description: redactSecrets(description) }
        : request
    return promised(() => this.#reserveSpend(shown, undefined))
  }

  /** One reserve of a spend, with the call's runaway activity: put back unless written. */
  *#holdSpend(
    hold: Parameters<typeof holdFunds>[1],
    activity: PreparedActivity | undefined,
  ): Steps<ReserveResult> {
    hold.activity = activity?.batch
    try {
      const reserved = (yield holdFunds(this.#engine, hold)) as ReserveResult
      if (!reserved.ok) this.#access.restore(activity)
      return reserved
    } catch (error) {
      this.#access.restore(activity)
      throw error
    }
  }

  /**
   * Holds a spend. With `call` (a paid tool's call), its runaway activity rides on the same
   * reserve and is judged once the hold is granted; a call detection refuses is released.
   */
  *#reserveSpend(request: SpendRequest, call: Observation | undefined): Steps<SpendTicket> {
    const bad = badAmountUsd(request?.amountUsd)
    if (bad) throw bad
    if (
      request.payee !== undefined &&
      (typeof request.payee !== 'string' || request.payee === '')
    ) {
      invalid(
        'payee',
        `Invalid payee: the payee's address as a non-empty string (got ${String(request.payee)}).`,
      )
    }
    const callRules =
      request.rules === undefined ? undefined : parseSpendRules(request.rules, 'rules')
    const asked = reserveScope(request)
    const engine = this.#engine
    const access = this.#access
    const agent = (yield access.admit(request.runId)) as AgentRecord
    const scope = ownRuns(asked, agent.handle)
    // Round up: a spend is never held for less than it costs.
    const micros = chargeMicros(request.amountUsd)
    // A spend that is no call of the agent's (a payment) is refused while a throttle lasts,
    // as its calls are (a call is checked when its activity is prepared): 4 x402 payments of
    // $0.40 went through a throttle that refused every tool and model call (red team r25).
    if (!call) {
      const payee = request.payee ?? request.description
      access.refuseIfThrottled(agent, {
        kind: 'payment',
        runId: request.runId,
        costMicros: micros,
        payee,
      })
    }
    // The spend rules, before anything is held: the agent's policy and the call's own. A
    // refusal by this process's cached view is confirmed on a fresh read: rules removed
    // elsewhere must not keep refusing here.
    const broken =
      brokenRule(agent, micros, request, callRules) &&
      brokenRule((yield access.reload(agent.handle)) as AgentRecord, micros, request, callRules)
    if (broken) access.deny(agent.handle, 'spend_rule', broken, spendDetails(request, micros))
    const holdId = newHoldId()
    const hold: Parameters<typeof holdFunds>[1] = {
      handle: agent.handle,
      holdId,
      amountMicros: micros,
      ttlMs: request.ttlMs ?? engine.holdTtlMs,
      kind: request.kind,
      label: request.description,
      summary: `held ${formatUsd(micros)} for ${request.description}`,
      data: spendData(
        { holdId, kind: request.kind, amount: toUsd(micros), description: request.description },
        request.details,
        { runId: request.runId ?? null, payee: request.payee },
      ),
      scope,
    }
    let activity = call && access.prepare(agent, call)
    let result = (yield* this.#holdSpend(hold, activity)) as ReserveResult
    if (result.agent) access.agent = result.agent
    if (
      !result.ok &&
      result.reason === 'cap' &&
      result.agent &&
      asksPerson(approvalsOn(result.agent), result.refusal)
    ) {
      // Past the cap with approvals on: ask a person once, then try again under the grant.
      yield this.#askApproval(
        result.agent,
        micros,
        `${request.description} needs $${toUsd(micros)}`,
        scope,
      )
      activity = call && access.prepare(agent, call)
      result = (yield* this.#holdSpend(hold, activity)) as ReserveResult
      if (result.agent) access.agent = result.agent
    }
    if (!result.ok) {
      if (result.reason !== 'cap') access.denyRevoked(agent.handle, result.agent)
      const error = capRefusalError(result.agent ?? agent, result.refusal, micros)
      access.deny(agent.handle, 'spending_cap', error, spendDetails(request, micros))
    }
    // The reserve read the agent afresh: rules changed since this process cached it apply
    // now. Nothing has left yet: the hold is released.
    const late =
      result.agent && result.agent.policy !== agent.policy
        ? brokenRule(result.agent, micros, request, callRules)
        : undefined
    if (late) {
      access.agent = (yield releaseFunds(engine, {
        handle: agent.handle,
        holdId,
        kind: request.kind,
        reason: `refused: ${late.code}`,
        data: { description: request.description },
      })) as AgentRecord
      access.deny(agent.handle, 'spend_rule', late, spendDetails(request, micros))
    }
    const state: SpendTicketState = {
      amountMicros: micros,
      description: request.description,
      payee: request.payee,
      details: request.details,
      done: undefined,
      lease: undefined,
    }
    const ticket = SpendTicketHeld.issue(
      {
        id: holdId,
        handle: agent.handle,
        kind: request.kind,
        amountUsd: toUsd(micros),
        runId: request.runId,
      },
      state,
    )
    state.lease = keepHoldAlive(engine, ticket, {
      handle: agent.handle,
      holdId,
      ttlMs: request.ttlMs ?? engine.holdTtlMs,
    })
    if (call) {
      // The call was admitted and held: now it is judged (a refused call has not run).
      try {
        const admitted = result.agent ?? agent
        if (activity) yield access.judge(admitted, activity, result.ok ? result : undefined)
        else if (engine.monitor !== NO_MONITOR) yield access.observe(admitted, call)
      } catch (error) {
        yield this.releaseSpend(ticket, { reason: `refused: ${describeError(error)}` })
        throw error
      }
    }
    return ticket
  }

  settleSpend(ticket: SpendTicket, outcome: SpendSettle = {}): Promise<Settlement> {
    return this.#endSpend(ticket, outcome, '')
  }

  /** Settles a spend once; `ending` says, in its audit summary, how the spend ended. */
  #endSpend(ticket: SpendTicket, outcome: SpendSettle, ending: string): Promise<Settlement> {
    const state = SpendTicketHeld.stateOf(ticket)
    if (!state) {
      return Promise.reject(
        new InvalidConfigError('ticket', 'Unknown ticket: pass the ticket reserveSpend returned.'),
      )
    }
    // Released, then reported spent after all (a payment that went through): the ledger
    // records it, once, as a late settlement (money reported spent is spent).
    const late = state.released === true
    if (state.done && !late) return state.done
    // Settled at once when the store answers at once: a second settle from inside this one
    // (an event listener) gets this settlement, not one of its own.
    if (state.ended && !late) return Promise.resolve().then(() => state.done as Promise<Settlement>)
    // Checked before the spend ends: a bad amount is refused and the hold stays held, so a
    // corrected settle (or a release) can still end it.
    const bad =
      outcome.amountUsd === undefined
        ? undefined
        : badAmountUsd(
            outcome.amountUsd,
            '; the hold stays held: settle it again with a valid amount, or release it if nothing was spent',
          )
    if (bad) return Promise.reject(bad)
    state.ended = true
    state.released = false
    state.done = promised(() => this.#spendSettled(ticket, state, outcome, ending))
    return state.done
  }

  *#spendSettled(
    ticket: SpendTicket,
    state: SpendTicketState,
    outcome: SpendSettle,
    ending: string,
  ): Steps<Settlement> {
    state.lease?.end()
    // Rounded up as its hold was: never recorded below what was paid.
    const cost =
      outcome.amountUsd === undefined ? state.amountMicros : chargeMicros(outcome.amountUsd)
    const data = spendData(
      { holdId: ticket.id, kind: ticket.kind, cost: toUsd(cost), description: state.description },
      state.details,
      outcome.details,
    )
    // Which run and payee, on the entry that says what was spent (not only on its hold).
    if (ticket.runId !== undefined) data.runId ??= ticket.runId
    if (state.payee !== undefined) data.payee ??= state.payee
    // A payment says to whom and how it ended: an unknown outcome is not a settled payment.
    const story = paymentStory(data)
    const to = story?.to ?? ''
    const summary = `settled ${formatUsd(cost)}${to} for ${state.description}${ending}${story?.ending ?? ''}`
    const settlement = (yield this.#settle(
      ticket.handle,
      ticket.id,
      cost,
      ticket.kind,
      summary,
      data,
      outcome.unreconciled === true,
    )) as Settlement
    const agent = this.#access.agent
    // Every spend that is not a model call feeds spend velocity (paid tools included).
    if (agent && this.#engine.monitor !== NO_MONITOR) {
      const payee = String(data.payee ?? data.tool ?? ticket.kind)
      yield this.#access.defer(agent, {
        kind: 'payment',
        runId: ticket.runId,
        costMicros: cost,
        payee,
      })
    }
    return settlement
  }

  async releaseSpend(
    ticket: SpendTicket,
    outcome: { reason?: string; details?: Record<string, unknown> } = {},
  ): Promise<void> {
    const state = SpendTicketHeld.stateOf(ticket)
    // A settle that has begun (its settlement may not be known yet) wins: nothing to release.
    if (!state || state.done || state.ended) return
    state.lease?.end()
    state.released = true
    const agent = this.#access.agent
    state.done = Promise.resolve({
      costUsd: 0,
      spentUsd: toUsd(agent?.spentMicros ?? 0),
      availableUsd: availableUsd(agent),
    })
    // To whom, as on its settle (for an operator reading why a payment never left).
    const payee = state.payee === undefined ? {} : { payee: state.payee }
    const data = { description: state.description, ...payee, ...state.details, ...outcome.details }
    const story = paymentStory(data)
    this.#access.agent = await releaseFunds(this.#engine, {
      handle: ticket.handle,
      holdId: ticket.id,
      kind: ticket.kind,
      reason: outcome.reason ?? 'released',
      data,
      // A payment says how much, to whom and why it never left.
      summary:
        story &&
        `released hold of ${formatUsd(state.amountMicros)}${story.to} for ${state.description}${story.ending}`,
    })
  }

  async refuseSpend(request: SpendRequest, error: KillSwitchError): Promise<void> {
    const agent = await this.#access.resolve()
    const micros = Number.isFinite(request.amountUsd) ? toMicros(request.amountUsd) : 0
    this.#access.recordDenial(agent.handle, 'spend_rule', error, spendDetails(request, micros))
  }

  async markSpendUnknown(
    ticket: SpendTicket,
    outcome: { holdUntil: number; reason: string; details?: Record<string, unknown> },
  ): Promise<void> {
    const state = SpendTicketHeld.stateOf(ticket)
    if (!state) return
    const holdUntil = outcome.holdUntil
    if (typeof holdUntil !== 'number' || !Number.isFinite(holdUntil)) {
      throw new InvalidConfigError(
        'holdUntil',
        `Invalid holdUntil: a time in ms since the epoch, until which the payee can still collect (got ${String(holdUntil)}).`,
      )
    }
    // No longer live: the hold stays until `holdUntil`, then lapses and is charged in full
    // (the payment may have gone through), unless a settlement proves less first.
    state.lease?.end()
    const until = new Date(outcome.holdUntil).toISOString()
    const summary = `outcome unknown: ${formatUsd(state.amountMicros)} for ${state.description} stays held until ${until} (${outcome.reason})`
    const engine = this.#engine
    const ttlMs = Math.min(MAX_TTL_MS, Math.max(1, Math.ceil(outcome.holdUntil - engine.now())))
    await renewHold(engine, { handle: ticket.handle, holdId: ticket.id, ttlMs })
    engine.audit(
      auditEntry(ticket.handle, 'outcome_unknown', engine.now(), summary, {
        holdId: ticket.id,
        kind: ticket.kind,
        amount: ticket.amountUsd,
        holdUntil: until,
        reason: outcome.reason,
        description: state.description,
        ...state.details,
        ...outcome.details,
      }),
    )
  }

  async onError(error: unknown, source: 'model' | 'tool' | 'chain' = 'chain'): Promise<void> {
    if (!countsAsFailure(error)) return
    const agent = this.#access.agent ?? (await this.#access.resolve())
    await this.#access.defer(agent, { kind: 'error', source })
  }

  #settle(
    handle: string,
    holdId: string,
    costMicros: number,
    kind: string,
    summary: string,
    data: Record<string, unknown>,
    unreconciled = false,
  ): Awaitable<Settlement> {
    const settle = { handle, holdId, costMicros, kind, summary, data, unreconciled }
    const settled = settleFunds(this.#engine, settle)
    return andThen(settled, ({ settlement, agent }) => {
      this.#access.agent = agent
      return settlement
    })
  }
}

/** The outcome of a tool that ran and returned (shared: outcomes are only read). */
const RAN: ToolOutcome = Object.freeze({ ok: true })

/** The first spend rule the agent's policy or the call's own `rules` break, if any. */
function brokenRule(
  agent: AgentRecord,
  micros: number,
  request: SpendRequest,
  callRules: SpendRules | undefined,
): SpendRefusedError | undefined {
  const rules = agent.policy.spendRules
  if (rules === undefined && callRules === undefined) return undefined
  const spend = { amountMicros: micros, payee: request.payee, description: request.description }
  return (
    checkSpendRules(spend, rules, 'agent') ??
    checkSpendRules(spend, callRules, 'call', request.rulesNamed)
  )
}

/** What the audit log says about a refused spend: what, how much, to whom. */
function spendDetails(request: SpendRequest, micros: number): Record<string, unknown> {
  return {
    kind: request.kind,
    description: request.description,
    amount: toUsd(micros),
    ...(request.payee === undefined ? {} : { payee: request.payee }),
    ...request.details,
  }
}

/**
 * A spend's audit data: `base`, then `details` and `more` over it without their undefined
 * fields (later wins). Filled in place: no copy of either per hold and settle.
 */
function spendData(
  base: Record<string, unknown>,
  details: Record<string, unknown> | undefined,
  more: Record<string, unknown> | undefined,
): Record<string, unknown> {
  if (details !== undefined) withDefined(base, details)
  return more === undefined ? base : withDefined(base, more)
}

/** A tool call's arguments as the provider wrote them (JSON), for the output count. */
function argumentsText(args: unknown): string {
  if (typeof args === 'string') return args
  try {
    return JSON.stringify(args) ?? ''
  } catch {
    return String(args)
  }
}

/** Why an amount in dollars is refused (not a finite number from 0 to the cap bound). */
function badAmountUsd(amountUsd: unknown, then = ''): InvalidConfigError | undefined {
  if (
    typeof amountUsd === 'number' &&
    Number.isFinite(amountUsd) &&
    amountUsd >= 0 &&
    amountUsd <= MAX_CAP_USD
  ) {
    return undefined
  }
  const got = typeof amountUsd === 'string' ? JSON.stringify(amountUsd) : String(amountUsd)
  return new InvalidConfigError(
    'amountUsd',
    `Invalid amountUsd: a number of dollars from 0 to ${MAX_CAP_USD} (got ${got})${then}.`,
  )
}

/**
 * The part of a call the prices cannot bound, named for the error, with its fix when giving
 * the model's price is not it; undefined when the call is priced (or the model is unknown).
 */
function unpricedPart(
  request: ModelCallRequest,
  rates: ModelRates | undefined,
  input: InputEvidence,
): { what: string; fix?: string } | undefined {
  if (!rates) return undefined
  // Each use is billed apart from the tokens (a search, a container, another model's
  // tokens), as many uses as the provider likes within the one call: no hold bounds it.
  if (input.serverTool !== undefined) {
    return {
      what: `tool "${input.serverTool}" the provider runs itself (billed per use)`,
      fix: 'run the tool in the agent (a function tool), whose calls the kill switch meters',
    }
  }
  if (request.inputOnly !== true && isSearchModel(request.model)) {
    return {
      what: 'web searches (a search model searches and bills on every call)',
      fix: 'search in the agent and pass the results in the prompt',
    }
  }
  // Refused whatever the price: the data holds the standard rates only.
  if (request.billedApart) {
    return {
      what: request.billedApart,
      fix: 'leave the option out: only the standard rates are known',
    }
  }
  if (rates.inputOnly && request.inputOnly !== true) return { what: 'output' }
  if (request.mediaOutput === true && !rates.mediaOutput) {
    return { what: 'media output (audio, images)' }
  }
  if (input.audio === true && rates.mediaInput === undefined) {
    return {
      what: 'audio input (billed at an audio rate the price data does not have)',
      fix: `send its transcript as text, or give the model's price with its audio input rate as the input price, e.g. createKillSwitch({ prices: { '${request.model}': { inputPerMTok: 40, outputPerMTok: 80 } } })`,
    }
  }
  return undefined
}

/** How a settled model call's cost was worked out, for its audit summary. */
function basisText(cost: Extract<EndingCost, { action: 'settle' }>): string {
  const tokens = `${cost.inputTokens} in, ${cost.outputTokens} out`
  switch (cost.basis) {
    case 'usage':
      return tokens
    case 'hold':
      return `no usage reported: up to ${tokens}`
    case 'stopped':
      return `stopped before the provider reported usage: up to ${tokens}`
    case 'counted':
      return `counted: up to ${tokens}`
  }
}
