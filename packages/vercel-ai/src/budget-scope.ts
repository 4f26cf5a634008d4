// The budget scope of a call (its run, the run's budget, its parent run, the shared budgets
// it draws on), from the adapter's options and from the call's own metadata
// (`providerOptions.killswitch`). The one rule that merges them is the core's: this adapter only reads
// the metadata and translates.
export {
  BUDGET_SCOPE_KEY as SCOPE_KEY,
  type BudgetScope,
  mergeBudgetScope as scopeOf,
  pickBudgetScope as pick,
} from '@killswitch/core'
