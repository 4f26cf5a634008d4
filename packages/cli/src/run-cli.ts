// The whole CLI as one function: argv in, exit code out, output to the given streams. The
// binary is a thin shell around it, so tests run every command in-process as well as end to
// end in a real process.

import { createRequire } from 'node:module'
import { findKillSwitchError } from '@killswitch/core'
import { Command, CommanderError } from 'commander'
import { type CliIo, createCliContext } from './cli-context.js'
import { agentsCommand } from './commands/agents-command.js'
import { approvalsCommand } from './commands/approvals-command.js'
import { auditCommand } from './commands/audit-command.js'
import { budgetsCommand } from './commands/budgets-command.js'
import { gatewayCommand } from './commands/gateway-command.js'
import { alertCommand, capCommand, revokeCommand } from './commands/manage-commands.js'
import { reconcileCommand } from './commands/reconcile-command.js'
import { serveCommand } from './commands/serve-command.js'
import { verifyCommand } from './commands/verify-command.js'
import { CliError, CliExit, EXIT_CODES, exitCodeFor } from './exit-codes.js'
import { shouldUseColour } from './terminal-style.js'

const { version } = createRequire(import.meta.url)('../package.json') as { version: string }

const EXIT_CODE_HELP = `
Store:
  --store or KILLSWITCH_STORE: sqlite:PATH | redis://host:6379 | memory
  default: sqlite:.killswitch/state.db under the working directory

Webhooks:
  alerts to loopback, private, link-local and metadata addresses are refused unless
  allowed: --allow-private-webhooks, --allow-webhook-host <host>, or
  KILLSWITCH_ALLOW_PRIVATE_WEBHOOKS=1 (or a comma-separated list of hosts)

Exit codes:
  0 ok   1 usage or invalid input   2 agent not found   3 agent exists
  4 refused (revoked, over cap, runaway)   5 store unavailable
  6 revoked, in force, but no replica of the store confirmed it   70 internal error
`

/**
 * Runs the `killswitch` CLI and resolves with the exit code. Never calls process.exit.
 *
 * @example
 * const code = await runCli(['agents', 'list'], { stdout: process.stdout, stderr: process.stderr })
 * process.exitCode = code
 */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const context = createCliContext(io)
  const errStyle = context.makeStyle(
    !argv.includes('--no-color') && shouldUseColour(context.io.stderr, context.io.env),
  )

  // Settings are copied to subcommands when they are added, so they come first.
  const program = new Command('killswitch')
    .description(
      'A kill switch for AI agents: per-agent credentials, hard spending caps, instant revocation.',
    )
    .version(version, '-v, --version')
    .option(
      '--store <spec>',
      'sqlite:PATH | redis://... | memory (default: $KILLSWITCH_STORE or sqlite:.killswitch/state.db)',
    )
    .option('--no-color', 'plain output (also: NO_COLOR=1)')
    .option(
      '--allow-private-webhooks',
      'allow alert webhooks to loopback, private and link-local addresses (also: KILLSWITCH_ALLOW_PRIVATE_WEBHOOKS=1)',
    )
    .option(
      '--allow-webhook-host <host>',
      'allow alert webhooks to this host whatever it resolves to (repeatable)',
      (host: string, previous: string[] = []) => [...previous, host],
    )
    .exitOverride()
    .configureOutput({
      writeOut: (text) => context.out(text),
      writeErr: (text) => context.err(text),
      outputError: (text, write) => write(errStyle.red(text)),
      getOutHasColors: () => false,
      getErrHasColors: () => false,
    })
    .showHelpAfterError('(add --help for usage)')
    .addHelpText('after', EXIT_CODE_HELP)

  program.addCommand(agentsCommand(context))
  program.addCommand(budgetsCommand(context))
  program.addCommand(capCommand(context))
  program.addCommand(approvalsCommand(context))
  program.addCommand(alertCommand(context))
  program.addCommand(revokeCommand(context))
  program.addCommand(reconcileCommand(context))
  program.addCommand(auditCommand(context))
  program.addCommand(verifyCommand(context, io.stdin))
  program.addCommand(serveCommand(context))
  program.addCommand(gatewayCommand(context))
  // addCommand does not copy settings: apply them to the whole tree.
  const configure = (command: Command) => {
    command
      .exitOverride()
      .configureOutput(program.configureOutput())
      .showHelpAfterError('(add --help for usage)')
    for (const sub of command.commands) configure(sub)
  }
  for (const sub of program.commands) configure(sub)

  try {
    await program.parseAsync([...argv], { from: 'user' })
    return EXIT_CODES.ok
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and version "fail" with exit code 0; real usage errors are already printed.
      return error.exitCode === 0 ? EXIT_CODES.ok : EXIT_CODES.usage
    }
    if (error instanceof CliError) {
      if (!(error instanceof CliExit)) context.err(`${errStyle.red('error:')} ${error.message}\n`)
      return error.exitCode
    }
    const known = findKillSwitchError(error)
    if (known) {
      context.err(`${errStyle.red('error:')} ${known.message}\n`)
      return exitCodeFor(known.code)
    }
    const message = error instanceof Error ? (error.stack ?? error.message) : String(error)
    context.err(
      `${errStyle.red('internal error:')} ${message}\nThis is a bug in killswitch: please report it.\n`,
    )
    return EXIT_CODES.internal
  }
}
