// The agent guard: the one seam adapters call (guard-types.ts). Every authorising method
// admits the agent (agent-access.ts), asks the runaway monitor, prices the action and holds
// its bound atomically in the store (guard-ledger.ts) before anything is spent.
import { randomUUID } from 'node:crypto'
import { AgentAccess } from './agent-access.js'
import type { Engine } from './engine.js'
import { InvalidConfigError, type KillSwitchError, UnknownModelPriceError } from './errors.js'
import { auditEntry, holdFunds, releaseFunds, settleFunds } from './guard-ledger.js'
import {
  availableUsd,
  describeError,
  formatUsd,
  hasTokens,
  isOwnOrAbort,
  type ModelTicketState,
  modelTickets,
  outputHash,
  spendTickets,
  toolSpends,
} from './guard-tickets.js'
import type {
  AgentGuard,
  ModelCallRequest,
  ModelCallResult,
  ModelCallTicket,
  OutputDelta,
  Settlement,
  SpendRequest,
  SpendTicket,
  ToolCallRequest,
  ToolCallTicket,
} from './guard-types.js'
import { toMicros, toUsd } from './money.js'
import {
  affordableOutputTokens,
  costBound,
  costOfUsage,
  estimateOutputTokens,
  inputTokenBound,
} from './pricing/cost.js'

// A reserve refused for the cap is retried with fresh numbers (a smaller clamp may fit).
const RESERVE_ATTEMPTS = 4

/** Makes a guard for a credential. The credential is hashed at once and never kept. */
export function createGuard(engine: Engine, credential: string): AgentGuard {
  return new Guard(engine, credential)
}

function invalid(field: string, message: string): never {
  throw new InvalidConfigError(field, message)
}

class Guard implements AgentGuard {
  readonly #engine: Engine
  readonly #access: AgentAccess

  constructor(engine: Engine, credential: string) {
    this.#engine = engine
    this.#access = new AgentAccess(engine, credential)
  }

  get signal(): AbortSignal {
    return this.#access.signal
  }

  async check(options: { runId?: string; requireBudget?: boolean } = {}): Promise<string> {
    const access = this.#access
    const agent = await access.admit(options.runId)
    if (options.requireBudget) {
      const latest = await access.reload(agent.handle)
      if (latest.status === 'revoked') access.denyRevoked(latest.handle, latest)
      if (latest.capMicros - latest.spentMicros - latest.heldMicros <= 0) {
        access.deny(latest.handle, 'spending_cap', access.capError(latest, 0))
      }
    }
    return agent.handle
  }

  async beforeModelCall(request: ModelCallRequest): Promise<ModelCallTicket> {
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
    const engine = this.#engine
    const access = this.#access
    const agent = await access.admit(request.runId)
    await access.observe(agent, { kind: 'model_call', runId: request.runId, model: request.model })
    const rates = engine.prices.resolve(request.model, request.provider)
    if (!rates) {
      const error = new UnknownModelPriceError(request.model, request.provider)
      return access.deny(agent.handle, 'unknown_price', error, { model: request.model })
    }
    const inputTokens = inputTokenBound(request.input)
    const wanted = userMax ?? engine.defaultMaxOutputTokens
    let fresh = false
    for (let attempt = 0; attempt < RESERVE_ATTEMPTS; attempt++) {
      const known = access.agent ?? agent
      const available = known.capMicros - known.spentMicros - known.heldMicros
      const maxOutputTokens = Math.min(
        wanted,
        affordableOutputTokens(available, inputTokens, rates),
      )
      if (available <= 0 || maxOutputTokens < 1) {
        if (fresh) break
        fresh = true
        await access.reload(known.handle)
        continue
      }
      const amount = costBound(inputTokens, maxOutputTokens, rates)
      const holdId = randomUUID()
      const result = await holdFunds(engine, {
        handle: known.handle,
        holdId,
        amountMicros: amount,
        ttlMs: engine.holdTtlMs,
        kind: 'model',
        summary: `held ${formatUsd(amount)} for ${request.model} (up to ${maxOutputTokens} output tokens)`,
        data: {
          model: request.model,
          priceId: rates.priceId,
          inputTokenBound: inputTokens,
          maxOutputTokens,
          requestedMaxOutputTokens: userMax ?? null,
          runId: request.runId ?? null,
        },
      })
      if (result.agent) access.agent = result.agent
      fresh = true
      if (!result.ok && result.reason !== 'cap') access.denyRevoked(known.handle, result.agent)
      if (result.ok) {
        const ticket: ModelCallTicket = Object.freeze({
          id: holdId,
          handle: known.handle,
          model: request.model,
          runId: request.runId,
          maxOutputTokens,
          reservedUsd: toUsd(amount),
        })
        const state = {
          rates,
          inputTokens,
          boundMicros: amount,
          outputTokens: 0,
          settlement: undefined,
          done: false,
        }
        modelTickets.set(ticket, state)
        return ticket
      }
    }
    const known = access.agent ?? agent
    // The least this call could need: its prompt and one output token.
    const error = access.capError(known, toUsd(costBound(inputTokens, 1, rates)))
    return access.deny(known.handle, 'spending_cap', error, { model: request.model })
  }

