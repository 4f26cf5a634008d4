// `killswitch agents create | list | get`: provisioning and inspection.

import { type AgentSnapshot, maskWebhookUrl } from '@killswitch/core'
import { Command } from 'commander'
import type { CliContext } from '../cli-context.js'
import { formatTable, formatUsd, spendBar } from '../format.js'
import { parseUsd } from '../parse-input.js'
import type { TerminalStyle } from '../terminal-style.js'

const json = (value: unknown) => `${JSON.stringify(value, null, 2)}\n`

function statusText(agent: AgentSnapshot, style: TerminalStyle): string {
  return agent.status === 'revoked' ? style.red('revoked') : style.green('active')
}

/** The agent in a few lines, for people. */
export function describeAgent(agent: AgentSnapshot, style: TerminalStyle): string {
  const revoked = agent.status === 'revoked'
  const rows: Array<[string, string]> = [
    [
      'spent',
      `${formatUsd(agent.spent)} of ${formatUsd(agent.spendingCap)}  ${spendBar(agent.spent, agent.spendingCap, style, { revoked })}`,
    ],
    ['held', `${formatUsd(agent.held)} (reserved by calls in flight)`],
    ['available', formatUsd(agent.available)],
    ['created', agent.createdAt],
  ]
  if (agent.revokedAt)
    rows.push([
      'revoked',
      `${agent.revokedAt}${agent.revokedReason ? ` (${agent.revokedReason})` : ''}`,
    ])
  for (const rule of agent.alerts) {
    rows.push([
      'alert',
      `at ${Math.round(rule.thresholdPct * 1000) / 10}% of the cap -> ${maskWebhookUrl(rule.webhookUrl)}${rule.signed ? ' (signed)' : style.yellow(' (unsigned: set it again to sign it)')}`,
    ])
  }
  if (agent.alerts.length === 0)
    rows.push(['alerts', style.dim('none (killswitch alert <handle> --at 0.8 --webhook URL)')])
  const width = Math.max(...rows.map(([label]) => label.length))
  return [
    `${style.bold(agent.handle)}  ${statusText(agent, style)}\n`,
    ...rows.map(([label, value]) => `  ${style.dim(label.padEnd(width))}  ${value}\n`),
  ].join('')
}

/** Builds `killswitch agents`. */
export function agentsCommand(context: CliContext): Command {
  const agents = new Command('agents').description('Create, list and inspect agents')

  agents
    .command('create')
    .description('Create an agent with its own credential and a hard spending cap')
    .argument('<handle>', 'unique name: letters, digits, ".", "_", "-" (e.g. researcher-agent-7)')
    .requiredOption('--cap <usd>', 'spending cap in dollars (e.g. 50); 0 denies everything')
    .option('--json', 'print the agent and its credential as JSON')
    .action(async (handle: string, options: { cap: string; json?: boolean }, command: Command) => {
      const spendingCap = parseUsd(options.cap, 'cap')
      const created = await context.withKillSwitch(command, (ks) =>
        ks.agents.create({ handle, spendingCap }),
      )
      // The credential is what this command exists to show (once): written unredacted.
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
    })

  agents
    .command('list')
    .description('List agents with their spend against their cap')
    .option('--json', 'print JSON')
    .action(async (options: { json?: boolean }, command: Command) => {
      const list = await context.withKillSwitch(command, (ks) => ks.agents.list())
      if (options.json) return context.out(json(list))
      if (list.length === 0) {
        return context.out(
          'No agents yet. Create one: killswitch agents create <handle> --cap <usd>\n',
        )
      }
      const style = context.style(command)
      const rows = list.map((agent) => [
        agent.handle,
        statusText(agent, style),
        `${formatUsd(agent.spent)} / ${formatUsd(agent.spendingCap)}`,
        spendBar(agent.spent, agent.spendingCap, style, { revoked: agent.status === 'revoked' }),
        formatUsd(agent.available),
      ])
      context.out(
        formatTable(['HANDLE', 'STATUS', 'SPENT / CAP', 'SPEND', 'AVAILABLE'], rows, style),
      )
    })

  agents
    .command('get')
    .description("Show one agent's status, spend, holds and alerts")
    .argument('<handle>', "the agent's handle")
    .option('--json', 'print JSON')
    .action(async (handle: string, options: { json?: boolean }, command: Command) => {
      const agent = await context.withKillSwitch(command, (ks) => ks.agents.get(handle))
      context.out(options.json ? json(agent) : describeAgent(agent, context.style(command)))
    })

  return agents
}
