// `killswitch verify`: what a downstream service would learn about a credential, and the
// tightest remaining amount across every level it draws on (its cap, its windows, its
// budgets' windows), naming that level. The credential is read from an environment variable
// or stdin, never from an argument (arguments show in ps and shell history).
//
// It exits as a gate (`killswitch verify && start-agent`): 4 when a call with this credential
// would be refused (revoked, unknown, malformed, or nothing left at its tightest level), as
// core's `verifyRefusal` decides; 0 otherwise, an agent at its cap with approvals on
// included (its next call asks a person).

import {
  type AgentSnapshot,
  InvalidConfigError,
  type KillSwitchError,
  toMicros,
  toUsd,
  verifyRefusal,
} from '@killswitch/core'
import { Command } from 'commander'
import type { AdminKillSwitch } from '../admin-kill-switch.js'
import type { CliContext } from '../cli-context.js'
import { CliError, EXIT_CODES } from '../exit-codes.js'
import { formatUsd } from '../format.js'

/** One level's remaining amount. */
export interface LevelRemaining {
  level: string
  available: number
  resetsAt?: string
}

/** Every level the agent draws on with what it has left, tightest first. */
export async function remainingByLevel(
  ks: AdminKillSwitch,
  handle: string,
): Promise<LevelRemaining[]> {
  const agent = await ks.agents.get(handle)
  // `agent.available` is the tightest level's; the cap's own room is listed beside the others.
  const levels: LevelRemaining[] = [{ level: 'cap', available: capLeft(agent) }]
  for (const limit of agent.limits) {
    levels.push({
      level: `agent ${limit.per}`,
      available: limit.available,
      ...(limit.resetsAt ? { resetsAt: limit.resetsAt } : {}),
    })
  }
  for (const id of agent.budgets) {
    const budget = await ks.budgets.get(id)
    for (const limit of budget.limits) {
      levels.push({
        level: `budget ${id} ${limit.per}`,
        available: limit.available,
        ...(limit.resetsAt ? { resetsAt: limit.resetsAt } : {}),
      })
    }
  }
  return levels.sort((a, b) => a.available - b.available)
}

/** What the cap leaves, with the grants approved past it: never below 0. */
function capLeft(agent: AgentSnapshot): number {
  const spent = toMicros(agent.spent) + toMicros(agent.held)
  return toUsd(Math.max(0, toMicros(agent.spendingCap) + toMicros(agent.granted) - spent))
}

async function readStdin(stdin: NodeJS.ReadableStream): Promise<string> {
  let text = ''
  for await (const chunk of stdin) text += String(chunk)
  return text.trim()
}

/** Builds `killswitch verify`. */
export function verifyCommand(context: CliContext, stdin: NodeJS.ReadableStream = process.stdin) {
  return new Command('verify')
    .description(
      'Check a credential as a downstream service would, with the tightest remaining amount across its levels',
    )
    .option(
      '--credential-env <name>',
      'read the credential from this environment variable (default: KILLSWITCH_CREDENTIAL, else stdin)',
    )
    .option('--json', 'print JSON')
    .action(async (options: { credentialEnv?: string; json?: boolean }, command: Command) => {
      const name = options.credentialEnv ?? 'KILLSWITCH_CREDENTIAL'
      let credential = context.io.env[name]
      if (!credential) {
        if (options.credentialEnv !== undefined) {
          throw new CliError(
            `the environment variable ${name} (--credential-env) is not set or empty.`,
            EXIT_CODES.usage,
          )
        }
        credential = await readStdin(stdin)
      }
      if (!credential) {
        throw new InvalidConfigError(
          'credential',
          'No credential given: set KILLSWITCH_CREDENTIAL, pass --credential-env <name>, or pipe it on stdin.',
        )
      }
      const given = credential
      const result = await context.withKillSwitch(command, async (ks) => {
        const verified = await ks.verify(given)
        if (!verified.active || verified.handle === undefined) return { verified }
        return { verified, levels: await remainingByLevel(ks, verified.handle) }
      })
      // The one decision, core's: what a guarded call or a service's edge would refuse.
      const refusal = verifyRefusal(result.verified)
      const verified = result.verified
      if (options.json) {
        context.out(`${JSON.stringify({ ...verified, levels: result.levels ?? [] }, null, 2)}\n`)
      } else {
        const style = context.style(command)
        if (!verified.active) {
          context.out(`${style.red('inactive')}: revoked, unknown or malformed credential.\n`)
        } else {
          const tightest = result.levels?.[0]
          const word = refusal ? style.red('refused') : style.green('active')
          context.out(
            `${word}: ${style.bold(verified.handle ?? '')} may spend ${formatUsd(verified.available ?? 0)} more` +
              (tightest && (result.levels?.length ?? 0) > 1
                ? ` (tightest: ${tightest.level}${tightest.resetsAt ? `, resets ${tightest.resetsAt}` : ''})`
                : '') +
              '.\n',
          )
          for (const level of result.levels ?? []) {
            context.out(`  ${style.dim(level.level.padEnd(24))}  ${formatUsd(level.available)}\n`)
          }
          if (!refusal && verified.approvals && (verified.available ?? 0) <= 0) {
            context.out(
              `Past its cap its next call asks a person (approvals on): killswitch approvals list${context.storeFlag(command)}\n`,
            )
          }
        }
      }
      if (refusal) {
        throw new CliError(
          `refused: ${refusal.message}${cliFix(refusal, verified.handle, context.storeFlag(command))}`,
          EXIT_CODES.refused,
        )
      }
    })
}

/** The CLI command that lifts a refusal core describes with its library call, when one does. */
function cliFix(refusal: KillSwitchError, handle: string | undefined, storeFlag: string): string {
  if (refusal.code !== 'spending_cap_exceeded' || handle === undefined) return ''
  const { level, per, budgetId } = refusal as KillSwitchError & {
    level?: string
    per?: string
    budgetId?: string
  }
  const command =
    level === 'budget'
      ? budgetId?.startsWith('run:')
        ? undefined
        : `killswitch budgets update ${budgetId} --limit <amount/window>`
      : per === undefined
        ? `killswitch cap ${handle} <usd>`
        : `killswitch agents update ${handle} --limit <amount/window>`
  return command === undefined ? '' : ` (CLI: ${command}${storeFlag})`
}
