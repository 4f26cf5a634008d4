// `killswitch agents create | list | get`: provisioning and inspection.

import {
  type AgentSnapshot,
  InvalidConfigError,
  maskWebhookUrl,
  type ProvisionedAgent,
  type SpendRules,
} from '@killswitch/core'
import { Command } from 'commander'
import type { CliContext } from '../cli-context.js'
import { formatTable, formatUsd, spendBar } from '../format.js'
import { describeLimit, limitsCell } from '../limit-format.js'
import { collect, handleArgument, parseLimits, parseUsd } from '../parse-input.js'
import { storeRead } from '../store-messages.js'
import { escapeControls, type TerminalStyle } from '../terminal-style.js'

/** Marks, in `agents list`, a spend that holds lapsed holds charged whole. */
const UNRECONCILED_MARK = '*'

const json = (value: unknown) => `${JSON.stringify(value, null, 2)}\n`

function statusText(agent: AgentSnapshot, style: TerminalStyle): string {
  return agent.status === 'revoked' ? style.red('revoked') : style.green('active')
}

/**
 * ` (of which $X unreconciled: ...)` when part of the spend is charged at a bound with nothing
 * known of what it cost (a hold that lapsed: a process died mid-call; a model call with no
 * usage; a payment of unknown outcome), else ''. Said wherever spend is: that money may
 * really have been spent, or not; `audit --unreconciled` lists each one still open.
 */
export function unreconciledNote(agent: AgentSnapshot, storeFlag = ''): string {
  return agent.unreconciled > 0
    ? ` (of which ${formatUsd(agent.unreconciled)} unreconciled: lapsed holds or outcomes unknown, see killswitch audit ${agent.handle} --unreconciled${storeFlag})`
    : ''
}

/**
 * The agent in a few lines, for people. `storeFlag` (` --store <spec>` or '') goes on the
 * command it suggests, so that it acts on the same store.
 */
export function describeAgent(agent: AgentSnapshot, style: TerminalStyle, storeFlag = ''): string {
  const revoked = agent.status === 'revoked'
  const rows: Array<[string, string]> = [
    [
      'spent',
      `${formatUsd(agent.spent)} of ${formatUsd(agent.spendingCap)}  ${spendBar(agent.spent, agent.spendingCap, style, { revoked })}${unreconciledNote(agent, storeFlag)}`,
    ],
    ['held', `${formatUsd(agent.held)} (reserved by calls in flight)`],
    ['available', formatUsd(agent.available)],
    ['created', agent.createdAt],
  ]
  for (const limit of agent.limits) rows.push(['window', describeLimit(limit, style)])
  if (agent.budgets.length > 0) rows.push(['budgets', agent.budgets.join(', ')])
  const rules = agent.spendRules ?? {}
  if (rules.allowedPayees) rows.push(['payees', rules.allowedPayees.join(', ') || 'none allowed'])
  if (rules.maxSpendUsd !== undefined)
    rows.push(['max spend', `${formatUsd(rules.maxSpendUsd)} per payment (or other spend)`])
  if (agent.approvals.enabled)
    rows.push(['approvals', `past the cap, ask a person (waits ${agent.approvals.waitMs} ms)`])
  for (const grant of agent.grants)
    rows.push([
      'grant',
      `${formatUsd(grant.amount)} more until ${grant.expiresAt} (approval ${grant.approvalId})`,
    ])
  if (agent.revokedAt)
    rows.push([
      'revoked',
      // The reason may quote what an agent sent (a tool name): on its one line, escaped.
      `${agent.revokedAt}${agent.revokedReason ? ` (${escapeControls(agent.revokedReason)})` : ''}`,
    ])
  for (const rule of agent.alerts) {
    rows.push([
      'alert',
      `at ${Math.round(rule.thresholdPct * 1000) / 10}% of the cap -> ${maskWebhookUrl(rule.webhookUrl)}${rule.format && rule.format !== 'json' ? ` (${rule.format})` : ''}${rule.signed ? ' (signed)' : style.yellow(' (unsigned: set it again to sign it)')}`,
    ])
  }
  if (agent.alerts.length === 0)
    rows.push([
      'alerts',
      style.dim(`none (killswitch alert ${agent.handle} --at 0.8 --webhook URL${storeFlag})`),
    ])
  const width = Math.max(...rows.map(([label]) => label.length))
  return [
    `${style.bold(agent.handle)}  ${statusText(agent, style)}\n`,
    ...rows.map(([label, value]) => `  ${style.dim(label.padEnd(width))}  ${value}\n`),
  ].join('')
}

