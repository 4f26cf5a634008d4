// One error family for the whole project. Every error has a stable `code` (for programs),
// an HTTP `status` (for the admin API and server middleware) and a message that says what
// happened and what to do. `isInstance` works across duplicate installs of this package,
// where `instanceof` does not.

import { redactCredentials } from './redact.js'

const MARKER = Symbol.for('killswitch.error')

/** Stable machine-readable error codes. */
export type KillSwitchErrorCode =
  | 'agent_revoked'
  | 'spending_cap_exceeded'
  | 'runaway_detected'
  | 'unknown_model_price'
  | 'invalid_config'
  | 'agent_not_found'
  | 'approval_not_found'
  | 'budget_not_found'
  | 'agent_exists'
  | 'concurrent_update'
  | 'store_unavailable'
  | 'revocation_unreplicated'
  | 'payment_refused'
  | 'spend_refused'
  | 'approval_required'
  | 'approval_denied'

/**
 * Base class of every error the kill switch throws.
 *
 * @example
 * try { await guard.beforeModelCall(request) } catch (error) {
 *   if (KillSwitchError.isInstance(error)) console.log(error.code, error.status)
 * }
 */
export class KillSwitchError extends Error {
  readonly [MARKER] = true
  readonly code: KillSwitchErrorCode
  /** The HTTP status this error maps to at an HTTP edge. */
  readonly status: number

  constructor(code: KillSwitchErrorCode, status: number, message: string, options?: ErrorOptions) {
    // A message may quote what was typed: a credential pasted there is never echoed.
    super(redactCredentials(message), options)
    this.name = 'KillSwitchError'
    this.code = code
    this.status = status
  }

  /** True for any kill switch error, also one thrown by another copy of this package. */
  static isInstance(value: unknown): value is KillSwitchError {
    return typeof value === 'object' && value !== null && MARKER in value
  }
}

/**
 * The credential is revoked, unknown or malformed: every guarded action is refused.
 *
 * @example
 * if (error instanceof AgentRevokedError) console.log(error.handle, error.reason)
 */
export class AgentRevokedError extends KillSwitchError {
  /** The agent's handle, when the credential was recognised. */
  readonly handle: string | undefined
  /** Why it was revoked, when known. */
  readonly reason: string | undefined

  constructor(details: { handle?: string; reason?: string; message?: string } = {}) {
    super(
      'agent_revoked',
      401,
      details.message ??
        (details.handle
          ? `Agent "${details.handle}" is revoked${details.reason ? ` (${details.reason})` : ''}: its credential is refused everywhere. Provision a new agent to resume.`
          : 'The credential is unknown, malformed or revoked: check that the agent credential (ks_...) was passed unchanged.'),
    )
    this.name = 'AgentRevokedError'
    this.handle = details.handle
    this.reason = details.reason
  }
}

/**
 * A spend broke one of its agent's spend rules (`agents.create({ spendRules })`) or the
 * rules its adapter passed for the call: a payee not allowed, more than one spend may cost.
 * Refused before anything was held or spent.
 *
 * @example
 * if (error instanceof SpendRefusedError && error.rule === 'payee_not_allowed') alert(error.payee)
 */
export class SpendRefusedError extends KillSwitchError {
  /** Which rule refused it. */
  readonly rule: 'payee_not_allowed' | 'max_spend_exceeded'
  /** Whose rule: the agent's policy, or the rules given for this call by its adapter. */
  readonly source: 'agent' | 'call'
  /** Who would have been paid, when the spend named a payee. */
  readonly payee: string | undefined
  /** What the spend asked for, in dollars. */
  readonly amountUsd: number

  constructor(details: {
    rule: 'payee_not_allowed' | 'max_spend_exceeded'
    source: 'agent' | 'call'
    payee?: string
    amountUsd: number
    message: string
  }) {
    super('spend_refused', 403, details.message)
    this.name = 'SpendRefusedError'
    this.rule = details.rule
    this.source = details.source
    this.payee = details.payee
    this.amountUsd = details.amountUsd
  }
}

/**
 * The call would take the agent past its spending cap, so it was refused before any money
 * was spent.
 *
 * @example
 * if (error instanceof SpendingCapExceededError) console.log(error.availableUsd)
 */
