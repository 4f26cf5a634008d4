// The one storage interface. Every store (memory, sqlite, redis) implements it and passes
// the conformance suite in `conformance.ts`. Anything that must be atomic (reserve, settle,
// release, revoke, alert marks, activity windows) is ONE operation here, so each store can
// make it atomic in its own engine (a Map in one tick, a write transaction, a Lua script).
//
// All amounts are integer micro-dollars; all times are milliseconds since the epoch.

import type { AuditEntry } from './audit.js'
import type { Awaitable } from './awaitable.js'
import type { WindowPer } from './ledger/windows.js'
import type { AgentPolicy } from './policy.js'

/** A spending limit over a window (`lifetime` never resets). */
export interface LimitRecord {
  amountMicros: number
  per: WindowPer
}

/** A shared budget (a team, an org, an end customer, a run) that agents draw on. */
export interface BudgetRecord {
  id: string
  limits: LimitRecord[]
  /** IANA zone for calendar windows; UTC when absent. */
  timeZone?: string
  /** A run's budget draws on its parent run's too (a sub-agent inside a run). */
  parentId?: string
  createdAt: number
  updatedAt: number
}

/** What one level's window holds: spent and held in micro-dollars. */
export interface UsageRecord {
  spentMicros: number
  heldMicros: number
}

/** Which level refused a reserve, and why: the tightest limit that could not fit. */
export interface LevelRefusal {
  level: 'agent' | 'budget'
  budgetId?: string
  /** The window that refused; absent for the agent's lifetime cap. */
  per?: WindowPer
  /** When that window resets (ms since the epoch); absent for lifetime limits. */
  resetsAt?: number
  limitMicros: number
  spentMicros: number
  heldMicros: number
}

/** What a store keeps for one agent. */
export interface AgentRecord {
  handle: string
  /** SHA-256 of the credential (hex). The credential itself is never stored. */
  credentialHash: string
  status: 'active' | 'revoked'
  capMicros: number
  spentMicros: number
  /** Sum of the live holds (neither settled, released nor lapsed). */
  heldMicros: number
  /**
   * The part of `spentMicros` charged for holds that lapsed with no settlement: money that
   * may have left, not yet confirmed. A late settlement replaces it with the real cost.
   */
  unreconciledMicros: number
  currency: 'usd'
  createdAt: number
  updatedAt: number
  revokedAt?: number
  revokedReason?: string
  policy: AgentPolicy
  /** Windows beside the lifetime cap (`5/hour`, `20/day`). */
  limits: LimitRecord[]
  /** Shared budgets this agent draws on, by id. */
  budgets: string[]
  /** Live grants from approvals: each raises what it may spend past its cap until expiry. */
  grants: GrantRecord[]
}

/** A new agent as `createAgent` receives it. */
export type NewAgentRecord = Omit<
  AgentRecord,
  'spentMicros' | 'heldMicros' | 'unreconciledMicros' | 'status' | 'limits' | 'budgets' | 'grants'
> &
  Partial<Pick<AgentRecord, 'limits' | 'budgets'>>

/** Reserve `amountMicros` for hold `holdId`, if the agent is active and the cap allows. */
export interface ReserveRequest {
  handle: string
  holdId: string
  amountMicros: number
  /** The hold's lease: it lapses (and is charged) at the store's `now + ttlMs` unless renewed. */
  ttlMs: number
  now: number
  /** Appended in the same atomic operation when the hold is granted. */
  audit?: AuditEntry
  /**
   * What the hold is for (a model id, a tool, a payment), kept with it: a hold that lapses
   * (its owner crashed) says so in the audit log, not only its amount.
   */
  label?: string
  /** More budgets to draw on for this call alone (an end customer's), by id. */
  budgets?: string[]
  /**
   * Runaway activity to record in the same round trip, only if the hold is granted (a
   * refused call is not activity): the result's `activity` is the window after it.
   */
  activity?: ActivityBatch
  /**
   * The run this call belongs to, with its own budget: created on first use with `capMicros`
   * (a lifetime limit), drawing on its parent run's budget too when `parentId` is given.
   */
  run?: { id: string; capMicros?: number; parentId?: string }
}

