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

/**
 * `storage` as a transition would leave it, written nowhere: its writes stay in the view, its
 * reads see them. A store that cannot take its write lock (a process frozen inside a write)
 * answers a read with the ledger's own transition run over it (`sweep`: lapsed holds charged)
 * instead of the records as they lie (red team rt36: a lapsed hold read as held). `dueHolds`:
 * the storage's own lookup of due holds, when that one writes (an index it tightens).
 */
export function viewOf(
  storage: LedgerStorage,
  dueHolds: LedgerStorage['dueHolds'] = (handle, now) => storage.dueHolds(handle, now),
): LedgerStorage {
  const agents = new Map<string, AgentRecord>()
  const holds = new Map<string, HoldRecord>()
  const usages = new Map<string, UsageRecord>()
  const key = (handle: string, holdId: string) => `${handle}\u0000${holdId}`
  const heldStill = (handle: string, hold: HoldRecord) =>
    (holds.get(key(handle, hold.id)) ?? hold).state === 'held'
  return {
    agent: (handle) => agents.get(handle) ?? storage.agent(handle),
    saveAgent: (record) => void agents.set(record.handle, record),
    hold: (handle, holdId) => holds.get(key(handle, holdId)) ?? storage.hold(handle, holdId),
    saveHold: (handle, hold) => void holds.set(key(handle, hold.id), hold),
    dueHolds: (handle, now) => dueHolds(handle, now).filter((hold) => heldStill(handle, hold)),
    appendAudit: () => undefined,
    budget: (id) => storage.budget(id),
    saveBudget: () => undefined,
    usage: (usageKey) => usages.get(usageKey) ?? storage.usage(usageKey),
    saveUsage: (usageKey, usage) => void usages.set(usageKey, usage),
    approval: (id) => storage.approval(id),
    saveApproval: () => undefined,
    pendingApproval: (handle) => storage.pendingApproval(handle),
  }
}
