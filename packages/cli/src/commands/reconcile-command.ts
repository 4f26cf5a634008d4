// `killswitch reconcile`: the real cost of a hold charged as unreconciled spend, delivered from
// the provider's bill or the payee's receipt. Charged so when its process died after the
// request may have left (it lapsed: the whole hold), or when its call ended with nothing known
// of what it used (a model call with no usage, or stopped before its usage came; a payment of
// unknown outcome: its bound). Core decides what it changes (agents.reconcile).

import { findKillSwitchError } from '@killswitch/core'
import { Command } from 'commander'
import type { CliContext } from '../cli-context.js'
import { CliError, EXIT_CODES } from '../exit-codes.js'
import { formatUsd } from '../format.js'
import { handleArgument, parseUsd } from '../parse-input.js'
import { escapeControls } from '../terminal-style.js'
import { unreconciledNote } from './agents-command.js'
import { cliActor } from './approvals-command.js'

// Core's above-hold refusal names the library's field and option; a CLI user has <usd> and
// the flag (red team rt32: told to "pass { aboveHold: true }" first).
const LIBRARY_OPTION = /\{ aboveHold: true \}(?: \(killswitch reconcile --above-hold\))?/
const cliWords = (message: string) =>
  message.replace(/^Invalid amountUsd:/, 'Invalid usd:').replace(LIBRARY_OPTION, '--above-hold')

/** Builds `killswitch reconcile`. */
export function reconcileCommand(context: CliContext): Command {
  return new Command('reconcile')
    .description(
      "Deliver the real cost of a hold charged as unreconciled (from the provider's bill): a hold that lapsed, or a call charged its bound with nothing known of what it used. It replaces that charge, once",
    )
    .argument('<handle>', "the agent's handle", handleArgument)
    .argument(
      '<hold-id>',
      'the hold, as `killswitch audit <handle> --unreconciled` lists it (a lapsed entry, or a settled one marked unreconciled)',
    )
    .argument('<usd>', 'what it really cost, in dollars (e.g. 0.10)')
    .option('--note <text>', 'where the figure comes from (goes in the audit log)')
    .option(
      '--above-hold',
      'accept a cost above what the hold was charged (its bound; refused without it: a likely typo)',
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
        const { outcome, agent } = await context
          .withKillSwitch(command, (ks) =>
            ks.agents.reconcile(handle, { holdId, amountUsd, by, ...options }),
          )
          .catch((error: unknown) => {
            const known = findKillSwitchError(error)
            if (known?.code === 'invalid_config' && LIBRARY_OPTION.test(known.message))
              throw new CliError(cliWords(known.message), EXIT_CODES.usage)
            throw error
          })
        const style = context.style(command)
        const hold = escapeControls(holdId)
        context.out(
          outcome === 'duplicate'
            ? `Hold ${hold} of ${style.bold(agent.handle)} was settled before (by its call, or an earlier reconcile): its charge stands, nothing changed. Only a hold charged as unreconciled (lapsed, or charged its bound) can be reconciled, once.\n`
            : `Reconciled hold ${hold} of ${style.bold(agent.handle)} at ${formatUsd(amountUsd)}: it spent ${formatUsd(agent.spent)} of ${formatUsd(agent.spendingCap)}${unreconciledNote(agent, context.storeFlag(command))}.\n`,
        )
      },
    )
}
