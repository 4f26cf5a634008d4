// The typed errors of the ledger's edge, for what the scripts refuse: the same fields and the
// same words as core's ledger/ledger-input.ts, so a poisoned figure reads the same on every
// store. The scripts decide (they check before writing anything); this only phrases it.

import { InvalidConfigError } from '@killswitch/core'

/** The bounds of ledger-input.ts, which the Lua repeats (redis-lua-ledger.ts). */
export const MAX_MICROS = 1_000_000_000_000_000
export const MAX_TTL_MS = 7 * 24 * 3_600_000

/** The error for a field a script refused, quoting what the caller sent. */
export function invalidField(field: string, value: unknown): InvalidConfigError {
  const got = String(value)
  if (field === 'ttlMs') {
    return new InvalidConfigError(
      field,
      `Invalid ${field}: a hold lease is a whole number of milliseconds from 1 to ${MAX_TTL_MS} (got ${got}); nothing was written.`,
    )
  }
  if (
    field === 'holdId' ||
    field === 'id' ||
    /^(budgets\.\d+|run\.id|run\.parentId)$/.test(field)
  ) {
    return new InvalidConfigError(
      field,
      `Invalid ${field}: a non-empty string of at most 200 characters is required.`,
    )
  }
  if (field === 'now' || field === 'createdAt' || field === 'updatedAt') {
    return new InvalidConfigError(
      field,
      `Invalid ${field}: milliseconds since the epoch are required (got ${got}).`,
    )
  }
  return new InvalidConfigError(
    field,
    `Invalid ${field}: the ledger takes a whole number of micro-dollars from 0 to ${MAX_MICROS} (got ${got}); nothing was written.`,
  )
}

/** Checks a hold id as core does (UTF-16 length), before the script bounds it in bytes. */
export function checkHoldId(value: unknown): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > 200) {
    throw invalidField('holdId', value)
  }
  return value
}

/** A reserve that reuses the id of a hold that has ended. */
export function endedHold(holdId: string, state: string): InvalidConfigError {
  return new InvalidConfigError(
    'holdId',
    `Invalid holdId: hold "${holdId}" has ended (${state}); use a fresh id for a new hold.`,
  )
}

/** A budget named by an agent's patch that does not exist (ledger.ts's updateAgent). */
export function missingBudget(field: string, id: string): InvalidConfigError {
  return new InvalidConfigError(
    field,
    `Invalid ${field}: no budget has the id "${id}"; create it first (ks.budgets.create).`,
  )
}

/** createBudget with an id that is taken; updateBudget with one that is not. */
export function budgetIdError(id: string, kind: 'exists' | 'missing'): InvalidConfigError {
  return new InvalidConfigError(
    'id',
    kind === 'exists'
      ? `Invalid id: a budget "${id}" exists already; update it instead (ks.budgets.update).`
      : `Invalid id: no budget has the id "${id}" (ks.budgets.list shows them).`,
  )
}