interface CreateOptions extends SpendRuleFlags {
  cap: string
  limit?: string[]
  budget?: string[]
  json?: boolean
}

/** `--allowed-payee` and `--max-spend`, on `agents create` and `agents update`. */
interface SpendRuleFlags {
  allowedPayee?: string[]
  maxSpend?: string
}

/** The spend rules the flags give (only those given), or undefined when none are. */
function spendRulesInput(options: SpendRuleFlags): SpendRules | undefined {
  if (options.allowedPayee === undefined && options.maxSpend === undefined) return undefined
  return {
    ...(options.allowedPayee === undefined ? {} : { allowedPayees: options.allowedPayee }),
    ...(options.maxSpend === undefined
      ? {}
      : { maxSpendUsd: parseUsd(options.maxSpend, 'max-spend') }),
  }
}

/** Adds the spend-rule options to `agents create` or `agents update`. */
function withSpendRuleOptions(command: Command, verb: string): Command {
  return command
    .option(
      '--allowed-payee <address>',
      `${verb} the payees it may pay, e.g. an x402 payTo (repeatable)`,
      collect,
    )
    .option('--max-spend <usd>', `${verb} the most one payment (or other spend) may cost`)
}

/** Builds `killswitch agents`. */
export function agentsCommand(context: CliContext): Command {
  const agents = new Command('agents').description('Create, list and inspect agents')

  const create = agents
    .command('create')
    .description('Create an agent with its own credential and a hard spending cap')
    .argument(
      '<handle>',
      'unique name: letters, digits, ".", "_", "-" (e.g. researcher-agent-7)',
      handleArgument,
    )
    .requiredOption('--cap <usd>', 'spending cap in dollars (e.g. 50); 0 denies everything')
    .option('--limit <amount/window>', 'a window beside the cap, e.g. 5/hour (repeatable)', collect)
    .option('--budget <id>', 'a shared budget it draws on (repeatable)', collect)
  withSpendRuleOptions(create, 'only')
    .option('--json', 'print the agent and its credential as JSON')
    .action(async (handle: string, options: CreateOptions, command: Command) => {
      const spendingCap = parseUsd(options.cap, 'cap')
      const limits = options.limit === undefined ? undefined : parseLimits(options.limit, 'limit')
      const spendRules = spendRulesInput(options)
      // The credential is what this command exists to show (once): written unredacted, as
      // soon as the store has the agent, before the kill switch closes (a close that fails
      // after, an audit flush timing out, left the agent made and its credential unshown:
      // red team rt41b).
      const show = (created: ProvisionedAgent) => {
        if (options.json) return context.reveal(json(created))
        const style = context.style(command)
        context.out(
          `Created agent ${style.bold(created.handle)} with a spending cap of ${formatUsd(created.spendingCap)}.\n\n`,
        )
        context.reveal(`  ${style.cyan(created.credential)}\n\n`)
        // The warning goes to stderr too, so it is seen even when stdout is captured.
        context.err(
          `${context.errStyle(command).yellow('This credential is shown only once.')} Store it in your secret manager now: ` +
            'it cannot be retrieved later (only its hash is kept). If it is lost, revoke the agent and create a new one.\n',
        )
      }
      await context.withKillSwitch(
        command,
        async (ks) =>
          show(
            await ks.agents.create({
              handle,
              spendingCap,
              ...(limits === undefined ? {} : { limits }),
              ...(options.budget === undefined ? {} : { budgets: options.budget }),
              ...(spendRules === undefined ? {} : { spendRules }),
            }),
          ),
        { createsStore: true },
      )
    })

  agents
    .command('list')
    .description('List agents with their spend against their cap')
    .option('--json', 'print JSON')
    .action(async (options: { json?: boolean }, command: Command) => {
      const [list, spec] = await context.withKillSwitch(
        command,
        async (ks, spec) => [await ks.agents.list(), spec] as const,
      )
      if (options.json) return context.out(json(list))
      if (list.length === 0) {
        // From the wrong folder the default store is another (empty) one: say which was read.
        return context.out(
          `No agents yet in ${storeRead(spec, context.storeOrigin(command))}. Create one: killswitch agents create <handle> --cap <usd>${context.storeFlag(command)}\n`,
        )
      }
      const style = context.style(command)
      // Windows and budgets get columns only when some agent has them: the table stays
      // as narrow as it was for a fleet with lifetime caps only.
      const windowed = list.some((agent) => agent.limits.length > 0 || agent.budgets.length > 0)
      const rows = list.map((agent) => [
        agent.handle,
        statusText(agent, style),
        `${formatUsd(agent.spent)}${agent.unreconciled > 0 ? UNRECONCILED_MARK : ''} / ${formatUsd(agent.spendingCap)}`,
        spendBar(agent.spent, agent.spendingCap, style, { revoked: agent.status === 'revoked' }),
        formatUsd(agent.available),
        ...(windowed ? [limitsCell(agent.limits), agent.budgets.join(',') || '-'] : []),
      ])
      context.out(
        formatTable(
          [
            'HANDLE',
            'STATUS',
            'SPENT / CAP',
            'SPEND',
            'AVAILABLE',
            ...(windowed ? ['WINDOWS', 'BUDGETS'] : []),
          ],
          rows,
          style,
        ),
      )
      if (list.some((agent) => agent.unreconciled > 0)) {
        context.out(
          `${UNRECONCILED_MARK} part of that spend is unreconciled (lapsed holds or outcomes unknown, charged whole): killswitch agents get <handle>${context.storeFlag(command)}\n`,
        )
      }
    })

  agents
    .command('get')
    .description("Show one agent's status, spend, holds and alerts")
    .argument('<handle>', "the agent's handle", handleArgument)
    .option('--json', 'print JSON')
    .action(async (handle: string, options: { json?: boolean }, command: Command) => {
      const agent = await context.withKillSwitch(command, (ks) => ks.agents.get(handle))
      context.out(
        options.json
          ? json(agent)
          : describeAgent(agent, context.style(command), context.storeFlag(command)),
      )
    })

  const update = agents
    .command('update')
    .description(
      "Change an agent's cap, windows, budgets or spend rules (next call, every process)",
    )
    .argument('<handle>', "the agent's handle", handleArgument)
    .option('--cap <usd>', 'the new lifetime cap in dollars')
    .option(
      '--limit <amount/window>',
      'replaces its windows, e.g. --limit 5/hour --limit 20/day (repeatable)',
      collect,
    )
    .option('--no-limits', 'removes every window')
    .option('--budget <id>', 'replaces the budgets it draws on (repeatable)', collect)
    .option('--no-budgets', 'draws on no shared budget')
  withSpendRuleOptions(update, 'replaces')
    .option('--json', 'print JSON')
    .action(async (handle: string, options: UpdateFlags & SpendRuleFlags, command: Command) => {
      const given = spendRulesInput(options)
      const input = agentUpdateInput(options, given !== undefined)
      const agent = await context.withKillSwitch(command, async (ks) => {
        // The core replaces the rules whole: a flag replaces its own rule, the other stays.
        const spendRules =
          given === undefined
            ? undefined
            : { ...(await ks.agents.get(handle)).spendRules, ...given }
        return ks.agents.update(handle, { ...input, ...(spendRules ? { spendRules } : {}) })
      })
      context.out(
        options.json
          ? json(agent)
          : describeAgent(agent, context.style(command), context.storeFlag(command)),
      )
    })

  return agents
}