export class SpendingCapExceededError extends KillSwitchError {
  readonly handle: string
  readonly spendingCapUsd: number
  readonly spentUsd: number
  readonly heldUsd: number
  readonly availableUsd: number
  /** The least the refused call needed, in dollars (its hold mid-stream; 0 for a preflight check). */
  readonly requestedUsd: number
  /** Which level refused: the agent's own cap or windows, or a shared budget. */
  readonly level: 'agent' | 'budget'
  /** The budget that refused, when `level` is `budget`. */
  readonly budgetId?: string
  /** The window that refused (`hour`, `day`...); absent for the agent's lifetime cap. */
  readonly per?: string
  /** When that window resets (ISO time); absent for lifetime limits. */
  readonly resetsAt?: string

  constructor(details: {
    handle: string
    spendingCapUsd: number
    spentUsd: number
    heldUsd: number
    requestedUsd: number
    message?: string
    level?: 'agent' | 'budget'
    budgetId?: string
    per?: string
    resetsAt?: string
  }) {
    // In micro-dollars: dollar floats are never subtracted (0.1 - 0.05 is not 0.05).
    const micros = (usd: number) => Math.round(usd * 1_000_000)
    const availableUsd =
      Math.max(
        0,
        micros(details.spendingCapUsd) - micros(details.spentUsd) - micros(details.heldUsd),
      ) / 1_000_000
    super(
      'spending_cap_exceeded',
      402,
      details.message ??
        `Agent "${details.handle}" would exceed its spending cap of $${details.spendingCapUsd}: ` +
          `$${details.spentUsd} spent, $${details.heldUsd} held by calls in flight, $${availableUsd} available, ` +
          `this call needs at least $${details.requestedUsd}. Raise the cap (agents.update) to continue.`,
    )
    this.name = 'SpendingCapExceededError'
    this.handle = details.handle
    this.spendingCapUsd = details.spendingCapUsd
    this.spentUsd = details.spentUsd
    this.heldUsd = details.heldUsd
    this.availableUsd = availableUsd
    this.requestedUsd = details.requestedUsd
    this.level = details.level ?? 'agent'
    if (details.budgetId !== undefined) this.budgetId = details.budgetId
    if (details.per !== undefined) this.per = details.per
    if (details.resetsAt !== undefined) this.resetsAt = details.resetsAt
  }
}

/**
 * A runaway detector tripped (a loop, an error streak, spend velocity...) and its action
 * refused this call.
 *
 * @example
 * if (error instanceof RunawayDetectedError) page(`${error.handle}: ${error.detector} (${error.action})`)
 */
export class RunawayDetectedError extends KillSwitchError {
  readonly handle: string
  /** The detector that tripped, e.g. `repeated-tool-call`. */
  readonly detector: string
  /** What the policy did: refuse this call, end the run, or revoke the credential. */
  readonly action: 'block' | 'stop' | 'revoke'
  /**
   * For a throttle (`block`): milliseconds until calls are admitted again, to wait before a
   * retry (a retry sooner is refused and doubles the wait while the loop persists).
   */
  readonly retryAfterMs: number | undefined

  constructor(details: {
    handle: string
    detector: string
    action: 'block' | 'stop' | 'revoke'
    summary: string
    retryAfterMs?: number
  }) {
    super(
      'runaway_detected',
      429,
      `Agent "${details.handle}" looks like a runaway (${details.detector}: ${details.summary}); ` +
        `action: ${details.action}. See its audit log for the evidence.`,
    )
    this.name = 'RunawayDetectedError'
    this.handle = details.handle
    this.detector = details.detector
    this.action = details.action
    this.retryAfterMs = details.retryAfterMs
  }
}

/**
 * No price is known for the model, so its cost cannot be bounded: the call is refused
 * rather than priced at zero.
 *
 * @example
 * const ks = createKillSwitch({ prices: { 'my-model': { inputPerMTok: 1, outputPerMTok: 4 } } }) // the fix it names
 */
export class UnknownModelPriceError extends KillSwitchError {
  readonly model: string

  /**
   * `what`: the part of the call without a price (a model's media output, an option billed
   * apart); `fix`: what to do instead, when giving the model's price is not the fix.
   */
  constructor(model: string, provider?: string, what?: string, fix?: string) {
    super(
      'unknown_model_price',
      422,
      `No price is known for ${what ? `the ${what} of ` : ''}model "${model}"${provider ? ` (provider "${provider}")` : ''}, so the kill switch cannot bound its cost and refuses the call. ` +
        `Fix: ${fix ?? `give its price, e.g. createKillSwitch({ prices: { '${model}': { inputPerMTok: 2.5, outputPerMTok: 10 } } })`}.`,
    )
    this.name = 'UnknownModelPriceError'
    this.model = model
  }
}

