// What the console shows of an agent: the figures `killswitch agents list` prints, formatted
// by the same functions (core's formatUsd and spentPercent), so the two never disagree, plus
// each budget window's figures. Pure, so tests compare them with the CLI's output directly.

import { type AgentSnapshot, formatUsd, spentPercent } from '@killswitch/core'

/** One window of an agent's limits, as the console draws it. */
export interface ConsoleLimit {
  per: string
  percent: number
  /** `$1.20 / $5.00`, as the CLI writes spent against a cap. */
  spentText: string
  availableText: string
  resetsAt?: string
}

/** An agent's row. `spentText`, `percent` and `availableText` are the CLI's columns. */
export interface ConsoleRow {
  handle: string
  status: 'active' | 'revoked'
  spendingCap: number
  spent: number
  /** SPENT / CAP, e.g. `$1.20 / $5.00`. */
  spentText: string
  /** The SPEND column's percentage (whole percent, rounded down). */
  percent: number
  /** AVAILABLE. */
  availableText: string
  heldText: string
  capText: string
  limits: ConsoleLimit[]
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

/** Formats an agent for the console. */
export function toConsoleRow(agent: AgentSnapshot): ConsoleRow {
  return {
    handle: agent.handle,
    status: agent.status,
    spendingCap: agent.spendingCap,
    spent: agent.spent,
    spentText: `${usd(agent.spent)} / ${usd(agent.spendingCap)}`,
    percent: spentPercent(agent.spent, agent.spendingCap),
    availableText: usd(agent.available),
    heldText: usd(agent.held),
    capText: usd(agent.spendingCap),
    limits: agent.limits.map((limit) => ({
      per: limit.per,
      percent: spentPercent(limit.spent, limit.amount),
      spentText: `${usd(limit.spent)} / ${usd(limit.amount)}`,
      availableText: usd(limit.available),
      ...(limit.resetsAt === undefined ? {} : { resetsAt: limit.resetsAt }),
    })),
    ...(agent.revokedReason === undefined ? {} : { revokedReason: agent.revokedReason }),
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

/** Pages the rows server-side: the browser only ever holds one page, however many agents. */
export function pageRows(all: readonly ConsoleRow[], query: RowQuery): RowPage {
  const needle = query.q?.trim().toLowerCase() ?? ''
  const matching =
    needle === '' ? [...all] : all.filter((row) => row.handle.toLowerCase().includes(needle))
  const order = query.order ?? 'listed'
  // The burning agents first: by spend, or by share of the cap; ties by handle.
  if (order === 'spent') matching.sort((a, b) => b.spent - a.spent || byHandle(a, b))
  else if (order === 'percent') matching.sort((a, b) => b.percent - a.percent || byHandle(a, b))
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