/** Flags shared by `agents update` and `cap`. */
export interface UpdateFlags {
  cap?: string
  limit?: string[]
  /** false with --no-limits */
  limits?: boolean
  budget?: string[]
  /** false with --no-budgets */
  budgets?: boolean
  json?: boolean
}

/**
 * The update the flags ask for; refuses an empty one, naming the flags (unless `more`: the
 * caller adds something of its own).
 */
export function agentUpdateInput(options: UpdateFlags, more = false) {
  const limits =
    options.limit !== undefined
      ? parseLimits(options.limit, 'limit')
      : options.limits === false
        ? []
        : undefined
  const budgets =
    options.budget !== undefined ? options.budget : options.budgets === false ? [] : undefined
  const input = {
    ...(options.cap === undefined ? {} : { spendingCap: parseUsd(options.cap, 'cap') }),
    ...(limits === undefined ? {} : { limits }),
    ...(budgets === undefined ? {} : { budgets }),
  }
  if (Object.keys(input).length === 0 && !more) {
    throw new InvalidConfigError(
      'cap',
      'Nothing to change: give --cap <usd>, --limit <amount/window> (e.g. 5/hour), --budget <id>, --no-limits, --no-budgets, --allowed-payee <address> or --max-spend <usd>.',
    )
  }
  return input
}
