// The budgets API: shared budgets (a team, an org, an end customer) that agents draw on.
// Every budget an agent names is held in the same atomic reserve as its own cap.

import { z } from 'zod'
import { type Limit, type LimitUsage, limitsWithUsage, toLimitRecords } from './budget-limits.js'
import { handleSchema, limitsSchema, parseInput, timeZoneSchema } from './config.js'
import { type Engine, storeCall } from './engine.js'
import { BudgetNotFoundError } from './errors.js'
import type { BudgetRecord } from './store.js'

/** A budget as `budgets.get` and `budgets.list` show it. Amounts in dollars. */
export interface BudgetSnapshot {
  id: string
  limits: LimitUsage[]
  /** IANA zone of its calendar windows (UTC when absent). */
  timeZone?: string
  /** The agents that draw on it. */
  agents: string[]
  createdAt: string
  updatedAt: string
}

/** Input of `budgets.create`. */
export interface CreateBudgetInput {
  /** Unique, 1-64 of letters, digits, `.`, `_`, `-`. */
  id: string
  limits: Limit[]
  timeZone?: string
}

/** `ks.budgets`. */
export interface BudgetsApi {
  create(input: CreateBudgetInput): Promise<BudgetSnapshot>
  get(id: string): Promise<BudgetSnapshot>
  update(id: string, input: { limits?: Limit[]; timeZone?: string }): Promise<BudgetSnapshot>
  list(): Promise<BudgetSnapshot[]>
}

const budgetIdSchema = handleSchema
const createSchema = z
  .object({ id: budgetIdSchema, limits: limitsSchema, timeZone: timeZoneSchema.optional() })
  .strict()
const updateSchema = z
  .object({ limits: limitsSchema.optional(), timeZone: timeZoneSchema.optional() })
  .strict()

/** Builds the budgets API over an engine. */
export function createBudgetsApi(engine: Engine): BudgetsApi {
  const store = engine.store
  const call = <T>(operation: () => Promise<T>) => storeCall(store, operation)

  const snapshot = async (records: BudgetRecord[]): Promise<BudgetSnapshot[]> => {
    const now = engine.now()
    const [usage, agents] = await Promise.all([
      call(() =>
        limitsWithUsage(
          store,
          records.map((record) => ({
            scope: 'budget' as const,
            id: record.id,
            limits: record.limits,
            timeZone: record.timeZone,
          })),
          now,
        ),
      ),
      call(() => store.listAgents(now)),
    ])
    return records.map((record, i) => ({
      id: record.id,
      limits: usage[i] ?? [],
      ...(record.timeZone === undefined ? {} : { timeZone: record.timeZone }),
      agents: agents
        .filter((agent) => agent.budgets.includes(record.id))
        .map((agent) => agent.handle),
      createdAt: new Date(record.createdAt).toISOString(),
      updatedAt: new Date(record.updatedAt).toISOString(),
    }))
  }

  const load = async (id: string) => {
    const checked = parseInput(budgetIdSchema, id, 'budgets', 'id')
    const record = await call(() => store.getBudget(checked))
    if (!record) throw new BudgetNotFoundError(checked)
    return record
  }

  return {
    async create(input) {
      const parsed = parseInput(createSchema, input, 'budgets.create')
      const now = engine.now()
      const record = await call(() =>
        store.createBudget({
          id: parsed.id,
          limits: toLimitRecords(parsed.limits),
          ...(parsed.timeZone === undefined ? {} : { timeZone: parsed.timeZone }),
          createdAt: now,
          updatedAt: now,
        }),
      )
      return (await snapshot([record]))[0] as BudgetSnapshot
    },

    async get(id) {
      return (await snapshot([await load(id)]))[0] as BudgetSnapshot
    },

    async update(id, input) {
      const current = await load(id)
      const parsed = parseInput(updateSchema, input, 'budgets.update')
      const record = await call(() =>
        store.updateBudget(
          current.id,
          {
            ...(parsed.limits === undefined ? {} : { limits: toLimitRecords(parsed.limits) }),
            ...(parsed.timeZone === undefined ? {} : { timeZone: parsed.timeZone }),
          },
          engine.now(),
        ),
      )
      return (await snapshot([record]))[0] as BudgetSnapshot
    },

    async list() {
      const records = await call(() => store.listBudgets())
      // Run budgets are internal bookkeeping of guarded runs: list the shared ones.
      return snapshot(records.filter((record) => !record.id.startsWith('run:')))
    },
  }
}