export type ReserveResult =
  | {
      ok: true
      agent: AgentRecord
      /** When the lease ends, by the store's clock. */
      expiresAt: number
      /** The window keys (levels) the hold was taken against, besides the agent's cap. */
      levels: readonly string[]
      /**
       * With `activity` in the request: the agent's activity window after it, newest last:
       * `activity[activityStart ?? 0 .. activityEnd ?? activity.length)`. A store may answer
       * with its own array instead of a copy (the memory store does: a copy of the window
       * per call was a fifth of what detection cost it): it appends to that array later but
       * never changes what lies before `activityEnd`, so the bounds keep the window as it
       * stood at this reserve.
       */
      activity?: readonly ActivityEvent[]
      activityStart?: number
      activityEnd?: number
    }
  | {
      ok: false
      /** `revoked`: the agent is revoked; `cap`: not enough available; `not_found`: no such agent. */
      reason: 'revoked' | 'cap' | 'not_found'
      agent?: AgentRecord
      /** For `cap`: the level that refused. */
      refusal?: LevelRefusal
      /** For `cap`: the most any reserve could hold now, across every level. */
      availableMicros?: number
    }

/** Extend a live hold's lease to the store's `now + ttlMs`. */
export interface RenewRequest {
  handle: string
  holdId: string
  ttlMs: number
  now: number
}

export interface RenewResult {
  /** False when the hold is no longer live (settled, released, lapsed or unknown). */
  renewed: boolean
  expiresAt?: number
  /**
   * The agent is revoked: a lease's renewal tells its holder, so that a call in flight is
   * stopped even if the revocation's event never reached its process.
   */
  revoked?: { reason: string; at: number }
}

/** Settle hold `holdId` at its real cost. Idempotent per hold id. */
export interface SettleRequest {
  handle: string
  holdId: string
  costMicros: number
  now: number
  audit?: AuditEntry
  /**
   * Settle only a lapsed hold (a reconciliation after its owner vanished): a live hold is
   * its owner's to settle, and a hold the store does not know is not corrected by guesswork.
   * Anything else answers `not_lapsed` and changes nothing.
   */
  onlyIfLapsed?: boolean
  /**
   * With `onlyIfLapsed`: settle only at most what the lapse charged (its whole hold, the most
   * its call could cost as held); more answers `above_charge` and changes nothing (an
   * operator's $5 for a $0.01 hold is a typo until they say otherwise).
   */
  atMostCharged?: boolean
  /**
   * The cost is a bound, not the truth (a payment whose outcome is unknown: what the payee
   * could collect): a live hold is charged it as unreconciled spend, correctable as a lapse's
   * charge is (a later settle, a reconciliation, a release), instead of settled for good.
   * Answers `unreconciled`. A hold that is not live settles as without it.
   */
  unreconciled?: boolean
}

export interface SettleResult {
  /**
   * `settled`: the hold became spend. `corrected`: the hold had lapsed and been charged in
   * full; the real cost replaced that charge. `late`: no live or lapsed hold (never held,
   * released, or pruned): the cost was still recorded (the money was spent). `duplicate`:
   * settled before (or, with `unreconciled`, charged unreconciled or lapsed before); nothing
   * changed. `not_lapsed`: `onlyIfLapsed` was asked and the hold is
   * live, released or unknown; nothing changed. `above_charge`: `atMostCharged` was asked and
   * the cost is more than the lapse charged (`chargedMicros`); nothing changed.
   * `unreconciled`: with `unreconciled`, the live hold was charged the cost as unreconciled.
   * `raised`: the hold was settled before at less (a reconcile while its owner was frozen):
   * the higher cost replaced it. A lower or equal cost answers `duplicate`.
   */
  outcome:
    | 'settled'
    | 'raised'
    | 'unreconciled'
    | 'corrected'
    | 'late'
    | 'duplicate'
    | 'not_lapsed'
    | 'above_charge'
  agent: AgentRecord
  /** With `above_charge`: what the lapse charged. */
  chargedMicros?: number
}

/** Release hold `holdId` without spending. Idempotent per hold id. */
export interface ReleaseRequest {
  handle: string
  holdId: string
  now: number
  audit?: AuditEntry
}

export interface ReleaseResult {
  /** `released` (a live hold, or a lapsed hold's charge withdrawn), or `none`. */
  outcome: 'released' | 'none'
  agent: AgentRecord
}

/** What is known about an agent's recent activity, kept in a bounded window per agent. */
export interface ActivityEvent {
  at: number
  kind: 'model_call' | 'model_result' | 'tool_call' | 'tool_result' | 'error' | 'spend'
  runId?: string
  /** Tool name for tool events. */
  tool?: string
  /** A hash of canonical data: tool arguments, or a model's output. Never the values. */
  hash?: string
  /** Micro-dollars, for `spend` and `model_result`. Stores keep every field as given. */
  micros?: number
  /** For `*_result` and `error`: whether it succeeded. */
  ok?: boolean
}

