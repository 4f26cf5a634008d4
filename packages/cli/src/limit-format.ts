// Windows and budgets in words: "$1.20 / $5.00 per hour, resets 2026-12-01T15:00:00.000Z".
// Shared by `agents`, `budgets` and `verify`, so every view says the same thing.

import type { LimitView } from './admin-kill-switch.js'
import { formatUsd, spendBar } from './format.js'
import type { TerminalStyle } from './terminal-style.js'

/** One window: spent / limit per window, held, available, and when it resets. */
export function describeLimit(limit: LimitView, style: TerminalStyle): string {
  const per = limit.per === 'lifetime' ? 'lifetime' : `per ${limit.per}`
  const resets = limit.resetsAt === undefined ? '' : `, resets ${limit.resetsAt}`
  const held = limit.held > 0 ? `, held ${formatUsd(limit.held)}` : ''
  return `${formatUsd(limit.spent)} / ${formatUsd(limit.amount)} ${per}  ${spendBar(limit.spent, limit.amount, style, { width: 10 })}  available ${formatUsd(limit.available)}${held}${resets}`
}

/** The windows in one short cell for tables: `$1.20/$5.00 h, $3.00/$20.00 day`. */
export function limitsCell(limits: readonly LimitView[]): string {
  if (limits.length === 0) return '-'
  return limits
    .map((limit) => `${formatUsd(limit.spent)}/${formatUsd(limit.amount)} ${limit.per}`)
    .join(', ')
}

/** A limit as typed on the command line: `5/hour`. */
export const limitText = (limit: { amount: number; per: string }) =>
  `${formatUsd(limit.amount)}/${limit.per}`