/**
 * A public input was invalid. The message names the field, what was given and what is allowed.
 *
 * @example
 * await ks.agents.create({ handle: 'a', spendingCap: -1 }).catch((error) => {
 *   if (error instanceof InvalidConfigError) console.log(error.field) // 'spendingCap'
 * })
 */
export class InvalidConfigError extends KillSwitchError {
  /** The path of the offending field, e.g. `spendingCap`. */
  readonly field: string

  constructor(field: string, message: string) {
    super('invalid_config', 400, message)
    this.name = 'InvalidConfigError'
    this.field = field
  }
}

/**
 * No agent has that handle.
 *
 * @example
 * await ks.agents.get('nobody').catch((error) => error instanceof AgentNotFoundError) // true
 */
export class AgentNotFoundError extends KillSwitchError {
  readonly handle: string

  constructor(handle: string) {
    const shown = redactCredentials(handle)
    super(
      'agent_not_found',
      404,
      `No agent has the handle "${shown}". List agents with agents.list().`,
    )
    this.name = 'AgentNotFoundError'
    this.handle = shown
  }
}

/**
 * No approval request has that id (never made, or made on another store).
 *
 * @example
 * await ks.approvals.approve('apr_unknown').catch((error) => error.status) // 404
 */
export class ApprovalNotFoundError extends KillSwitchError {
  readonly id: string

  constructor(id: string) {
    const shown = redactCredentials(id)
    super(
      'approval_not_found',
      404,
      `No approval request has the id "${shown}" (approvals.list shows them).`,
    )
    this.name = 'ApprovalNotFoundError'
    this.id = shown
  }
}

/**
 * No shared budget has that id.
 *
 * @example
 * await ks.budgets.get('nope').catch((error) => error.status) // 404
 */
export class BudgetNotFoundError extends KillSwitchError {
  readonly id: string

  constructor(id: string) {
    const shown = redactCredentials(id)
    super(
      'budget_not_found',
      404,
      `No budget has the id "${shown}". List budgets with budgets.list().`,
    )
    this.name = 'BudgetNotFoundError'
    this.id = shown
  }
}

/**
 * An agent with that handle exists already; handles are unique and never overwritten.
 *
 * @example
 * await ks.agents.create({ handle: 'a', spendingCap: 5 }).catch((error) => {
 *   if (error instanceof AgentExistsError) console.log(`${error.handle} exists`)
 * })
 */
export class AgentExistsError extends KillSwitchError {
  readonly handle: string

  constructor(
    handle: string,
    message = `An agent with the handle "${handle}" exists already. Pick another handle.`,
  ) {
    super('agent_exists', 409, message)
    this.name = 'AgentExistsError'
    this.handle = handle
  }
}

/**
 * An agent's policy changed between reading it and writing a change to it: another update
 * landed first, and this one, computed from the old policy, was not written (it would have
 * undone the other). The agents API reads again and retries; this reaches a caller only
 * after many updates of one agent at the same moment.
 *
 * @example
 * if (error instanceof ConcurrentUpdateError) await ks.agents.update(error.handle, change)
 */
export class ConcurrentUpdateError extends KillSwitchError {
  readonly handle: string

  constructor(handle: string) {
    super(
      'concurrent_update',
      409,
      `Agent "${handle}" was changed by another update while this one was made: nothing was written. Try again.`,
    )
    this.name = 'ConcurrentUpdateError'
    this.handle = handle
  }
}

/**
 * The store could not be reached or failed. Guarded actions are refused (fail closed).
 *
 * @example
 * if (error instanceof StoreUnavailableError) return res.status(503).end() // fail closed
 */
export class StoreUnavailableError extends KillSwitchError {
  constructor(message = 'The kill switch store is unavailable', options?: ErrorOptions) {
    super(
      'store_unavailable',
      503,
      `${message}: guarded actions are refused until it is back (fail closed).`,
      options,
    )
    this.name = 'StoreUnavailableError'
  }
}

