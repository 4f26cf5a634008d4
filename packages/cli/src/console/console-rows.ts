// What the console shows of an agent: spent against the cap as `killswitch agents list` prints
// it, formatted by the same functions (core's formatUsd and spentPercent), so the two never
// disagree; what it can really still spend (the tightest of its cap, its windows and its
// shared budgets' windows, the figure `ks.verify` answers) and which of them limits it; each
// window's and each budget window's figures; and the unreconciled part of its spend. Pure, so
// tests compare them with the CLI's and verify's answers directly.

import { type AgentSnapshot, formatUsd, spentPercent } from '@killswitch/core'
import type { LimitView } from '../admin-kill-switch.js'
import { displayText } from './display-text.js'
import { type Binding, type BudgetsById, bindingText, budgetWindows } from './spend-left.js'

/** One window of an agent's limits, as the console draws it. */
export interface ConsoleLimit {
  per: string
  percent: number
  /** `$1.20 / $5.00`, as the CLI writes spent against a cap. */
  spentText: string
  availableText: string
  resetsAt?: string
}

/** A shared budget the agent draws on, with a bar per window. */
export interface ConsoleBudget {
  id: string
  /** The budget does not exist: the ledger holds against a limit of 0, so every call is refused. */
  missing?: true
  limits: ConsoleLimit[]
}

/** An agent's row. `spentText` and `percent` are the CLI's columns. */
export interface ConsoleRow {
  handle: string
  status: 'active' | 'revoked'
  spendingCap: number
  spent: number
  /** SPENT / CAP, e.g. `$1.20 / $5.00`. */
  spentText: string
  /** The SPEND column's percentage (whole percent, rounded down). */
  percent: number
  /**
   * What a new call can still reserve: the tightest level's, as `ks.verify` answers it. The
   * CLI's AVAILABLE column when the agent has no windows, budgets or live grants.
   */
  availableText: string
  /** The level that leaves the least. */
  limitedBy: Omit<Binding, 'leftMicros'>
  /** That level in words: `its cap`, `its per hour window`, `budget team-a, per day`. */
  limitedByText: string
  /** What its live grants let it spend past its cap, formatted; absent when none. */
  grantedText?: string
  /** Held by calls in flight: money that may have left already (a stream generating). */
  held: number
  heldText: string
  /** Spent and held against the cap, whole percent: the bar's colour. */
  committedPercent: number
  /** The part of `spent` charged for lapsed holds at their bound, awaiting their settlement. */
  unreconciled: number
  /** `unreconciled`, formatted; absent when 0. */
  unreconciledText?: string
  capText: string
  limits: ConsoleLimit[]
  budgets: ConsoleBudget[]
  revokedAt?: string
  revokedReason?: string
  approvals: boolean
}

// formatUsd builds a number format per call (toLocaleString): ~75 µs, so 10,000 agents
// take seconds. Its answers are remembered here; same function, same text.
const formatted = new Map<number, string>()
/** formatUsd, remembered. */
export function usd(amount: number): string {
  let text = formatted.get(amount)
  if (text === undefined) {
    if (formatted.size >= 100_000) formatted.clear()
    text = formatUsd(amount)
    formatted.set(amount, text)
  }
  return text
}

const toConsoleLimit = (limit: LimitView): ConsoleLimit => ({
  per: limit.per,
  percent: spentPercent(limit.spent, limit.amount),
  spentText: `${usd(limit.spent)} / ${usd(limit.amount)}`,
  availableText: usd(limit.available),
  ...(limit.resetsAt === undefined ? {} : { resetsAt: limit.resetsAt }),
})

/**
 * Formats an agent for the console. `budgets` must hold every budget the agent names
 * (`readBudgets`): one left out is shown as the ledger treats it, a limit of 0.
 */
