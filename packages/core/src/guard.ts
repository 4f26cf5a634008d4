// The agent guard: the one seam adapters call (guard-types.ts). Every authorising method
// resolves the credential, refuses a revoked agent, asks the runaway monitor, prices the
// action and holds its bound atomically in the store before anything is spent.
import { createHash, randomUUID } from 'node:crypto'
import type { AuditEntry } from './audit.js'
import { hashCredential, isWellFormedCredential } from './credentials.js'
import { type Engine, storeCall } from './engine.js'
import {
  AgentRevokedError,
  InvalidConfigError,
  KillSwitchError,
  RunawayDetectedError,
  SpendingCapExceededError,
  UnknownModelPriceError,
} from './errors.js'
import type { KillSwitchEvents } from './events.js'
import type {
  AgentGuard,
  ModelCallRequest,
  ModelCallResult,
  ModelCallTicket,
  OutputDelta,
  Settlement,
  SpendRequest,
  SpendTicket,
  TokenUsage,
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
import type { ModelRates } from './pricing/model-rates.js'
import type { Observation, RunawayVerdict } from './runaway/types.js'
import type { AgentRecord } from './store.js'

interface ModelTicketState {
  rates: ModelRates
  inputTokens: number
  boundMicros: number
  outputTokens: number
  settlement: Promise<Settlement> | undefined
  done: boolean
}

interface SpendTicketState {
  amountMicros: number
  description: string
  details: Record<string, unknown> | undefined
  done: Promise<Settlement> | undefined
}

// Tickets carry their private state here, so the public ticket stays a plain read-only view.
const modelTickets = new WeakMap<ModelCallTicket, ModelTicketState>()
const spendTickets = new WeakMap<SpendTicket, SpendTicketState>()
// A paid tool's spend ticket, behind its tool ticket.
const toolSpends = new WeakMap<ToolCallTicket, SpendTicket>()

// A reserve refused for the cap is retried with fresh numbers (a smaller clamp may fit).
const RESERVE_ATTEMPTS = 4
const STOPPED_RUNS_KEPT = 1_000

const usd = (micros: number) =>
  `$${toUsd(micros)
    .toFixed(6)
    .replace(/0{1,4}$/, '')}`

/** Makes a guard for a credential. The credential is hashed at once and never kept. */
export function createGuard(engine: Engine, credential: string): AgentGuard {
  return new Guard(engine, credential)
}

class Guard implements AgentGuard {
  readonly #engine: Engine
  readonly #credentialHash: string | undefined
  readonly #controller: AbortController
  #agent: AgentRecord | undefined
  #resolving: Promise<AgentRecord> | undefined
  readonly #stoppedRuns = new Set<string>()
  #stopped = false

  constructor(engine: Engine, credential: string) {
    this.#engine = engine
    if (isWellFormedCredential(credential)) {
      this.#credentialHash = hashCredential(credential)
      this.#controller = engine.controllerFor(this.#credentialHash)
    } else {
      // A malformed credential can never become valid: its guard is dead from the start.
      this.#controller = new AbortController()
      this.#controller.abort(new AgentRevokedError())
    }
  }

  get signal(): AbortSignal {
    return this.#controller.signal
  }

  async check(): Promise<string> {
    const agent = await this.#resolve()
    this.#throwIfRevoked(agent.handle)
    return agent.handle
  }

  async beforeModelCall(request: ModelCallRequest): Promise<ModelCallTicket> {
    if (typeof request?.model !== 'string' || request.model.length === 0) {
      throw new InvalidConfigError(
        'model',
        'Invalid model: the model id is required to price the call (e.g. "gpt-4o").',
      )
    }
    const userMax = request.maxOutputTokens
    if (userMax !== undefined && (!Number.isInteger(userMax) || userMax < 1)) {
      throw new InvalidConfigError(
        'maxOutputTokens',
        `Invalid maxOutputTokens: a whole number >= 1 is required (got ${String(userMax)}).`,
      )
    }
    const engine = this.#engine
    const agent = await this.#resolve()
    this.#throwIfRevoked(agent.handle)
    this.#throwIfStopped(agent.handle, request.runId)
    await this.#observe(agent, { kind: 'model_call', runId: request.runId, model: request.model })

    const rates = engine.prices.resolve(request.model, request.provider)
    if (!rates) {
      return this.#deny(
        agent.handle,
        'unknown_price',
        new UnknownModelPriceError(request.model, request.provider),
        request.model,
      )
    }
    const inputTokens = inputTokenBound(request.input)
    const wanted = userMax ?? engine.defaultMaxOutputTokens
    let fresh = false
    for (let attempt = 0; attempt < RESERVE_ATTEMPTS; attempt++) {
      const known = this.#agent ?? agent
      const available = known.capMicros - known.spentMicros - known.heldMicros
      const maxOutputTokens = Math.min(
        wanted,
        affordableOutputTokens(available, inputTokens, rates),
      )
      if (available <= 0 || maxOutputTokens < 1) {
        // The cached numbers may be stale (holds lapsed, cap raised elsewhere): look once.
        if (fresh) break
        fresh = true
        const latest = await storeCall(engine.store, () =>
          engine.store.getAgent(known.handle, engine.now()),
        )
        if (!latest) return this.#denyRevoked(known.handle, undefined)
        this.#agent = latest
        continue
      }
      const amount = costBound(inputTokens, maxOutputTokens, rates)
      const holdId = randomUUID()
      const now = engine.now()
      const result = await storeCall(engine.store, () =>
        engine.store.reserve({
          handle: known.handle,
          holdId,
          amountMicros: amount,
          expiresAt: now + engine.holdTtlMs,
          now,
          audit: this.#entry(
            known.handle,
            'hold',
            now,
            `held ${usd(amount)} for ${request.model} (up to ${maxOutputTokens} output tokens)`,
            {
              holdId,
              kind: 'model',
              model: request.model,
              priceId: rates.priceId,
              amount: toUsd(amount),
              inputTokenBound: inputTokens,
              maxOutputTokens,
              requestedMaxOutputTokens: userMax ?? null,
              runId: request.runId ?? null,
            },
          ),
        }),
      )
      if (result.agent) this.#agent = result.agent
      fresh = true
      if (result.ok) {
        const ticket: ModelCallTicket = Object.freeze({
          id: holdId,
          handle: known.handle,
          model: request.model,
          runId: request.runId,
          maxOutputTokens,
          reservedUsd: toUsd(amount),
        })
        modelTickets.set(ticket, {
          rates,
          inputTokens,
          boundMicros: amount,
          outputTokens: 0,
          settlement: undefined,
          done: false,
        })
        this.#emit('reserved', {
          handle: known.handle,
          holdId,
          amount: toUsd(amount),
          kind: 'model',
        })
        return ticket
      }
      if (result.reason !== 'cap') return this.#denyRevoked(known.handle, result.agent)
    }
    const known = this.#agent ?? agent
    return this.#deny(
      known.handle,
      'spending_cap',
      this.#capError(known, costBound(inputTokens, wanted, rates)),
      request.model,
    )
  }

  onOutputDelta(ticket: ModelCallTicket, delta: OutputDelta): void {
    const state = modelTickets.get(ticket)
    if (!state || state.done) return
    if (this.signal.aborted) throw this.#revokedError(ticket.handle)
    state.outputTokens += delta.tokens ?? estimateOutputTokens(delta.text ?? '')
    // The provider was told maxOutputTokens; streaming past it would spend past the hold.
    if (state.outputTokens > ticket.maxOutputTokens) {
      const agent = this.#agent
      const error = new SpendingCapExceededError({
        handle: ticket.handle,
        spendingCapUsd: toUsd(agent?.capMicros ?? 0),
        spentUsd: toUsd(agent?.spentMicros ?? 0),
        heldUsd: toUsd(agent?.heldMicros ?? 0),
        requestedUsd: ticket.reservedUsd,
        message: `Agent "${ticket.handle}" streamed past the ${ticket.maxOutputTokens} output tokens its $${ticket.reservedUsd} hold pays for: the stream was stopped before spending past the hold.`,
      })
      this.#recordDenial(ticket.handle, 'spending_cap', error, ticket.model)
      throw error
    }
  }

  afterModelCall(ticket: ModelCallTicket, result: ModelCallResult): Promise<Settlement> {
    const state = modelTickets.get(ticket)
    if (!state)
      return Promise.reject(
        new InvalidConfigError(
          'ticket',
          'Unknown ticket: pass the ticket beforeModelCall returned.',
        ),
      )
    state.settlement ??= this.#settleModel(ticket, state, result ?? {})
    state.done = true
    return state.settlement
  }

  async failModelCall(ticket: ModelCallTicket, error: unknown): Promise<void> {
    const state = modelTickets.get(ticket)
    if (!state || state.done) return
    state.done = true
    const engine = this.#engine
    const now = engine.now()
    if (state.outputTokens > 0) {
      // Output was produced, so the provider bills for it: settle an estimate, never zero.
      const estimate = costOfUsage(
        { inputTokens: Math.ceil(state.inputTokens / 4), outputTokens: state.outputTokens },
        state.rates,
      )
      const cost = Math.min(estimate, state.boundMicros)
      state.settlement = this.#settle(
        ticket.handle,
        ticket.id,
        cost,
        now,
        'model',
        {
          model: ticket.model,
          estimated: true,
          outputTokens: state.outputTokens,
          reason: describeError(error),
        },
        `settled ${usd(cost)} (estimated) for ${ticket.model}: the call ended early (${describeError(error)})`,
      )
      await state.settlement
    } else {
      await this.#release(ticket.handle, ticket.id, now, 'model', describeError(error), {
        model: ticket.model,
      })
    }
    if (isOwnOrAbort(error)) return
    const agent = this.#agent
    if (agent) await this.#observe(agent, { kind: 'error', runId: ticket.runId, source: 'model' })
  }

  async beforeToolCall(request: ToolCallRequest): Promise<ToolCallTicket> {
    if (typeof request?.name !== 'string' || request.name.length === 0) {
      throw new InvalidConfigError('name', 'Invalid tool call: the tool name is required.')
    }
    const price = request.priceUsd ?? 0
    if (!Number.isFinite(price) || price < 0) {
      throw new InvalidConfigError(
        'priceUsd',
        `Invalid priceUsd for tool "${request.name}": a finite number of dollars >= 0 (got ${String(request.priceUsd)}).`,
      )
    }
    const agent = await this.#resolve()
    this.#throwIfRevoked(agent.handle)
    this.#throwIfStopped(agent.handle, request.runId)
    await this.#observe(agent, {
      kind: 'tool_call',
      runId: request.runId,
      tool: request.name,
      args: request.args,
    })
    let holdId: string | undefined
    if (price > 0) {
      const ticket = await this.reserveSpend({
        amountUsd: price,
        kind: 'tool',
        description: `tool ${request.name}`,
        details: { tool: request.name },
        runId: request.runId,
      })
      holdId = ticket.id
      const toolTicket = Object.freeze({
        handle: agent.handle,
        name: request.name,
        runId: request.runId,
        holdId,
        priceUsd: price,
      })
      toolSpends.set(toolTicket, ticket)
      return toolTicket
    }
    return Object.freeze({
      handle: agent.handle,
      name: request.name,
      runId: request.runId,
      holdId,
      priceUsd: price,
    })
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
    const agent = this.#agent
    if (agent)
      await this.#observe(agent, {
        kind: 'tool_result',
        runId: ticket.runId,
        tool: ticket.name,
        ok: outcome.ok,
      })
  }

  async reserveSpend(request: SpendRequest): Promise<SpendTicket> {
    const amount = request?.amountUsd
    if (typeof amount !== 'number' || !Number.isFinite(amount) || amount < 0) {
      throw new InvalidConfigError(
        'amountUsd',
        `Invalid amountUsd: a finite number of dollars >= 0 (got ${String(amount)}).`,
      )
    }
    const engine = this.#engine
    const agent = await this.#resolve()
    this.#throwIfRevoked(agent.handle)
    this.#throwIfStopped(agent.handle, request.runId)
    const micros = Math.ceil(amount * 1_000_000 - 1e-6)
    const holdId = randomUUID()
    const now = engine.now()
    const result = await storeCall(engine.store, () =>
      engine.store.reserve({
        handle: agent.handle,
        holdId,
        amountMicros: micros,
        expiresAt: now + (request.ttlMs ?? engine.holdTtlMs),
        now,
        audit: this.#entry(
          agent.handle,
          'hold',
          now,
          `held ${usd(micros)} for ${request.description}`,
          {
            holdId,
            kind: request.kind,
            amount: toUsd(micros),
            description: request.description,
            ...request.details,
            runId: request.runId ?? null,
          },
        ),
      }),
    )
    if (result.agent) this.#agent = result.agent
    if (!result.ok) {
      if (result.reason !== 'cap') return this.#denyRevoked(agent.handle, result.agent)
      return this.#deny(agent.handle, 'spending_cap', this.#capError(result.agent ?? agent, micros))
    }
    this.#emit('reserved', {
      handle: agent.handle,
      holdId,
      amount: toUsd(micros),
      kind: request.kind,
    })
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
    if (!state)
      return Promise.reject(
        new InvalidConfigError('ticket', 'Unknown ticket: pass the ticket reserveSpend returned.'),
      )
    state.done ??= (async () => {
      const cost =
        outcome.amountUsd === undefined ? state.amountMicros : toMicros(outcome.amountUsd)
      const settlement = await this.#settle(
        ticket.handle,
        ticket.id,
        cost,
        this.#engine.now(),
        ticket.kind,
        {
          description: state.description,
          ...state.details,
          ...outcome.details,
        },
        `settled ${usd(cost)} for ${state.description}`,
      )
      const agent = this.#agent
      if (agent && ticket.kind === 'payment') {
        const payee = String(outcome.details?.payee ?? state.details?.payee ?? 'unknown')
        await this.#observe(agent, {
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
    state.done = Promise.resolve({
      costUsd: 0,
      spentUsd: toUsd(this.#agent?.spentMicros ?? 0),
      availableUsd: available(this.#agent),
    })
    await this.#release(
      ticket.handle,
      ticket.id,
      this.#engine.now(),
      ticket.kind,
      outcome.reason ?? 'released',
      {
        description: state.description,
        ...state.details,
        ...outcome.details,
      },
    )
  }

  async onError(error: unknown, source: 'model' | 'tool' | 'chain' = 'chain'): Promise<void> {
    if (isOwnOrAbort(error)) return
    const agent = this.#agent ?? (await this.#resolve())
    await this.#observe(agent, { kind: 'error', source })
  }

  // --- internals -------------------------------------------------------------------------

  async #resolve(): Promise<AgentRecord> {
    if (this.#agent) return this.#agent
    const hash = this.#credentialHash
    if (hash === undefined) return this.#deny(undefined, 'revoked', new AgentRevokedError())
    const engine = this.#engine
    this.#resolving ??= storeCall(engine.store, () =>
      engine.store.findAgentByCredentialHash(hash, engine.now()),
    ).then((agent) => {
      if (!agent) {
        this.#controller.abort(new AgentRevokedError())
        throw new AgentRevokedError()
      }
      engine.bindHandle(hash, agent.handle)
      if (agent.status === 'revoked') this.#abort(agent)
      this.#agent = agent
      return agent
    })
    try {
      return await this.#resolving
    } catch (error) {
      this.#resolving = undefined
      if (KillSwitchError.isInstance(error) && error.code === 'agent_revoked')
        return this.#deny(undefined, 'revoked', error)
      if (KillSwitchError.isInstance(error))
        return this.#deny(undefined, 'store_unavailable', error)
      throw error
    }
  }

  #abort(agent: AgentRecord): void {
    if (!this.#controller.signal.aborted) {
      this.#controller.abort(
        new AgentRevokedError({ handle: agent.handle, reason: agent.revokedReason }),
      )
    }
  }

  #revokedError(handle: string): AgentRevokedError {
    const reason = this.signal.reason
    return reason instanceof AgentRevokedError ? reason : new AgentRevokedError({ handle })
  }

  #throwIfRevoked(handle: string): void {
    if (this.signal.aborted) this.#deny(handle, 'revoked', this.#revokedError(handle))
  }

  #throwIfStopped(handle: string, runId: string | undefined): void {
    if (this.#stopped || (runId !== undefined && this.#stoppedRuns.has(runId))) {
      this.#deny(
        handle,
        'runaway',
        new RunawayDetectedError({
          handle,
          detector: 'stopped-run',
          action: 'stop',
          summary: 'this run was stopped by a runaway detector',
        }),
      )
    }
  }

  #denyRevoked(handle: string, agent: AgentRecord | undefined): never {
    if (agent) this.#abort(agent)
    else this.#controller.abort(new AgentRevokedError({ handle }))
    return this.#deny(handle, 'revoked', this.#revokedError(handle))
  }

  #capError(agent: AgentRecord, requestedMicros: number): SpendingCapExceededError {
    return new SpendingCapExceededError({
      handle: agent.handle,
      spendingCapUsd: toUsd(agent.capMicros),
      spentUsd: toUsd(agent.spentMicros),
      heldUsd: toUsd(agent.heldMicros),
      requestedUsd: toUsd(requestedMicros),
    })
  }

  #deny(
    handle: string | undefined,
    rule: KillSwitchEvents['denied']['rule'],
    error: KillSwitchError,
    model?: string,
  ): never {
    this.#recordDenial(handle, rule, error, model)
    throw error
  }

  #recordDenial(
    handle: string | undefined,
    rule: KillSwitchEvents['denied']['rule'],
    error: KillSwitchError,
    model?: string,
  ): void {
    const engine = this.#engine
    if (handle !== undefined && rule !== 'store_unavailable') {
      engine.audit(
        this.#entry(handle, 'denied', engine.now(), `denied (${rule}): ${error.message}`, {
          rule,
          code: error.code,
          ...(model ? { model } : {}),
        }),
      )
    }
    this.#emit('denied', {
      handle,
      code: error.code,
      rule,
      message: error.message,
      ...(model ? { model } : {}),
    })
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
    const settlement = await this.#settle(
      ticket.handle,
      ticket.id,
      cost,
      this.#engine.now(),
      'model',
      {
        model: ticket.model,
        priceId: state.rates.priceId,
        ...tokens,
        // The bound was wrong (a prompt smaller than its usage says): keep the evidence.
        ...(cost > state.boundMicros ? { aboveHold: toUsd(cost - state.boundMicros) } : {}),
      },
      `settled ${usd(cost)} for ${ticket.model}${reported ? ` (${usage.inputTokens ?? 0} in, ${usage.outputTokens ?? 0} out)` : ' (no usage reported: whole hold)'}`,
    )
    const agent = this.#agent
    if (agent) {
      await this.#observe(agent, {
        kind: 'model_result',
        runId: ticket.runId,
        model: ticket.model,
        costMicros: cost,
        outputHash: outputHash(result),
      })
    }
    return settlement
  }

  async #settle(
    handle: string,
    holdId: string,
    cost: number,
    now: number,
    kind: string,
    data: Record<string, unknown>,
    summary: string,
  ): Promise<Settlement> {
    const engine = this.#engine
    const result = await storeCall(engine.store, () =>
      engine.store.settle({
        handle,
        holdId,
        costMicros: cost,
        now,
        audit: this.#entry(handle, 'settled', now, summary, {
          holdId,
          kind,
          cost: toUsd(cost),
          ...data,
        }),
      }),
    )
    this.#agent = result.agent
    if (result.outcome !== 'duplicate') {
      this.#emit('settled', {
        handle,
        holdId,
        kind,
        cost: toUsd(cost),
        spent: toUsd(result.agent.spentMicros),
        spendingCap: toUsd(result.agent.capMicros),
        ...(typeof data.model === 'string' ? { model: data.model } : {}),
      })
      engine.afterSpend(result.agent)
    }
    return {
      costUsd: toUsd(cost),
      spentUsd: toUsd(result.agent.spentMicros),
      availableUsd: available(result.agent),
    }
  }

  async #release(
    handle: string,
    holdId: string,
    now: number,
    kind: string,
    reason: string,
    data: Record<string, unknown>,
  ): Promise<void> {
    const engine = this.#engine
    const result = await storeCall(engine.store, () =>
      engine.store.release({
        handle,
        holdId,
        now,
        audit: this.#entry(handle, 'released', now, `released hold (${reason})`, {
          holdId,
          kind,
          reason,
          ...data,
        }),
      }),
    )
    this.#agent = result.agent
    if (result.outcome === 'released') this.#emit('released', { handle, holdId, kind, reason })
  }

  async #observe(agent: AgentRecord, observation: Observation): Promise<void> {
    const engine = this.#engine
    const verdict = await storeCall(engine.store, () =>
      engine.monitor.observe(agent, observation, engine.now()),
    )
    if (verdict.action !== 'none') await this.#apply(agent, verdict, observation)
  }

  async #apply(
    agent: AgentRecord,
    verdict: RunawayVerdict,
    observation: Observation,
  ): Promise<void> {
    const engine = this.#engine
    const finding = verdict.finding ?? { detector: 'unknown', status: 'trip' as const }
    const action = verdict.action
    const summary = finding.summary ?? `${finding.detector} tripped`
    const prefix = verdict.enforced ? action : `would have ${action} (shadow mode)`
    engine.audit(
      this.#entry(
        agent.handle,
        'runaway',
        engine.now(),
        `${finding.detector}: ${summary}: ${prefix}`,
        {
          detector: finding.detector,
          status: finding.status,
          action,
          enforced: verdict.enforced,
          evidence: finding.evidence ?? {},
          observation: observation.kind,
        },
      ),
    )
    this.#emit('runaway', {
      handle: agent.handle,
      detector: finding.detector,
      action,
      enforced: verdict.enforced,
      summary,
    })
    if (!verdict.enforced || action === 'warn' || action === 'none') return
    engine.notifyRunaway(agent, finding, action)
    if (action === 'stop') {
      if (observation.runId === undefined) this.#stopped = true
      else {
        this.#stoppedRuns.add(observation.runId)
        if (this.#stoppedRuns.size > STOPPED_RUNS_KEPT)
          this.#stoppedRuns.delete(this.#stoppedRuns.values().next().value as string)
      }
    }
    if (action === 'revoke') {
      const revoked = await engine.revoke(
        agent.handle,
        `runaway: ${finding.detector}: ${summary}`,
        'runaway',
      )
      this.#abort(revoked)
    }
    this.#deny(
      agent.handle,
      'runaway',
      new RunawayDetectedError({
        handle: agent.handle,
        detector: finding.detector,
        action,
        summary,
      }),
    )
  }

  #entry(
    handle: string,
    type: AuditEntry['type'],
    at: number,
    summary: string,
    data: Record<string, unknown>,
  ): AuditEntry {
    return { at, handle, type, summary, data }
  }

  #emit<Name extends keyof KillSwitchEvents>(name: Name, event: KillSwitchEvents[Name]): void {
    if (this.#engine.events.has(name)) this.#engine.events.emit(name, event)
  }
}

function available(agent: AgentRecord | undefined): number {
  return agent ? toUsd(Math.max(0, agent.capMicros - agent.spentMicros - agent.heldMicros)) : 0
}

function hasTokens(usage: TokenUsage): boolean {
  return [
    usage.inputTokens,
    usage.outputTokens,
    usage.cacheReadTokens,
    usage.cacheWriteTokens,
  ].some((count) => typeof count === 'number' && Number.isFinite(count) && count > 0)
}

function outputHash(result: ModelCallResult): string | undefined {
  if (result.text === undefined && result.toolCalls === undefined) return undefined
  const hash = createHash('sha1').update(result.text ?? '')
  for (const call of result.toolCalls ?? [])
    hash.update(`\u0000${call.name}\u0000${JSON.stringify(call.args) ?? ''}`)
  return hash.digest('base64url')
}

function isOwnOrAbort(error: unknown): boolean {
  if (KillSwitchError.isInstance(error)) return true
  return error instanceof Error && (error.name === 'AbortError' || error.name === 'TimeoutError')
}

function describeError(error: unknown): string {
  if (KillSwitchError.isInstance(error)) return error.code
  if (error instanceof Error)
    return error.name === 'Error' ? error.message.slice(0, 120) : error.name
  return 'unknown error'
}
