// `killswitch audit <handle>`: what the agent spent, on what, and why it stopped.

import { type AuditEntry, auditToJsonLines } from '@killswitch/core'
import { Command } from 'commander'
import type { CliContext } from '../cli-context.js'
import { CliError, EXIT_CODES } from '../exit-codes.js'
import { csvCell, formatTable } from '../format.js'
import { handleArgument, parseWholeNumber } from '../parse-input.js'
import type { TerminalStyle } from '../terminal-style.js'

/** The audit log as CSV: at, handle, type, summary, data (JSON). */
export function auditToCsv(entries: readonly AuditEntry[]): string {
  const header = 'at,handle,type,summary,data\n'
  return (
    header +
    entries
      .map((entry) =>
        [
          new Date(entry.at).toISOString(),
          entry.handle,
          entry.type,
          entry.summary,
          JSON.stringify(entry.data),
        ]
          .map(csvCell)
          .join(','),
      )
      .map((line) => `${line}\n`)
      .join('')
  )
}

const loud = new Set(['denied', 'runaway', 'revoked'])

function typeText(type: string, style: TerminalStyle): string {
  if (loud.has(type)) return style.red(type)
  if (type === 'alert' || type === 'alert_delivery') return style.yellow(type)
  return type
}

/** Builds `killswitch audit`. */
export function auditCommand(context: CliContext): Command {
  return new Command('audit')
    .description("Print an agent's audit log, oldest first")
    .argument('<handle>', "the agent's handle", handleArgument)
    .option('--json', 'one JSON object per line (JSON Lines)')
    .option('--csv', 'CSV with a header row')
    .option('--limit <n>', 'only the last n entries (read as one page from the store)')
    .option(
      '--before <seq>',
      "only entries before this one (an entry's seq, from --json): the previous page",
    )
    .action(
      async (
        handle: string,
        options: { json?: boolean; csv?: boolean; limit?: string; before?: string },
        command: Command,
      ) => {
        if (options.json && options.csv)
          throw new CliError('choose one of --json and --csv.', EXIT_CODES.usage)
        const limit =
          options.limit === undefined
            ? undefined
            : parseWholeNumber(options.limit, 'limit', 1, 1_000_000)
        const before =
          options.before === undefined
            ? undefined
            : parseWholeNumber(options.before, 'before', 1, Number.MAX_SAFE_INTEGER)
        // The store reads the page: a long log is never read whole to show its tail.
        const entries = await context.withKillSwitch(command, (ks) =>
          ks.audit(handle, {
            ...(limit === undefined ? {} : { limit }),
            ...(before === undefined ? {} : { before }),
          }),
        )
        if (options.json) return context.out(auditToJsonLines(entries))
        if (options.csv) return context.out(auditToCsv(entries))
        if (entries.length === 0) return context.out(`No audit entries for ${handle}.\n`)
        const style = context.style(command)
        const rows = entries.map((entry) => [
          style.dim(new Date(entry.at).toISOString()),
          typeText(entry.type, style),
          entry.summary,
        ])
        context.out(formatTable(['TIME', 'TYPE', 'SUMMARY'], rows, style))
      },
    )
}
