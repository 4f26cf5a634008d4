// What the public API shows of an agent: dollars, ISO times, and never the credential, its
// hash or a webhook secret.
import type { LimitUsage } from './budget-limits.js'
import { effectiveCap } from './ledger/approvals.js'
import { toUsd } from './money.js'
import type { RunawayConfig } from './runaway/config.js'
import type { SpendRules } from './spend-rules.js'
import type { AgentRecord } from './store.js'
import { type Binding, bindingOf, type TightestLevel } from './tightest-level.js'

/** An agent as `agents.get` and `agents.list` show it. Amounts in dollars. */
export interface AgentSnapshot extends Binding {
  handle: string
  status: 'active' | 'revoked'
  currency: 'usd'
  spendingCap: number
  /** Everything charged, unreconciled lapses included. */
  spent: number
  /**
   * The part of `spent` charged for holds that lapsed with no settlement (a caller that
   * crashed or lost the store after its request left): money that may have left, charged
   * at its bound until the real cost arrives and replaces it.
   */
  unreconciled: number
  /** Held by calls in flight (reserved, not yet settled). */
  held: number
  /**
   * What a new call can still reserve now: the tightest of its cap (with the grants approved
   * past it), its own windows and its shared budgets' windows, as `verify` answers; never
   * below 0, and 0 for a revoked agent. `limitedBy` (with `budgetId`, `per`, `resetsAt`)
   * names the level that leaves it.
   */
  available: number
  createdAt: string
  updatedAt: string
  revokedAt?: string
  revokedReason?: string
  alerts: Array<{
    thresholdPct: number
    webhookUrl: string
    signed: boolean
    /** The body's shape (json when absent). */
    format?: 'json' | 'slack' | 'pagerduty'
  }>
  runaway: RunawayConfig
  /** Windows beside the lifetime cap, each with its current window's figures. */
  limits: LimitUsage[]
  /** The shared budgets it draws on, by id. */
  budgets: string[]
  /** Approvals past the cap (off when absent). */
  approvals: { enabled: boolean; waitMs: number }
  /** Payee allowlist and per-spend maximum (none when empty). */
  spendRules: SpendRules
  /** Grants from approvals: what it may spend past its cap, until when (expired ones until swept). */
  grants: Array<{ approvalId: string; amount: number; expiresAt: string }>
  /** What the grants still live now add to `spendingCap`: the cap the ledger enforces is both. */
  granted: number
}

/**
 * Converts a store record to its public view at `now`; `limits` are its windows' live
 * figures and `tightest` its tightest level now (tightest-level.ts).
 */
export function toSnapshot(
  record: AgentRecord,
  limits: LimitUsage[],
  tightest: TightestLevel,
  now: number,
): AgentSnapshot {
  const left = record.status === 'active' ? Math.max(0, tightest.leftMicros) : 0
  return {
    handle: record.handle,
    status: record.status,
    currency: record.currency,
    spendingCap: toUsd(record.capMicros),
    spent: toUsd(record.spentMicros),
    unreconciled: toUsd(record.unreconciledMicros),
    held: toUsd(record.heldMicros),
    available: toUsd(left),
    ...bindingOf(tightest.level),
    createdAt: new Date(record.createdAt).toISOString(),
    updatedAt: new Date(record.updatedAt).toISOString(),
    ...(record.revokedAt === undefined
      ? {}
      : { revokedAt: new Date(record.revokedAt).toISOString() }),
    ...(record.revokedReason === undefined ? {} : { revokedReason: record.revokedReason }),
    alerts: record.policy.alerts.map((rule) => ({
      thresholdPct: rule.thresholdPct,
      webhookUrl: rule.webhookUrl,
      signed: rule.secret !== undefined,
      ...(rule.format === undefined ? {} : { format: rule.format }),
    })),
    runaway: record.policy.runaway,
    limits,
    budgets: [...record.budgets],
    approvals: record.policy.approvals ?? { enabled: false, waitMs: 0 },
    spendRules: record.policy.spendRules ?? {},
    grants: record.grants.map((grant) => ({
      approvalId: grant.approvalId,
      amount: toUsd(grant.amountMicros),
      expiresAt: new Date(grant.expiresAt).toISOString(),
    })),
    granted: toUsd(effectiveCap(record, now) - record.capMicros),
  }
}
