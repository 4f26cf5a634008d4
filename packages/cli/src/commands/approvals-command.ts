// `killswitch approvals list | approve | deny`: the queue of requests to spend past a cap.
// A grant is bounded in money (--amount) and in time (--ttl); a decision is taken once by the
// store, so two operators approving at once cannot both grant.

import { InvalidConfigError } from '@killswitch/core'
import { Command } from 'commander'
import type { AdminKillSwitch, ApprovalView } from '../admin-kill-switch.js'
import type { CliContext } from '../cli-context.js'
import { CliError, EXIT_CODES } from '../exit-codes.js'
import { formatTable, formatUsd } from '../format.js'
import { parseDurationMs, parseUsd } from '../parse-input.js'
import { storeRead } from '../store-messages.js'
import { escapeControls, type TerminalStyle } from '../terminal-style.js'

const json = (value: unknown) => `${JSON.stringify(value, null, 2)}\n`
const STATUSES = ['pending', 'approved', 'denied', 'expired'] as const
type Status = (typeof STATUSES)[number]
const DEFAULT_TTL = '1h'

function statusText(status: Status, style: TerminalStyle): string {
  if (status === 'pending') return style.yellow(status)
  if (status === 'approved') return style.green(status)
  return style.red(status)
}

/** Who acted (decided, revoked), as the audit log records it: the CLI and the local user. */
export function cliActor(env: Record<string, string | undefined>): string {
  const user = env.USER ?? env.USERNAME
  return user ? `cli:${user}`.slice(0, 200) : 'cli'
}

/** One decision in a line. */
export function describeApproval(approval: ApprovalView, style: TerminalStyle): string {
  const grant = approval.grant
    ? `: up to ${formatUsd(approval.grant.amount)} more until ${approval.grant.expiresAt}`
    : ''
  const by = approval.decidedBy ? ` by ${escapeControls(approval.decidedBy)}` : ''
  const why = approval.decisionReason ? ` (${escapeControls(approval.decisionReason)})` : ''
  return `Approval ${style.bold(approval.id)} for ${approval.handle}: ${statusText(approval.status, style)}${by}${grant}${why}.\n`
}

/**
 * What a request asks, when calls that joined it have not raised it since it was opened (as
 * its notification said): a grant nobody typed is never larger than what on-call was told.
 * A request that grew asks for `--amount` (red team rt28: a request a loop raised from $0.50
 * to $100 was approved whole by `approvals approve <id>`).
 */
async function askedAsOpened(ks: AdminKillSwitch, id: string): Promise<number> {
  const approval = await ks.approvals.get(id)
  const opened = (await ks.audit(approval.handle)).find(
    (entry) =>
      entry.type === 'approval' &&
      entry.data.event === 'requested' &&
      entry.data.approvalId === approval.id,
  )?.data.requested
  if (opened === approval.requested) return approval.requested
  const was = typeof opened === 'number' ? ` from ${formatUsd(opened)} when it was opened` : ''
  throw new CliError(
    `the request by ${approval.handle} grew${was} to ${formatUsd(approval.requested)} (calls that wait on it add what they need): choose the grant with --amount, e.g. --amount ${approval.requested}.`,
    EXIT_CODES.usage,
  )
}

/** Builds `killswitch approvals`. */
export function approvalsCommand(context: CliContext): Command {
  const approvals = new Command('approvals').description(
    'Requests from agents to spend past their cap: list, approve (a bounded grant), deny',
  )

  approvals
    .command('list')
    .description('List approval requests, newest first')
    .option('--status <status>', `only this status: ${STATUSES.join(', ')}`)
    .option('--json', 'print JSON')
    .action(async (options: { status?: string; json?: boolean }, command: Command) => {
      const status = options.status
      if (status !== undefined && !(STATUSES as readonly string[]).includes(status)) {
        throw new InvalidConfigError(
          'status',
          `Invalid --status: "${status}"; give one of ${STATUSES.join(', ')}.`,
        )
      }
      const [list, spec] = await context.withKillSwitch(
        command,
        async (ks, spec) =>
          [
            await ks.approvals.list(status === undefined ? {} : { status: status as Status }),
            spec,
          ] as const,
      )
      if (options.json) return context.out(json(list))
      if (list.length === 0) {
        return context.out(
          `No ${status ?? ''}${status ? ' ' : ''}approval requests in ${storeRead(spec, context.storeOrigin(command))}.\n`,
        )
      }
      const style = context.style(command)
      const rows = list.map((approval) => [
        approval.id,
        approval.handle,
        statusText(approval.status, style),
        formatUsd(approval.requested),
        approval.reason,
        approval.status === 'pending'
          ? `expires ${approval.expiresAt}`
          : (approval.decidedBy ?? ''),
      ])
      context.out(
        formatTable(['ID', 'AGENT', 'STATUS', 'REQUESTED', 'REASON', 'EXPIRES / BY'], rows, style),
      )
    })

  approvals
    .command('approve')
    .description('Grant up to --amount dollars more, for --ttl, to the agent that asked')
    .argument('<id>', 'the approval request id (approvals list)')
    .option(
      '--amount <usd>',
      'the most it may spend past its cap (default: what the request asks, if calls that joined it have not raised it since it was opened)',
    )
    .option('--ttl <duration>', 'how long the grant lives, e.g. 30m, 1h, 2d', DEFAULT_TTL)
    .option('--reason <text>', 'why (goes in the audit log)')
    .option('--json', 'print JSON')
    .action(
      async (
        id: string,
        options: { amount?: string; ttl: string; reason?: string; json?: boolean },
        command: Command,
      ) => {
        const ttlMs = parseDurationMs(options.ttl, 'ttl')
        const given = options.amount === undefined ? undefined : parseUsd(options.amount, 'amount')
        const approval = await context.withKillSwitch(command, async (ks) => {
          const amount = given ?? (await askedAsOpened(ks, id))
          const reason = options.reason === undefined ? {} : { reason: options.reason }
          return ks.approvals.approve(id, {
            amount,
            ttlMs,
            by: cliActor(context.io.env),
            ...reason,
          })
        })
        context.out(
          options.json ? json(approval) : describeApproval(approval, context.style(command)),
        )
      },
    )

  approvals
    .command('deny')
    .description('Deny a request: the waiting call fails with approval_denied')
    .argument('<id>', 'the approval request id (approvals list)')
    .option('--reason <text>', 'why (goes in the audit log)')
    .option('--json', 'print JSON')
    .action(async (id: string, options: { reason?: string; json?: boolean }, command: Command) => {
      const approval = await context.withKillSwitch(command, (ks) =>
        ks.approvals.deny(id, {
          by: cliActor(context.io.env),
          ...(options.reason === undefined ? {} : { reason: options.reason }),
        }),
      )
      context.out(
        options.json ? json(approval) : describeApproval(approval, context.style(command)),
      )
    })

  return approvals
}