/** Extra spending a person granted an agent past its cap: bounded in money and in time. */
export interface GrantRecord {
  approvalId: string
  amountMicros: number
  expiresAt: number
}

/** A request for a person to let an agent spend past its cap. */
export interface ApprovalRecord {
  id: string
  handle: string
  status: 'pending' | 'approved' | 'denied' | 'expired'
  /** What the refused call needed (micro-dollars). */
  requestedMicros: number
  reason: string
  createdAt: number
  /** A pending request expires (undecided) at this time. */
  expiresAt: number
  decidedAt?: number
  decidedBy?: string
  decisionReason?: string
  grant?: { amountMicros: number; expiresAt: number }
}

export interface OpenApprovalRequest {
  id: string
  handle: string
  requestedMicros: number
  reason: string
  /** How long the request stays open for a decision. */
  ttlMs: number
  now: number
  audit?: AuditEntry
  /**
   * The caller waits for the decision: joining an open request, it adds what it needs to
   * what the request asks. A caller that does not wait (it is refused at once and may retry)
   * adds nothing, or each retry of one loop would raise the request again (red team rt28:
   * 200 retries of a $0.50 call made a $100 request).
   */
  waits?: boolean
}

/** A waiting call that stopped waiting on an open request (`Store.leaveApproval`). */
export interface LeaveApprovalRequest {
  /** The request it waited on. */
  id: string
  handle: string
  /** What it added when it opened or joined the request, waiting. */
  requestedMicros: number
  now: number
}

export interface DecideApprovalRequest {
  id: string
  status: 'approved' | 'denied'
  by: string
  reason?: string
  /** For `approved`: what may be spent past the cap, and for how long. */
  grant?: { amountMicros: number; ttlMs: number }
  now: number
  audit?: AuditEntry
}

/** A page of an audit log. */
export interface AuditPage {
  limit?: number
  /** Only entries with a seq below this. */
  before?: number
}

/** What `updateAgent` may change. */
export interface AgentPatch {
  capMicros?: number
  policy?: AgentPolicy
  /**
   * The policy `policy` was made from, as JSON (`JSON.stringify` of the record read): the
   * update is refused with ConcurrentUpdateError, writing nothing, when the stored policy is
   * no longer it (another update landed in between and would be undone).
   */
  policyFrom?: string
  limits?: LimitRecord[]
  budgets?: string[]
}

/** Activity events to append to an agent's window, and how many events the window keeps. */
export interface ActivityBatch {
  events: readonly ActivityEvent[]
  keep: number
}

/** Events a store publishes to every process that shares it. */
export type StoreEvent =
  | { type: 'revoked'; handle: string; reason: string; at: number }
  | { type: 'updated'; handle: string }
  /**
   * The store can no longer be trusted by this process, for good (a sqlite file deleted or
   * replaced under it): every call in flight is stopped at once, fail closed, instead of at
   * its next hold renewal. `reason` says why, for the calls' StoreUnavailableError.
   */
  | { type: 'lost'; reason: string }

/**
 * The storage interface. Implementations must make each method atomic on its own; see the
 * conformance suite for the exact contract.
 */
/** The mark of an agent's revocation alert (`markOnce`): on-call hears of it once. */
export const REVOKED_ALERT_MARK = 'revoked'

export interface Store {
  /** A short name for messages: `memory`, `sqlite`, `redis`. */
  readonly kind: string

  /** Creates an agent. Rejects with AgentExistsError when the handle is taken. */
  createAgent(record: NewAgentRecord): Promise<AgentRecord>
  /** The agent, with expired holds already released; undefined when unknown. */
  getAgent(handle: string, now: number): Promise<AgentRecord | undefined>
  findAgentByCredentialHash(credentialHash: string, now: number): Promise<AgentRecord | undefined>
  listAgents(now: number): Promise<AgentRecord[]>
  /** Changes the cap and/or policy. Rejects with AgentNotFoundError. */
  updateAgent(
    handle: string,
    patch: AgentPatch,
    now: number,
    audit?: AuditEntry,
  ): Promise<AgentRecord>
  /**
   * Marks the agent revoked (for good) and publishes a `revoked` event. Revoking twice
   * keeps the first reason. Rejects with AgentNotFoundError.
   */
  revokeAgent(
    handle: string,
    reason: string,
    now: number,
    audit?: AuditEntry,
  ): Promise<{ agent: AgentRecord; alreadyRevoked: boolean }>

