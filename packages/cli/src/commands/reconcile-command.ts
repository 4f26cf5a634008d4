// `killswitch reconcile`: the real cost of a hold that lapsed (its process died after the
// request may have left, so the whole hold was charged), delivered from the provider's bill
// or the payee's receipt after a restart. Core decides what it changes (agents.reconcile).

import { Command } from 'commander'
import type { CliContext } from '../cli-context.js'
import { formatUsd } from '../format.js'
import { handleArgument, parseUsd } from '../parse-input.js'
import { escapeControls } from '../terminal-style.js'
import { unreconciledNote } from './agents-command.js'
import { cliActor } from './approvals-command.js'

/** Builds `killswitch reconcile`. */
export function reconcileCommand(context: CliContext): Command {
  return new Command('reconcile')
    .description(
      "Deliver the real cost of a lapsed hold (from the provider's bill): it replaces the whole hold charged when it lapsed",
    )
    .argument('<handle>', "the agent's handle", handleArgument)
    .argument('<hold-id>', 'the hold, as its lapsed entry in `killswitch audit <handle>` names it')
    .argument('<usd>', 'what it really cost, in dollars (e.g. 0.10)')
    .option('--note <text>', 'where the figure comes from (goes in the audit log)')
    .option(
      '--above-hold',
      'accept a cost above the whole hold the lapse charged (refused without it: a likely typo)',
    )
    .action(
      async (
        handle: string,
        holdId: string,
        usd: string,
        options: { note?: string; aboveHold?: boolean },
        command: Command,
      ) => {
        const amountUsd = parseUsd(usd, 'usd')
        const by = cliActor(context.io.env)
        const { outcome, agent } = await context.withKillSwitch(command, (ks) =>
          ks.agents.reconcile(handle, { holdId, amountUsd, by, ...options }),
        )
        const style = context.style(command)
        const hold = escapeControls(holdId)
        context.out(
          outcome === 'duplicate'
            ? `Hold ${hold} of ${style.bold(agent.handle)} was settled before (by its call, or an earlier reconcile): its charge stands, nothing changed. Only a lapsed hold can be reconciled.\n`
            : `Reconciled hold ${hold} of ${style.bold(agent.handle)} at ${formatUsd(amountUsd)}: it spent ${formatUsd(agent.spent)} of ${formatUsd(agent.spendingCap)}${unreconciledNote(agent, context.storeFlag(command))}.\n`,
        )
      },
    )
}
