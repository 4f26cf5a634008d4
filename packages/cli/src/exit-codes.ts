// Exit codes are part of the CLI's interface: scripts and runbooks branch on them.

import type { KillSwitchErrorCode } from '@killswitch/core'

/**
 * The `killswitch` exit codes.
 *
 * | code | meaning |
 * | ---- | ------- |
 * | 0 | success |
 * | 1 | usage error or invalid input (unknown option, bad amount, bad URL...) |
 * | 2 | not found: no agent, budget or approval request has that handle or id |
 * | 3 | conflict: an agent with that handle exists already |
 * | 4 | refused by policy: the agent is revoked, over its cap, a runaway, a payment refused... |
 * | 5 | the store is unavailable (fail closed) |
 * | 6 | revoked and in force (every process refuses the credential), but not yet where every reader looks: no Redis replica confirmed it (a failover before one does could undo it), or the sqlite ledger's lock is held (processes of an earlier release read only the ledger) |
 * | 70 | an unexpected internal error (a bug: please report it) |
 *
 * @example
 * if (code === EXIT_CODES.notFound) console.error('no such agent')
 */
export const EXIT_CODES = Object.freeze({
  ok: 0,
  usage: 1,
  notFound: 2,
  conflict: 3,
  refused: 4,
  storeUnavailable: 5,
  unreplicated: 6,
  internal: 70,
})

/**
 * The exit code for a kill switch error code.
 *
 * @example
 * process.exitCode = exitCodeFor('agent_not_found') // 2
 */
export function exitCodeFor(code: KillSwitchErrorCode): number {
  switch (code) {
    case 'invalid_config':
    case 'unknown_model_price':
      return EXIT_CODES.usage
    case 'agent_not_found':
    case 'approval_not_found':
    case 'budget_not_found':
      return EXIT_CODES.notFound
    case 'agent_exists':
    case 'concurrent_update':
      return EXIT_CODES.conflict
    case 'store_unavailable':
      return EXIT_CODES.storeUnavailable
    case 'revocation_unreplicated':
      return EXIT_CODES.unreplicated
    default:
      // agent_revoked, spending_cap_exceeded, runaway_detected, payment_refused, and any
      // code a newer core adds: all are deliberate refusals, not bugs.
      return EXIT_CODES.refused
  }
}

/**
 * An error a command reports itself: its message is printed as `error: <message>` and the
 * process exits with `exitCode`.
 *
 * @example
 * throw new CliError('the environment variable KS_SECRET is not set', EXIT_CODES.usage)
 */
export class CliError extends Error {
  readonly exitCode: number

  constructor(message: string, exitCode: number) {
    super(message)
    this.name = 'CliError'
    this.exitCode = exitCode
  }
}

/**
 * The command printed its outcome itself (not an error: `revoke` when no replica confirmed
 * it); only its exit code is left to give.
 *
 * @example
 * throw new CliExit(EXIT_CODES.unreplicated)
 */
export class CliExit extends CliError {
  constructor(exitCode: number) {
    super('', exitCode)
    this.name = 'CliExit'
  }
}