  onOutputDelta(ticket: ModelCallTicket, delta: OutputDelta): void {
    const state = modelTickets.get(ticket)
    if (!state || state.done) return
    const access = this.#access
    if (access.signal.aborted) throw access.revokedError(ticket.handle)
    state.outputTokens += delta.tokens ?? estimateOutputTokens(delta.text ?? '')
    // The provider was told maxOutputTokens; streaming past it would spend past the hold.
    if (state.outputTokens > ticket.maxOutputTokens) {
      const message = `Agent "${ticket.handle}" streamed past the ${ticket.maxOutputTokens} output tokens its $${ticket.reservedUsd} hold pays for: the stream was stopped before spending past the hold.`
      const error = access.capError(access.agent, ticket.reservedUsd, message)
      access.recordDenial(ticket.handle, 'spending_cap', error, { model: ticket.model })
      throw error
    }
  }

  afterModelCall(ticket: ModelCallTicket, result: ModelCallResult): Promise<Settlement> {
    const state = modelTickets.get(ticket)
    if (!state) {
      return Promise.reject(
        new InvalidConfigError(
          'ticket',
          'Unknown ticket: pass the ticket beforeModelCall returned.',
        ),
      )
    }
    state.settlement ??= this.#settleModel(ticket, state, result ?? {})
    state.done = true
    return state.settlement
  }

