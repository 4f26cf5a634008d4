// What the CLI and the admin API need from a kill switch: the operator's operations, no
// guards. A Pick of the real type, so tests can hand in a kill switch that shares a store
// with the code under test.

import type { KillSwitch } from '@killswitch/core'

/** The operations the CLI and admin API call; `createKillSwitch()` returns one. */
export type AdminKillSwitch = Pick<KillSwitch, 'agents' | 'verify' | 'audit' | 'close'> & {
  readonly store?: KillSwitch['store']
}