  /**
   * The ledger's transitions (ledger/ledger.ts), each atomic. Reserve: charge the agent's
   * lapsed holds; refuse if revoked; refuse unless `spent + held + amount <= cap`; else
   * hold `amount`. Invalid amounts are an InvalidConfigError and write nothing.
   *
   * A store that answers in-process may answer reserve, settle and release at once with a
   * value (a failure is still a rejected promise): the guard then holds and settles a call
   * without a promise of its own.
   */
  reserve(request: ReserveRequest): Awaitable<ReserveResult>
  renew(request: RenewRequest): Promise<RenewResult>
  settle(request: SettleRequest): Awaitable<SettleResult>
  release(request: ReleaseRequest): Awaitable<ReleaseResult>

  /** Appends an audit entry. May buffer; `flush` persists what is buffered. */
  appendAudit(entry: AuditEntry): void
  /**
   * The agent's audit entries, oldest first (buffered ones included), each with its `seq`.
   * With `limit`, the most recent `limit` of them; with `before`, only entries whose seq is
   * below it (the page before). Read by the store, never the whole log then sliced.
   */
  readAudit(handle: string, options?: AuditPage): Promise<AuditEntry[]>

  /**
   * Appends an activity event to the agent's window and returns the window (oldest first,
   * at most `keep` events, the new one last). Shared by every process using the store, so
   * a loop spread over several processes is still seen as one.
   */
  recordActivity(
    handle: string,
    events: ActivityEvent | readonly ActivityEvent[],
    keep: number,
  ): Promise<ActivityEvent[]>

  /**
   * Sets the mark `key` for the agent if it is not set. True only for the one caller that
   * set it, across every process sharing the store (an alert fires once per crossing). A
   * store may keep REVOKED_ALERT_MARK beside the revocation itself (sqlite does).
   */
  markOnce(handle: string, key: string): Promise<boolean>

  /** Creates a shared budget. Rejects with InvalidConfigError when the id is taken. */
  createBudget(record: BudgetRecord): Promise<BudgetRecord>
  getBudget(id: string): Promise<BudgetRecord | undefined>
  listBudgets(): Promise<BudgetRecord[]>
  /** Changes a budget's limits or time zone. Rejects with InvalidConfigError when unknown. */
  updateBudget(
    id: string,
    patch: { limits?: LimitRecord[]; timeZone?: string },
    now: number,
  ): Promise<BudgetRecord>
  /** The usage of each window key (`ledger/levels.ts`), zero for windows never used. */
  readUsage(keys: readonly string[]): Promise<UsageRecord[]>

  /**
   * Opens an approval request for the agent, or returns its open one (concurrent callers
   * share it): `created` says which.
   */
  openApproval(
    request: OpenApprovalRequest,
  ): Promise<{ approval: ApprovalRecord; created: boolean }>
  /**
   * A call that waited on the agent's open request `id` stopped waiting (its wait ran out,
   * its caller aborted): what it added comes off, so the request asks for what the calls
   * still waiting need; the last to leave leaves its own need, what a retry of it asks (red
   * team rt40: one $0.10 call retried 30 times made a $3.00 request with nothing waiting,
   * and a click granted it). Nothing happens when `id` is no longer the agent's pending
   * request.
   */
  leaveApproval(request: LeaveApprovalRequest): Promise<void>
  /**
   * Decides a pending request. Approving adds its grant to the agent in the same atomic
   * step. Rejects with InvalidConfigError when it is not pending, AgentRevokedError when the
   * agent is revoked (a revoked agent is never approved back to life).
   */
  decideApproval(request: DecideApprovalRequest): Promise<ApprovalRecord>
  getApproval(id: string, now: number): Promise<ApprovalRecord | undefined>
  listApprovals(
    now: number,
    filter?: { status?: ApprovalRecord['status'] },
  ): Promise<ApprovalRecord[]>

  /** Subscribes to events from every process sharing the store. Returns the unsubscribe. */
  subscribe(listener: (event: StoreEvent) => void): () => void

  /** Persists buffered writes. */
  flush(): Promise<void>
  /** Flushes and releases connections, timers and files. */
  close(): Promise<void>
}
