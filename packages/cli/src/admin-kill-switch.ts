// What the CLI and the admin API need from a kill switch: the operator's operations, no
// guards. A Pick of the real type, so tests can hand in a kill switch that shares a store
// with the code under test.

import type { KillSwitch } from '@killswitch/core'

/** The operations the CLI and admin API call; `createKillSwitch()` returns one. */
export type AdminKillSwitch = Pick<
  KillSwitch,
  'agents' | 'budgets' | 'approvals' | 'verify' | 'audit' | 'close'
> & {
  readonly store?: KillSwitch['store']
}

/** A budget as `ks.budgets` shows it. */
export type BudgetView = Awaited<ReturnType<KillSwitch['budgets']['get']>>
/** A window's live figures, as agents and budgets show them. */
export type LimitView = BudgetView['limits'][number]
/** An approval request as `ks.approvals` shows it. */
export type ApprovalView = Awaited<ReturnType<KillSwitch['approvals']['get']>>
