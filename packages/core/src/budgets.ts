// The budgets API: shared budgets (a team, an org, an end customer) that agents draw on.
// Every budget an agent names is held in the same atomic reserve as its own cap.

import { z } from 'zod'
import {
  type Limit,
  type LimitUsage,
  limitsWithUsage,
  refuseUncountedWindows,
  toLimitRecords,
} from './budget-limits.js'
import { handleSchema, limitsSchema, parseInput, timeZoneSchema } from './config.js'
import { type Engine, storeCall } from './engine.js'
import { BudgetNotFoundError, InvalidConfigError } from './errors.js'
import { windowStart } from './ledger/windows.js'
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
// A budget exists to limit: one with no limit would admit everything charged to it.
const budgetLimitsSchema = limitsSchema.min(
  1,
  'at least one limit, e.g. [{ amount: 100, per: "day" }] (a budget with none admits everything charged to it)',
)
const createSchema = z
  .object({ id: budgetIdSchema, limits: budgetLimitsSchema, timeZone: timeZoneSchema.optional() })
  .strict()
const updateSchema = z
  .object({ limits: budgetLimitsSchema.optional(), timeZone: timeZoneSchema.optional() })
  .strict()
  .refine((input) => input.limits !== undefined || input.timeZone !== undefined, {
    message: 'Nothing to change: give limits or timeZone',
    path: ['limits'],
  })

/** Builds the budgets API over an engine. */
export function createBudgetsApi(engine: Engine): BudgetsApi {
  const store = engine.store
  const call = <T>(operation: () => Promise<T>) => storeCall(store, operation)

  const snapshot = async (records: BudgetRecord[]): Promise<BudgetSnapshot[]> => {
    const now = engine.now()
    // Agents first: listing them sweeps their lapsed holds into spent, which the usage then
    // shows (read together, a crash's lapsed holds would show as still held).
    const agents = await call(() => store.listAgents(now))
    const usage = await call(() =>
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
    )
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
      refuseZoneChange(current, parsed.timeZone, engine.now())
      if (parsed.limits !== undefined) {
        const next = toLimitRecords(parsed.limits)
        await call(() => refuseUncountedWindows(store, current, next, engine.now()))
      }
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

/**
 * A budget's windows are keyed by where they start: a zone that moves where the current
 * day, week or month starts would start them afresh and admit their limits again (three
 * zone changes spent $0.96 of a $0.20 day). Refused, not carried over: a budget under such
 * a zone is a new budget, made as one. A zone whose windows start where the current ones do
 * (Europe/Paris to Europe/Berlin, or any zone for lifetime limits) changes nothing now.
 */
function refuseZoneChange(current: BudgetRecord, timeZone: string | undefined, now: number) {
  if (timeZone === undefined) return
  const moved = current.limits.find(
    ({ per }) => windowStart(per, now, current.timeZone) !== windowStart(per, now, timeZone),
  )
  if (moved === undefined) return
  throw new InvalidConfigError(
    'timeZone',
    `Invalid timeZone: budget "${current.id}" counts its windows in ${current.timeZone ?? 'UTC'}; in ${timeZone} its current ${moved.per} would start afresh and admit its limit again. ` +
      `Fix: create a budget in that zone (budgets.create({ id, limits, timeZone: ${JSON.stringify(timeZone)} })) and move the agents to it (agents.update), or keep the zone.`,
  )
}
