// Shared budgets in the ledger: created once (never overwritten) and changed in place; the
// usage of their windows is kept by the transitions of ledger.ts.
import { InvalidConfigError } from '../errors.js'
import type { BudgetRecord, LimitRecord } from '../store.js'
import { checkId, checkMicros, checkTime } from './ledger-input.js'
import type { LedgerStorage } from './ledger-storage.js'

/** Creates a shared budget; an id that is taken is refused (budgets are never overwritten). */
export function createBudget(storage: LedgerStorage, record: BudgetRecord): BudgetRecord {
  checkId('id', record.id)
  for (const [i, limit] of record.limits.entries())
    checkMicros(`limits.${i}.amountMicros`, limit.amountMicros)
  if (storage.budget(record.id)) {
    throw new InvalidConfigError(
      'id',
      `Invalid id: a budget "${record.id}" exists already; update it instead (ks.budgets.update).`,
    )
  }
  storage.saveBudget(record)
  return record
}

/** Changes a budget's limits or time zone; its windows' usage is kept. */
export function updateBudget(
  storage: LedgerStorage,
  id: string,
  patch: { limits?: LimitRecord[]; timeZone?: string },
  now: number,
): BudgetRecord {
  const current = storage.budget(id)
  if (!current)
    throw new InvalidConfigError(
      'id',
      `Invalid id: no budget has the id "${id}" (ks.budgets.list shows them).`,
    )
  for (const [i, limit] of (patch.limits ?? []).entries())
    checkMicros(`limits.${i}.amountMicros`, limit.amountMicros)
  const updated: BudgetRecord = {
    ...current,
    limits: patch.limits ?? current.limits,
    ...(patch.timeZone === undefined ? {} : { timeZone: patch.timeZone }),
    updatedAt: checkTime('now', now),
  }
  storage.saveBudget(updated)
  return updated
}
