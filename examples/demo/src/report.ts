// What the demo prints once the agents are done: spend against cap per agent, the stopped
// agent's audit trail, and where the state lives with the commands to look at it yourself.
import { type AuditEntry, formatUsd, spentPercent } from '@killswitch/core'
import type { Style } from './style.ts'

/** One row of the spend table. */
export interface AgentRow {
  handle: string
  framework: string
  status: 'active' | 'revoked'
  spent: number
  spendingCap: number
  /** Settled calls: model calls and paid tool calls. */
  calls: number
  done: number
  planned: number
  /** The kill switch error code that stopped it, if one did. */
  stoppedBy?: string
}

const BAR_WIDTH = 20

// Money and percentages as the CLI shows them (core's one formatter): `agents list` and
// this table never disagree about the same agent.
const money = formatUsd

function bar(spent: number, cap: number, style: Style): string {
  const fraction = cap > 0 ? spent / cap : 0
  const filled = Math.min(BAR_WIDTH, Math.round(fraction * BAR_WIDTH))
  const text = '█'.repeat(filled) + '░'.repeat(BAR_WIDTH - filled)
  const percent = `${spentPercent(spent, cap)}%`.padStart(4)
  const colour = fraction >= 0.8 ? style.red : fraction >= 0.5 ? style.yellow : style.green
  return `${colour(text)} ${percent}`
}

function table(rows: string[][], style: Style): string[] {
  const widths = rows[0]?.map((_, column) =>
    Math.max(...rows.map((row) => stripAnsi(row[column] ?? '').length)),
  )
  return rows.map((row, index) => {
    const line = row
      .map((cell, column) => cell + ' '.repeat((widths?.[column] ?? 0) - stripAnsi(cell).length))
      .join('  ')
      .trimEnd()
    return index === 0 ? style.bold(line) : line
  })
}

function stripAnsi(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: strips our own colour codes
  return text.replace(/\u001b\[\d+m/g, '')
}

/**
 * The per-agent table: status, spent against cap with a bar, calls, work done.
 *
 * @example
 * for (const line of spendTable(rows, style)) console.log(line)
 */
export function spendTable(rows: readonly AgentRow[], style: Style): string[] {
  return table(
    [
      ['AGENT', 'FRAMEWORK', 'STATUS', 'SPENT / CAP', 'SPEND', 'CALLS', 'WORK'],
      ...rows.map((row) => [
        row.handle,
        row.framework,
        row.status === 'revoked' ? style.red('revoked') : style.green('active'),
        `${money(row.spent)} / ${money(row.spendingCap)}`,
        bar(row.spent, row.spendingCap, style),
        String(row.calls),
        row.stoppedBy === undefined
          ? `${row.done}/${row.planned} done`
          : style.red(`stopped: ${row.stoppedBy}`),
      ]),
    ],
    style,
  )
}

/**
 * The audit trail, compact: time, type, summary. Holds are counted, not listed: each one is
 * followed by its settlement or release, which says what it cost.
 *
 * @example
 * for (const line of auditTrail(await ks.audit(handle), style)) console.log(line)
 */
export function auditTrail(entries: readonly AuditEntry[], style: Style): string[] {
  const shown = entries.filter((entry) => entry.type !== 'hold')
  const lines = table(
    [
      ['TIME (UTC)', 'TYPE', 'SUMMARY'],
      ...shown.map((entry) => {
        const type = entry.type.padEnd(14)
        // Red for what stopped the agent, yellow for what warned about it.
        const warning =
          entry.type === 'alert' || (entry.type === 'runaway' && entry.data.action === 'warn')
        const stop = ['runaway', 'revoked', 'denied'].includes(entry.type) && !warning
        return [
          new Date(entry.at).toISOString().slice(11, 23),
          stop ? style.bold(style.red(type)) : warning ? style.yellow(type) : type,
          entry.summary,
        ]
      }),
    ],
    style,
  )
  const holds = entries.length - shown.length
  if (holds > 0)
    lines.push(style.dim(`(${holds} hold entries not shown: each is settled or released above)`))
  return lines
}

/**
 * Where the state lives and the CLI commands to inspect it.
 *
 * @example
 * for (const line of whereStateLives('.killswitch/demo.db', 'researcher-agent-7', style)) console.log(line)
 */
export function whereStateLives(dbPath: string, handle: string, style: Style): string[] {
  const store = `sqlite:${dbPath}`
  return [
    `State lives in ${style.bold(dbPath)} (sqlite: agents, ledger, audit log). Inspect it:`,
    `  ${style.cyan(`npm run killswitch -- agents list --store ${store}`)}`,
    `  ${style.cyan(`npm run killswitch -- audit ${handle} --store ${store}`)}`,
  ]
}
