// `killswitch budgets create | list | get | update`: shared budgets (a team, an org, an end
// customer) that agents draw on, with windows that reset on the store's clock.

import { InvalidConfigError } from '@killswitch/core'
import { Command } from 'commander'
import type { BudgetView } from '../admin-kill-switch.js'
import type { CliContext } from '../cli-context.js'
import { formatTable } from '../format.js'
import { describeLimit, limitsCell } from '../limit-format.js'
import { collect, parseLimits } from '../parse-input.js'
import { storeRead } from '../store-messages.js'
import type { TerminalStyle } from '../terminal-style.js'

const json = (value: unknown) => `${JSON.stringify(value, null, 2)}\n`

/**
 * A budget in a few lines, for people. `storeFlag` (` --store <spec>` or '') goes on the
 * command it suggests, so that it acts on the same store.
 */
export function describeBudget(budget: BudgetView, style: TerminalStyle, storeFlag = ''): string {
  const lines = [`${style.bold(budget.id)}${budget.timeZone ? `  (${budget.timeZone})` : ''}\n`]
  for (const limit of budget.limits)
    lines.push(`  ${style.dim('window')}  ${describeLimit(limit, style)}\n`)
  lines.push(
    `  ${style.dim('agents')}  ${budget.agents.join(', ') || style.dim(`none (killswitch agents update <handle> --budget ${budget.id}${storeFlag})`)}\n`,
  )
  return lines.join('')
}

const LIMIT_HELP = 'a window, e.g. 100/day or 2000/month (repeatable; at least one)'

/** Builds `killswitch budgets`. */
export function budgetsCommand(context: CliContext): Command {
  const budgets = new Command('budgets').description(
    'Shared budgets (a team, an org, an end customer) that agents draw on',
  )

  budgets
    .command('create')
    .description('Create a shared budget with one or more windows')
    .argument('<id>', 'unique id: letters, digits, ".", "_", "-" (e.g. team-research)')
    .requiredOption('--limit <amount/window>', LIMIT_HELP, collect)
    .option(
      '--time-zone <zone>',
      'IANA zone of its calendar windows (default UTC), e.g. Europe/Paris',
    )
    .option('--json', 'print JSON')
    .action(
      async (
        id: string,
        options: { limit: string[]; timeZone?: string; json?: boolean },
        command: Command,
      ) => {
        const limits = parseLimits(options.limit, 'limit')
        const budget = await context.withKillSwitch(
          command,
          (ks) =>
            ks.budgets.create({
              id,
              limits,
              ...(options.timeZone === undefined ? {} : { timeZone: options.timeZone }),
            }),
          { createsStore: true },
        )
        if (options.json) return context.out(json(budget))
        context.out(
          `Created budget ${describeBudget(budget, context.style(command), context.storeFlag(command))}`,
        )
      },
    )

  budgets
    .command('list')
    .description('List shared budgets with each window against its limit')
    .option('--json', 'print JSON')
    .action(async (options: { json?: boolean }, command: Command) => {
      const [list, spec] = await context.withKillSwitch(
        command,
        async (ks, spec) => [await ks.budgets.list(), spec] as const,
      )
      if (options.json) return context.out(json(list))
      if (list.length === 0) {
        return context.out(
          `No budgets yet in ${storeRead(spec, context.storeOrigin(command))}. Create one: killswitch budgets create <id> --limit 100/day${context.storeFlag(command)}\n`,
        )
      }
      const style = context.style(command)
      const rows = list.map((budget) => [
        budget.id,
        limitsCell(budget.limits),
        budget.agents.join(',') || '-',
      ])
      context.out(formatTable(['ID', 'WINDOWS (SPENT/LIMIT)', 'AGENTS'], rows, style))
    })

  budgets
    .command('get')
    .description("Show one budget's windows (spent, held, available, reset time) and agents")
    .argument('<id>', "the budget's id")
    .option('--json', 'print JSON')
    .action(async (id: string, options: { json?: boolean }, command: Command) => {
      const budget = await context.withKillSwitch(command, (ks) => ks.budgets.get(id))
      context.out(
        options.json
          ? json(budget)
          : describeBudget(budget, context.style(command), context.storeFlag(command)),
      )
    })

  budgets
    .command('update')
    .description("Replace a budget's windows or time zone (next call, every process)")
    .argument('<id>', "the budget's id")
    .option('--limit <amount/window>', LIMIT_HELP, collect)
    .option('--time-zone <zone>', 'IANA zone of its calendar windows')
    .option('--json', 'print JSON')
    .action(
      async (
        id: string,
        options: { limit?: string[]; timeZone?: string; json?: boolean },
        command: Command,
      ) => {
        const input = {
          ...(options.limit === undefined ? {} : { limits: parseLimits(options.limit, 'limit') }),
          ...(options.timeZone === undefined ? {} : { timeZone: options.timeZone }),
        }
        if (Object.keys(input).length === 0) {
          throw new InvalidConfigError(
            'limit',
            'Nothing to change: give --limit <amount/window> (e.g. 150/day) or --time-zone <zone>.',
          )
        }
        const budget = await context.withKillSwitch(command, (ks) => ks.budgets.update(id, input))
        if (options.json) return context.out(json(budget))
        context.out(
          `Updated budget ${describeBudget(budget, context.style(command), context.storeFlag(command))}`,
        )
      },
    )

  return budgets
}
