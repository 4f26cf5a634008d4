// `killswitch audit <handle>`: what the agent spent, on what, and why it stopped.

import { type AuditEntry, auditToJsonLines } from '@killswitch/core'
import { Command } from 'commander'
import type { AdminKillSwitch } from '../admin-kill-switch.js'
import type { CliContext } from '../cli-context.js'
import { CliError, EXIT_CODES } from '../exit-codes.js'
import { csvCell, formatTable, formatUsd } from '../format.js'
import { handleArgument, parseWholeNumber } from '../parse-input.js'
import { shellWord } from '../store-messages.js'
import type { TerminalStyle } from '../terminal-style.js'
import { openUnreconciled, unreconciledCharge } from '../unreconciled-holds.js'

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

/**
 * The summary, and for an unreconciled charge its hold id and what it charged: the id
 * `killswitch reconcile` takes, which the summary does not say.
 */
function summaryText(entry: AuditEntry): string {
  const charge = unreconciledCharge(entry)
  return charge
    ? `${entry.summary} [unreconciled: ${formatUsd(charge.charged)} charged, its bound; hold ${charge.holdId}]`
    : entry.summary
}

// Pages of the whole log, for --unreconciled: an old charge may still be open.
const PAGE = 1_000

async function* newestPagesFirst(ks: AdminKillSwitch, handle: string) {
  let before: number | undefined
  do {
    const page = await ks.audit(handle, {
      limit: PAGE,
      ...(before === undefined ? {} : { before }),
    })
    yield page
    before = page.length === PAGE ? page[0]?.seq : undefined
  } while (before !== undefined)
}

/** The open unreconciled charges, each with the command that reconciles it. */
function unreconciledTable(
  open: Awaited<ReturnType<typeof openUnreconciled>>,
  handle: string,
  storeFlag: string,
  style: TerminalStyle,
): string {
  if (open.length === 0) return `No unreconciled holds of ${handle} are open to reconcile.\n`
  const rows = open.map(({ entry, charge }) => [
    style.dim(new Date(entry.at).toISOString()),
    formatUsd(charge.charged),
    `killswitch reconcile ${shellWord(handle)} ${shellWord(charge.holdId)} <usd>${storeFlag}`,
    entry.summary,
  ])
  return `${formatTable(['TIME', 'CHARGED', 'RECONCILE WITH', 'SUMMARY'], rows, style)}Each was charged its bound (the whole hold for a lapse) as unreconciled: put in <usd> what the provider's bill (or the payee's receipt) says it cost.\n`
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
    .option(
      '--unreconciled',
      'only the unreconciled charges still open to reconcile (reads the whole log), each with its killswitch reconcile command',
    )
    .action(
      async (
        handle: string,
        options: {
          json?: boolean
          csv?: boolean
          limit?: string
          before?: string
          unreconciled?: boolean
        },
        command: Command,
      ) => {
        if (options.json && options.csv)
          throw new CliError('choose one of --json and --csv.', EXIT_CODES.usage)
        if (options.unreconciled && (options.limit !== undefined || options.before !== undefined))
          throw new CliError(
            '--unreconciled reads the whole log: it takes no --limit or --before.',
            EXIT_CODES.usage,
          )
        const limit =
          options.limit === undefined
            ? undefined
            : parseWholeNumber(options.limit, 'limit', 1, 1_000_000)
        const before =
          options.before === undefined
            ? undefined
            : parseWholeNumber(options.before, 'before', 1, Number.MAX_SAFE_INTEGER)
        const open = options.unreconciled
          ? await context.withKillSwitch(command, (ks) =>
              openUnreconciled(newestPagesFirst(ks, handle)),
            )
          : undefined
        // The store reads the page: a long log is never read whole to show its tail.
        const entries =
          open?.map(({ entry }) => entry) ??
          (await context.withKillSwitch(command, (ks) =>
            ks.audit(handle, {
              ...(limit === undefined ? {} : { limit }),
              ...(before === undefined ? {} : { before }),
            }),
          ))
        if (options.json) return context.out(auditToJsonLines(entries))
        if (options.csv) return context.out(auditToCsv(entries))
        const style = context.style(command)
        if (open)
          return context.out(unreconciledTable(open, handle, context.storeFlag(command), style))
        if (entries.length === 0) return context.out(`No audit entries for ${handle}.\n`)
        const rows = entries.map((entry) => [
          style.dim(new Date(entry.at).toISOString()),
          typeText(entry.type, style),
          summaryText(entry),
        ])
        // An entry keeps its `unreconciled` after its correction: said open only while one
        // shown is, on the newest page (an older page's correction may follow on a newer one,
        // red team rt34), where the log's open ones are all listed.
        const unreconciled = (await openUnreconciled([entries])).length > 0
        const footer = unreconciled
          ? before === undefined
            ? `Unreconciled holds still open, each with its reconcile command: killswitch audit ${handle} --unreconciled${context.storeFlag(command)}\n`
            : `Unreconciled holds shown may be open still: killswitch audit ${handle} --unreconciled${context.storeFlag(command)} lists those that are.\n`
          : ''
        context.out(formatTable(['TIME', 'TYPE', 'SUMMARY'], rows, style) + footer)
      },
    )
}