  async failModelCall(ticket: ModelCallTicket, error: unknown): Promise<void> {
    const state = modelTickets.get(ticket)
    if (!state || state.done) return
    state.done = true
    const reason = describeError(error)
    const access = this.#access
    if (state.outputTokens > 0) {
      // Output was produced, so the provider bills for it: settle an estimate, never zero.
      const produced = {
        inputTokens: Math.ceil(state.inputTokens / 4),
        outputTokens: state.outputTokens,
      }
      const cost = Math.min(costOfUsage(produced, state.rates), state.boundMicros)
      const summary = `settled ${formatUsd(cost)} (estimated) for ${ticket.model}: the call ended early (${reason})`
      state.settlement = this.#settle(ticket.handle, ticket.id, cost, 'model', summary, {
        model: ticket.model,
        estimated: true,
        outputTokens: state.outputTokens,
        reason,
      })
      await state.settlement
    } else {
      const release = {
        handle: ticket.handle,
        holdId: ticket.id,
        kind: 'model',
        reason,
        data: { model: ticket.model },
      }
      access.agent = await releaseFunds(this.#engine, release)
    }
    if (!isOwnOrAbort(error) && access.agent) {
      await access.observe(access.agent, { kind: 'error', runId: ticket.runId, source: 'model' })
    }
  }

  async beforeToolCall(request: ToolCallRequest): Promise<ToolCallTicket> {
    if (typeof request?.name !== 'string' || request.name.length === 0) {
      invalid('name', 'Invalid tool call: the tool name is required.')
    }
    const price = request.priceUsd ?? 0
    if (!Number.isFinite(price) || price < 0) {
      invalid(
        'priceUsd',
        `Invalid priceUsd for tool "${request.name}": a finite number of dollars >= 0 (got ${String(request.priceUsd)}).`,
      )
    }
    const access = this.#access
    const agent = await access.admit(request.runId)
    await access.observe(agent, {
      kind: 'tool_call',
      runId: request.runId,
      tool: request.name,
      args: request.args,
    })
    const base = { handle: agent.handle, name: request.name, runId: request.runId }
    if (price === 0) return Object.freeze({ ...base, holdId: undefined, priceUsd: 0 })
    const spend = await this.reserveSpend({
      amountUsd: price,
      kind: 'tool',
      description: `tool ${request.name}`,
      details: { tool: request.name },
      runId: request.runId,
    })
    const ticket = Object.freeze({ ...base, holdId: spend.id, priceUsd: price })
    toolSpends.set(ticket, spend)
    return ticket
  }

  async afterToolCall(
    ticket: ToolCallTicket,
    outcome: { ok: boolean; error?: unknown },
  ): Promise<void> {
    const spend = toolSpends.get(ticket)
    if (spend) {
      toolSpends.delete(ticket)
      if (outcome.ok) await this.settleSpend(spend)
      else
        await this.releaseSpend(spend, { reason: `tool failed: ${describeError(outcome.error)}` })
    }
    const agent = this.#access.agent
    if (agent) {
      await this.#access.observe(agent, {
        kind: 'tool_result',
        runId: ticket.runId,
        tool: ticket.name,
        ok: outcome.ok,
      })
    }
  }

  async reserveSpend(request: SpendRequest): Promise<SpendTicket> {
    const amount = request?.amountUsd
    if (typeof amount !== 'number' || !Number.isFinite(amount) || amount < 0) {
      invalid(
        'amountUsd',
        `Invalid amountUsd: a finite number of dollars >= 0 (got ${String(amount)}).`,
      )
    }
    const engine = this.#engine
    const access = this.#access
    const agent = await access.admit(request.runId)
    // Round up: a spend is never held for less than it costs.
    const micros = Math.ceil(amount * 1_000_000 - 1e-6)
    const holdId = randomUUID()
    const result = await holdFunds(engine, {
      handle: agent.handle,
      holdId,
      amountMicros: micros,
      ttlMs: request.ttlMs ?? engine.holdTtlMs,
      kind: request.kind,
      summary: `held ${formatUsd(micros)} for ${request.description}`,
      data: { description: request.description, ...request.details, runId: request.runId ?? null },
    })
    if (result.agent) access.agent = result.agent
    if (!result.ok) {
      if (result.reason !== 'cap') access.denyRevoked(agent.handle, result.agent)
      const error = access.capError(result.agent ?? agent, toUsd(micros))
      access.deny(agent.handle, 'spending_cap', error, spendDetails(request, micros))
    }
    const ticket: SpendTicket = Object.freeze({
      id: holdId,
      handle: agent.handle,
      kind: request.kind,
      amountUsd: toUsd(micros),
      runId: request.runId,
    })
    spendTickets.set(ticket, {
      amountMicros: micros,
      description: request.description,
      details: request.details,
      done: undefined,
    })
    return ticket
  }

  settleSpend(
    ticket: SpendTicket,
    outcome: { amountUsd?: number; details?: Record<string, unknown> } = {},
  ): Promise<Settlement> {
    const state = spendTickets.get(ticket)
    if (!state) {
      return Promise.reject(
        new InvalidConfigError('ticket', 'Unknown ticket: pass the ticket reserveSpend returned.'),
      )
    }
    state.done ??= (async () => {
      const cost =
        outcome.amountUsd === undefined ? state.amountMicros : toMicros(outcome.amountUsd)
      const details: Record<string, unknown> = {
        description: state.description,
        ...state.details,
        ...outcome.details,
      }
      const summary = `settled ${formatUsd(cost)} for ${state.description}`
      const settlement = await this.#settle(
        ticket.handle,
        ticket.id,
        cost,
        ticket.kind,
        summary,
        details,
      )
      const agent = this.#access.agent
      // Every spend that is not a model call feeds spend velocity (paid tools included).
      if (agent) {
        const payee = String(details.payee ?? details.tool ?? ticket.kind)
        await this.#access.observe(agent, {
          kind: 'payment',
          runId: ticket.runId,
          costMicros: cost,
          payee,
        })
      }
      return settlement
    })()
    return state.done
  }

  async releaseSpend(
    ticket: SpendTicket,
    outcome: { reason?: string; details?: Record<string, unknown> } = {},
  ): Promise<void> {
    const state = spendTickets.get(ticket)
    if (!state || state.done) return
    const agent = this.#access.agent
    state.done = Promise.resolve({
      costUsd: 0,
      spentUsd: toUsd(agent?.spentMicros ?? 0),
      availableUsd: availableUsd(agent),
    })
    this.#access.agent = await releaseFunds(this.#engine, {
      handle: ticket.handle,
      holdId: ticket.id,
      kind: ticket.kind,
      reason: outcome.reason ?? 'released',
      data: { description: state.description, ...state.details, ...outcome.details },
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
    const state = spendTickets.get(ticket)
    if (!state) return
    const until = new Date(outcome.holdUntil).toISOString()
    const summary = `outcome unknown: ${formatUsd(state.amountMicros)} for ${state.description} stays held until ${until} (${outcome.reason})`
    this.#engine.audit(
      auditEntry(ticket.handle, 'outcome_unknown', this.#engine.now(), summary, {
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
    if (isOwnOrAbort(error)) return
    const agent = this.#access.agent ?? (await this.#access.resolve())
    await this.#access.observe(agent, { kind: 'error', source })
  }

  async #settleModel(
    ticket: ModelCallTicket,
    state: ModelTicketState,
    result: ModelCallResult,
  ): Promise<Settlement> {
    const usage = result.usage
    const reported = usage !== undefined && hasTokens(usage)
    // Missing usage settles the whole hold: a call is never recorded as free.
    const cost = reported ? costOfUsage(usage, state.rates) : state.boundMicros
    const tokens = reported
      ? {
          inputTokens: usage.inputTokens ?? 0,
          cacheReadTokens: usage.cacheReadTokens ?? 0,
          cacheWriteTokens: usage.cacheWriteTokens ?? 0,
          outputTokens: usage.outputTokens ?? 0,
          reasoningTokens: usage.reasoningTokens ?? 0,
        }
      : { usage: 'missing: settled the whole hold' }
    const summary = reported
      ? `settled ${formatUsd(cost)} for ${ticket.model} (${usage.inputTokens ?? 0} in, ${usage.outputTokens ?? 0} out)`
      : `settled ${formatUsd(cost)} for ${ticket.model} (no usage reported: whole hold)`
    const settlement = await this.#settle(ticket.handle, ticket.id, cost, 'model', summary, {
      model: ticket.model,
      priceId: state.rates.priceId,
      ...tokens,
      // The bound was wrong (a prompt smaller than its usage says): keep the evidence.
      ...(cost > state.boundMicros ? { aboveHold: toUsd(cost - state.boundMicros) } : {}),
    })
    const agent = this.#access.agent
    if (agent) {
      await this.#access.observe(agent, {
        kind: 'model_result',
        runId: ticket.runId,
        model: ticket.model,
        costMicros: cost,
        // Hashed only if a detector reads it (no-progress does; a disabled monitor does not).
        get outputHash() {
          return outputHash(result)
        },
      })
    }
    return settlement
  }

  async #settle(
    handle: string,
    holdId: string,
    costMicros: number,
    kind: string,
    summary: string,
    data: Record<string, unknown>,
  ): Promise<Settlement> {
    const { settlement, agent } = await settleFunds(this.#engine, {
      handle,
      holdId,
      costMicros,
      kind,
      summary,
      data,
    })
    this.#access.agent = agent
    return settlement
  }
}

/** What the audit log says about a refused spend: what, how much, to whom. */
function spendDetails(request: SpendRequest, micros: number): Record<string, unknown> {
  return {
    kind: request.kind,
    description: request.description,
    amount: toUsd(micros),
    ...request.details,
  }
}