/**
 * A revocation written on the store's primary, where every process reads it (the credential
 * is refused everywhere now), that no replica confirmed yet: a failover before one does
 * could undo it. The kill switch retries it while this process runs. A StoreUnavailableError
 * (the write is not yet as durable as asked), with its own `code`: not "the store is out".
 *
 * @example
 * if (error instanceof RevocationUnreplicatedError) warn(`${error.handle}: no replica yet`)
 */
export class RevocationUnreplicatedError extends StoreUnavailableError {
  override readonly code = 'revocation_unreplicated'
  /** The revoked agent. */
  readonly handle: string
  /** True when the agent was revoked before this revoke (by anyone, anywhere). */
  readonly alreadyRevoked: boolean
  /**
   * What has not confirmed it yet: a `replica` of the store (Redis), or its `ledger` (sqlite:
   * in force through its revocations file, the ledger's lock held). Its message says which.
   */
  readonly pending: 'replica' | 'ledger'

  constructor(
    details: {
      handle: string
      alreadyRevoked: boolean
      message?: string
      pending?: 'replica' | 'ledger'
    },
    options?: ErrorOptions,
  ) {
    super(undefined, options)
    this.name = 'RevocationUnreplicatedError'
    this.handle = redactCredentials(details.handle)
    this.alreadyRevoked = details.alreadyRevoked
    this.pending = details.pending ?? 'replica'
    // Not StoreUnavailableError's "refused until it is back": this revocation is in force.
    this.message = redactCredentials(
      details.message ??
        `The revocation of agent "${this.handle}" is in force now: this and every other process refuse its credential. No replica has confirmed it yet, so a failover now could undo it; it is retried while this process runs (ks.close() waits for it, then fails if still unconfirmed)`,
    )
  }
}

/**
 * Finds the kill switch error inside an error that a framework wrapped (`cause` chains,
 * `AggregateError.errors`), or returns undefined.
 *
 * @example
 * const found = findKillSwitchError(error) // LangChain's MiddlewareError wraps ours in `cause`
 * if (found?.code === 'agent_revoked') page(oncall)
 */
export function findKillSwitchError(error: unknown): KillSwitchError | undefined {
  const seen = new Set<unknown>()
  const queue: unknown[] = [error]
  while (queue.length > 0) {
    const current = queue.shift()
    if (current === null || typeof current !== 'object' || seen.has(current)) continue
    seen.add(current)
    if (KillSwitchError.isInstance(current)) return current
    const record = current as { cause?: unknown; errors?: unknown; error?: unknown }
    if ('cause' in record) queue.push(record.cause)
    if ('error' in record) queue.push(record.error)
    if (Array.isArray(record.errors)) queue.push(...record.errors)
  }
  return undefined
}

/**
 * The call would cross the cap of an agent whose approvals are on, and no person has
 * approved it (yet): it did not wait (`waitMs: 0`) or waited in vain. Approve the request
 * (`ks.approvals.approve(approvalId, ...)`) and retry.
 *
 * @example
 * if (error instanceof ApprovalRequiredError) await notifyOnCall(error.approvalId)
 */
export class ApprovalRequiredError extends KillSwitchError {
  readonly handle: string
  readonly approvalId: string

  constructor(details: { handle: string; approvalId: string; message?: string }) {
    super(
      'approval_required',
      402,
      details.message ??
        `Agent "${details.handle}" reached its cap and needs a person's approval to spend more: approve request ${details.approvalId} (ks.approvals.approve, or killswitch approvals approve ${details.approvalId}) and retry.`,
    )
    this.name = 'ApprovalRequiredError'
    this.handle = details.handle
    this.approvalId = details.approvalId
  }
}

/**
 * A person denied the agent's request to spend past its cap.
 *
 * @example
 * if (error instanceof ApprovalDeniedError) console.log(error.reason)
 */
export class ApprovalDeniedError extends KillSwitchError {
  readonly handle: string
  readonly approvalId: string
  readonly reason: string | undefined

  constructor(details: { handle: string; approvalId: string; reason?: string }) {
    super(
      'approval_denied',
      403,
      `Agent "${details.handle}" was denied spending past its cap (request ${details.approvalId})${details.reason ? `: ${details.reason}` : ''}.`,
    )
    this.name = 'ApprovalDeniedError'
    this.handle = details.handle
    this.approvalId = details.approvalId
    this.reason = details.reason
  }
}
