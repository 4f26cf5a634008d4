// What a guard needs from its kill switch: the store, prices, runaway monitor, events, clock
// and the few actions that span agents (revoke, threshold alerts). Internal: not exported
// from the package.

import type { AuditEntry } from './audit.js'
import { type Awaitable, isPromiseLike } from './awaitable.js'
import { KillSwitchError, StoreUnavailableError } from './errors.js'
import type { ApprovalEvent, EventHub } from './events.js'
import type { StoreOutbox } from './ledger/store-outbox.js'
import type { PriceSource } from './pricing/price-source.js'
import type { DetectorFinding, Observation, RunawayMonitor } from './runaway/types.js'
import type { ActivityEvent, AgentRecord, Store } from './store.js'
import type { ToolCallScopes } from './tool-call-scopes.js'
import type { ToolPrices } from './tool-prices.js'

/** Results (a model's answer, a tool's outcome, a payment) waiting for a call to write them. */
export interface PendingResults {
  items: Array<{ observation: Observation; event: ActivityEvent }>
  /** Writes them within a second when no call comes. */
  flushTimer: NodeJS.Timeout | undefined
  /** Counts the calls that took them: a flush timer armed before waits again. */
  taken: number
}

export interface Engine {
  readonly store: Store
  readonly prices: PriceSource
  readonly monitor: RunawayMonitor
  readonly events: EventHub
  readonly holdTtlMs: number
  /** Settles, releases and revocations that could not reach the store, retried until acknowledged. */
  readonly outbox: StoreOutbox
  readonly defaultMaxOutputTokens: number
  /** Dollars per call of the paid tools, by name (`createKillSwitch({ toolPrices })`). */
  readonly toolPrices: ToolPrices
  now(): number
  /** The AbortController shared by every guard of one credential in this process. */
  controllerFor(credentialHash: string): AbortController
  /**
   * The results not yet written to the runaway window, shared by every guard of one
   * credential in this process: any of them carries them with its next call's reserve (a
   * paid tool's payment metered by `guardTools`' guard rides on the model's next call).
   */
  pendingFor(credentialHash: string): PendingResults
  /**
   * The scope of each tool call a model asked for, shared by every guard of one credential in
   * this process: the middleware's guard checks the call, `guardTools`' guard runs it.
   */
  toolCallScopesFor(credentialHash: string): ToolCallScopes
  /** Records which agent a credential belongs to, so a revocation event can abort it. */
  bindHandle(credentialHash: string, handle: string): void
  /**
   * A revocation learnt another way than its event (a lease renewal): aborts this process's
   * guards of the agent, as the event would have.
   */
  noticeRevoked(handle: string, reason: string): void
  /**
   * Revokes an agent everywhere (store, events, alerts). `by` says who in the audit log (a
   * checked short name, or `runaway` with the `detector` that tripped); `alreadyRevoked`,
   * from the store's write, that it was revoked before (nothing changed).
   */
  revoke(
    handle: string,
    reason: string,
    by: string,
    detector?: string,
  ): Promise<{ agent: AgentRecord; alreadyRevoked: boolean }>
  /**
   * Called after spend is charged (a settlement, a lapse swept by a reserve, a cap lowered):
   * fires threshold alerts (off the caller's path).
   */
  afterSpend(agent: AgentRecord): void
  /** Sends a runaway trip to the agent's alert webhooks. */
  notifyRunaway(agent: AgentRecord, finding: DetectorFinding, action: string): void
  /** Sends an approval request to the agent's alert webhooks (signed). */
  notifyApproval?(agent: AgentRecord, event: ApprovalEvent): void
  /** Appends an audit entry (buffered by durable stores). */
  audit(entry: AuditEntry): void
}

/**
 * Runs a store operation, turning any failure that is not already a kill switch error into
 * StoreUnavailableError: a store that cannot answer denies (fail closed).
 */
export function storeCall<T>(store: Store, operation: () => Promise<T>): Promise<T>
/** A ledger write (store.ts): a value when the store answered at once. */
export function storeCall<T>(store: Store, operation: () => Awaitable<T>): Awaitable<T>
export function storeCall<T>(store: Store, operation: () => Awaitable<T>): Awaitable<T> {
  let answer: Awaitable<T>
  try {
    answer = operation()
  } catch (error) {
    return Promise.reject(storeError(store, error))
  }
  if (!isPromiseLike(answer)) return answer
  return Promise.resolve(answer).catch((error: unknown) => {
    throw storeError(store, error)
  })
}

/** A store's failure as the caller sees it: a typed error as is, anything else unavailable. */
function storeError(store: Store, error: unknown): unknown {
  if (KillSwitchError.isInstance(error)) return error
  return new StoreUnavailableError(`The ${store.kind} store failed`, { cause: error })
}
