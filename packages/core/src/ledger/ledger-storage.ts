// The small storage interface the ledger's transitions run over (ledger.ts). A store gives
// the ledger synchronous access to one agent's record, its holds and its audit log, inside
// whatever makes the transition atomic in that store: one synchronous step of the event
// loop (memory), one write transaction (sqlite). Redis runs the same transitions as Lua
// (packages/redis), held to these by the differential test.
import type { AuditEntry } from '../audit.js'
import type { AgentRecord, ApprovalRecord, BudgetRecord, UsageRecord } from '../store.js'

/** How a hold ended, or `held` while it is live. */
export type HoldState = 'held' | 'settled' | 'released' | 'lapsed'

/** One hold, live or finished (kept for idempotency until pruned). */
export interface HoldRecord {
  id: string
  /** What the hold reserved (micro-dollars). */
  amountMicros: number
  /** When a live hold lapses unless renewed, settled or released (the store's clock). */
  expiresAt: number
  state: HoldState
  /** What was charged for it: the settled cost, or the amount for a lapsed hold. */
  chargedMicros: number
  /** When it last changed state (for pruning finished holds). */
  updatedAt: number
  /** The window keys it was held against besides the agent's cap (`ledger/levels.ts`). */
  levels: readonly string[]
  /** What it was for (`ReserveRequest.label`), when its reserve said. */
  label?: string
}

export interface LedgerStorage {
  agent(handle: string): AgentRecord | undefined
  /** Writes the agent's mutable fields: status, cap, money, revocation, policy, updatedAt. */
  saveAgent(record: AgentRecord): void
  hold(handle: string, holdId: string): HoldRecord | undefined
  saveHold(handle: string, hold: HoldRecord): void
  /** The agent's live holds whose expiry is at or before `now`: by expiry, then hold id. */
  dueHolds(handle: string, now: number): HoldRecord[]
  appendAudit(entry: AuditEntry): void
  budget(id: string): BudgetRecord | undefined
  saveBudget(record: BudgetRecord): void
  /** A window's usage; zero for a window never used. */
  usage(key: string): UsageRecord
  saveUsage(key: string, usage: UsageRecord): void
  approval(id: string): ApprovalRecord | undefined
  saveApproval(record: ApprovalRecord): void
  /** The agent's most recent request still marked pending, if any. */
  pendingApproval(handle: string): ApprovalRecord | undefined
}