export function toConsoleRow(agent: AgentSnapshot, budgets: BudgetsById): ConsoleRow {
  // The core's own reading of the tightest level (the snapshot's, as `verify` answers).
  const limitedBy: Binding = {
    level: agent.limitedBy,
    ...(agent.budgetId === undefined ? {} : { budgetId: agent.budgetId }),
    ...(agent.per === undefined ? {} : { per: agent.per }),
    ...(agent.resetsAt === undefined ? {} : { resetsAt: agent.resetsAt }),
  }
  const grantedText = agent.granted > 0 ? usd(agent.granted) : undefined
  return {
    handle: agent.handle,
    status: agent.status,
    spendingCap: agent.spendingCap,
    spent: agent.spent,
    spentText: `${usd(agent.spent)} / ${usd(agent.spendingCap)}`,
    percent: spentPercent(agent.spent, agent.spendingCap),
    availableText: usd(agent.available),
    limitedBy,
    limitedByText: bindingText(limitedBy, budgets, grantedText),
    ...(grantedText === undefined ? {} : { grantedText }),
    held: agent.held,
    heldText: usd(agent.held),
    committedPercent: spentPercent(agent.spent + agent.held, agent.spendingCap),
    unreconciled: agent.unreconciled,
    ...(agent.unreconciled > 0 ? { unreconciledText: usd(agent.unreconciled) } : {}),
    capText: usd(agent.spendingCap),
    limits: agent.limits.map(toConsoleLimit),
    budgets: [...new Set(agent.budgets)].map((id) => ({
      id,
      ...(budgets.has(id) ? {} : { missing: true as const }),
      limits: budgetWindows(budgets, id).map(toConsoleLimit),
    })),
    ...(agent.revokedAt === undefined ? {} : { revokedAt: agent.revokedAt }),
    // The reason may quote what the agent sent (a tool name chosen by a model).
    ...(agent.revokedReason === undefined
      ? {}
      : { revokedReason: displayText(agent.revokedReason) }),
    approvals: agent.approvals.enabled,
  }
}

/** `listed`: the store's order, as `killswitch agents list` prints them. */
export type RowOrder = 'listed' | 'handle' | 'spent' | 'percent'

/** A page of rows: filtered by a handle substring, ordered, sliced. */
export interface RowQuery {
  q?: string
  order?: RowOrder
  page: number
  pageSize: number
}

export interface RowPage {
  rows: ConsoleRow[]
  total: number
  page: number
  pageSize: number
  pages: number
}

const byHandle = (a: ConsoleRow, b: ConsoleRow) =>
  a.handle < b.handle ? -1 : a.handle > b.handle ? 1 : 0

// Spent and held by calls in flight: an agent whose cap is all held by live streams is the
// one burning now, though it has settled nothing yet (red team r24: ranked last of 500).
const committed = (row: ConsoleRow) => row.spent + row.held
const share = (row: ConsoleRow) =>
  row.spendingCap > 0 ? committed(row) / row.spendingCap : committed(row) > 0 ? Infinity : 0

/** Pages the rows server-side: the browser only ever holds one page, however many agents. */
export function pageRows(all: readonly ConsoleRow[], query: RowQuery): RowPage {
  const needle = query.q?.trim().toLowerCase() ?? ''
  const matching =
    needle === '' ? [...all] : all.filter((row) => row.handle.toLowerCase().includes(needle))
  const order = query.order ?? 'listed'
  // The burning agents first: by spent + held, or by its share of the cap; ties by handle.
  if (order === 'spent') matching.sort((a, b) => committed(b) - committed(a) || byHandle(a, b))
  else if (order === 'percent') matching.sort((a, b) => share(b) - share(a) || byHandle(a, b))
  else if (order === 'handle') matching.sort(byHandle)
  const pages = Math.max(1, Math.ceil(matching.length / query.pageSize))
  const page = Math.min(Math.max(1, query.page), pages)
  const start = (page - 1) * query.pageSize
  return {
    rows: matching.slice(start, start + query.pageSize),
    total: matching.length,
    page,
    pageSize: query.pageSize,
    pages,
  }
}
