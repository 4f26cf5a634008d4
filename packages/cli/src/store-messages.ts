// Which store a command read, said in the messages where it matters: run from the wrong
// folder, the CLI opens that folder's (empty) default store, and "No agents yet" or "not
// found" must say which store was read, with a command that acts on the right one. No
// secret is ever printed: a redis URL's user and password are masked.

import { findKillSwitchError } from '@killswitch/core'
import { CliError, EXIT_CODES } from './exit-codes.js'
import { describeStoreSpec, type StoreSpec } from './store-spec.js'

/** Where the store came from: `--store`, KILLSWITCH_STORE, or the default file. */
export type StoreOrigin = 'flag' | 'env' | 'default'

/** A word the shell reads as one argument, quoted only when it must be. */
export function shellWord(text: string): string {
  return /^[\w@%+=:,./-]+$/.test(text) ? text : `'${text.replace(/'/g, `'\\''`)}'`
}

/**
 * The `--store` value that names `spec` again from any folder: a sqlite path made absolute,
 * a redis URL with its user and password masked as `***` (to be filled in, never shown),
 * quoted when the shell would read it otherwise.
 *
 * @example
 * storeFlagValue({ kind: 'redis', url: 'redis://:s3cret@cache:6379' }) // "'redis://***@cache:6379'"
 */
export function storeFlagValue(spec: StoreSpec): string {
  if (spec.kind === 'memory') return 'memory'
  if (spec.kind === 'sqlite') return shellWord(`sqlite:${spec.path}`)
  const url = new URL(spec.url)
  const masked = url.username !== '' || url.password !== '' ? '***@' : ''
  return shellWord(
    `${url.protocol}//${masked}${url.host}${url.pathname === '/' ? '' : url.pathname}`,
  )
}

/**
 * What to append to a command the CLI suggests, so that it acts on the store this one read:
 * ` --store <spec>` when `--store` chose it (KILLSWITCH_STORE is still set for the next
 * command; the default is the default again), else nothing.
 *
 * @example
 * `killswitch audit ${handle}${storeFlag(spec, 'flag')}` // killswitch audit a --store sqlite:/srv/ks.db
 */
export function storeFlag(spec: StoreSpec, origin: StoreOrigin): string {
  return origin === 'flag' ? ` --store ${storeFlagValue(spec)}` : ''
}

/**
 * The store a command read, for a message: its spec (password never shown), and for the
 * default file that it is this folder's.
 *
 * @example
 * storeRead({ kind: 'sqlite', path: '/srv/.killswitch/state.db' }, 'default')
 * // 'sqlite:/srv/.killswitch/state.db (the default, under the working directory)'
 */
export function storeRead(spec: StoreSpec, origin: StoreOrigin): string {
  return `${describeStoreSpec(spec)}${origin === 'default' ? ' (the default, under the working directory)' : ''}`
}

/**
 * The not-found errors of core name the library call that lists (`agents.list()`): the
 * CLI's name the store it read and the CLI command that lists, on the same store. Any other
 * error is returned unchanged.
 */
export function notFoundInStore(error: unknown, spec: StoreSpec, origin: StoreOrigin): unknown {
  const known = findKillSwitchError(error)
  if (known === undefined) return error
  const where = `in the store ${storeRead(spec, origin)}`
  const list = (what: string) => `List them: killswitch ${what} list${storeFlag(spec, origin)}`
  // The handle or id as core shows it (credentials redacted); core's own words without it.
  const { handle, id } = known as { handle?: string; id?: string }
  const missing = (what: string, name: string | undefined) =>
    name === undefined ? known.message.replace(/\.?$/, '') : `No ${what} "${name}"`
  switch (known.code) {
    case 'agent_not_found':
      return new CliError(
        `${missing('agent has the handle', handle)} ${where}. ${list('agents')}`,
        EXIT_CODES.notFound,
      )
    case 'budget_not_found':
      return new CliError(
        `${missing('budget has the id', id)} ${where}. ${list('budgets')}`,
        EXIT_CODES.notFound,
      )
    case 'approval_not_found':
      return new CliError(
        `${missing('approval request has the id', id)} ${where}. ${list('approvals')}`,
        EXIT_CODES.notFound,
      )
    default:
      return error
  }
}
