// The client's half of Redis Cluster mode (scripts and protocol: redis-scripts-cluster.ts):
// a reservation held slot by slot, undone when a budget refuses, and the outbox of an agent's
// slot applied to its budgets' slots.

import type { ReserveRequest } from '@killswitch/core'
import type { RedisKeys } from './redis-keys.js'
import type { ScriptCall } from './redis-script-calls.js'

/** collectLevels()'s bound on a chain of parents (MAX_RUN_DEPTH of redis-lua-levels.ts). */
const MAX_DEPTH = 64

export interface ClusterLedgerContext {
  keys: RedisKeys
  /** One script on one slot (no outbox handling). */
  send(operation: string, call: ScriptCall): Promise<unknown>
  /** The ledger header (clock, now, retention, max audit). */
  header(now: number): (string | number)[]
  /** Each known time zone's windows as the scripts read them; `refresh` after a 'zones' reply. */
  zones(): string
  refresh(zones: string[], storeNow: number): void
}

interface OutboxEntry {
  v: string
  held: string
  charged: string
  levels: string[]
}

/** The budget id of a window key `budget:<id>/<per>@<start>` (ids may hold '/'). */
export const budgetIdOf = (windowKey: string) =>
  windowKey.slice('budget:'.length, windowKey.lastIndexOf('/'))

/** The handle in an agent key (`...agent:<handle>`; handles hold no ':'). */
export const handleOf = (agentKey: string) =>
  agentKey.slice(agentKey.lastIndexOf('agent:') + 'agent:'.length)

/**
 * Applies an agent's outbox (HGETALL pairs: hold id, entry) to every budget slot it names,
 * then clears what was applied. Idempotent: each slot applies a version once.
 */
export async function applyOutbox(
  context: ClusterLedgerContext,
  handle: string,
  flat: string[] | undefined,
  now: number,
): Promise<void> {
  if (!flat || flat.length === 0) return
  const acks: string[] = []
  const syncs: Promise<unknown>[] = []
  for (let i = 0; i < flat.length; i += 2) {
    const id = flat[i] as string
    const entry = JSON.parse(flat[i + 1] as string) as OutboxEntry
    for (const budgetId of new Set(entry.levels.map(budgetIdOf))) {
      const slot = context.keys.budget(budgetId)
      syncs.push(
        context.send('apply a hold to its budget', {
          name: 'killswitchCBudgetSyncV1',
          keys: [slot.holds, slot.prune, slot.expiry],
          args: [...context.header(now), slot.slot, id, entry.v, entry.held, entry.charged],
        }),
      )
    }
    acks.push(id, entry.v)
  }
  await Promise.all(syncs)
  await context.send('clear the outbox', {
    name: 'killswitchCAckV1',
    keys: [context.keys.outbox(handle)],
    args: acks,
  })
}

/** A budget step failed (Redis unreachable): the windows held before it, to give back. */
export class PartialHoldError extends Error {
  readonly held: string[]
  constructor(held: string[], cause: unknown) {
    super(cause instanceof Error ? cause.message : String(cause), { cause })
    this.held = held
  }
}

export type BudgetRefusal = { refusal: string[]; available: number }

/**
 * Step 2 of a cluster reserve: each budget in collectLevels() order (a budget, then its
 * parents), held on its slot. Stops at the first refusal. Returns the window keys held, the
 * smallest room seen, and the refusal if any.
 */
export async function holdBudgets(
  context: ClusterLedgerContext,
  request: ReserveRequest,
  budgetIds: string[],
  version: string,
  available: number,
  peekOnly = false,
): Promise<{ held: string[]; available: number; refused?: BudgetRefusal; runs: string[] }> {
  const held: string[] = []
  // The run's budget, when it is new or takes its first cap: saved once every level is held.
  const runs: string[] = []
  const seen = new Set<string>()
  let least = available
  // After a refusal the rest is only read: a refusal reports the least room of every level.
  let peek = peekOnly
  let refused: BudgetRefusal | undefined
  const run = request.run
  const runId = run ? `run:${String(run.id)}` : undefined
  const visit = async (id: string, depth: number): Promise<void> => {
    if (seen.has(id)) return
    seen.add(id)
    if (depth > MAX_DEPTH) {
      least = Math.min(least, 0)
      if (!peek) refused = { refusal: ['budget', id, 'lifetime', '', '0', '0', '0'], available: 0 }
      peek = true
      return
    }
    const slot = context.keys.budget(id)
    const isRun = id === runId
    let reply: unknown[] = ['zones']
    for (let attempt = 0; reply[0] === 'zones'; attempt++) {
      if (attempt === 5) throw new Error('the calendar windows kept moving')
      reply = (await context.send('reserve on a budget', {
        name: 'killswitchCBudgetHoldV1',
        keys: [slot.record, slot.holds, slot.prune, slot.expiry],
        args: [
          ...context.header(request.now),
          slot.slot,
          id,
          request.holdId,
          String(request.amountMicros),
          version,
          context.zones(),
          isRun && run?.capMicros !== undefined ? String(run.capMicros) : '',
          isRun && run?.parentId !== undefined ? String(run.parentId) : '',
          isRun ? '1' : '0',
          peek ? '1' : '0',
          String(request.ttlMs),
        ],
      })) as unknown[]
      if (reply[0] === 'zones') context.refresh(reply[1] as string[], Number(reply[2]))
    }
    let parent: string
    if (reply[0] === 'cap') {
      least = Math.min(least, Number(reply[2]))
      refused = { refusal: reply[1] as string[], available: 0 }
      peek = true
      // The refusing budget's parents still count toward the least room.
      parent = String(reply[3])
    } else if (reply[0] === 'peek') {
      if (reply[2] !== '') least = Math.min(least, Number(reply[2]))
      parent = String(reply[1])
    } else {
      held.push(...(reply[1] as string[]))
      if (reply[3] !== '') least = Math.min(least, Number(reply[3]))
      if (reply[4] === 'new' || reply[4] === 'cap') runs.push(id)
      parent = String(reply[2])
    }
    return parent === '' ? undefined : visit(parent, depth + 1)
  }
  try {
    for (const id of budgetIds) await visit(String(id), 0)
  } catch (error) {
    throw new PartialHoldError(held, error)
  }
  least = Math.max(0, least)
  if (refused) return { held, available: least, refused: { ...refused, available: least }, runs }
  return { held, available: least, runs }
}

/**
 * After every level of a reserve was held: saves its run's budget (`runs`, from holdBudgets),
 * new or taking its first cap, as ledger.ts saves it for a granted reserve. Returns the ids
 * of the budgets made new (to index).
 */
export async function saveRuns(
  context: ClusterLedgerContext,
  request: ReserveRequest,
  runs: readonly string[],
): Promise<string[]> {
  const made: string[] = []
  const run = request.run
  for (const id of runs) {
    const slot = context.keys.budget(id)
    const saved = await context.send('save a run budget', {
      name: 'killswitchCRunSaveV1',
      keys: [slot.record],
      args: [
        ...context.header(request.now),
        slot.slot,
        id,
        run?.capMicros !== undefined ? String(run.capMicros) : '',
        run?.parentId !== undefined ? String(run.parentId) : '',
      ],
    })
    if (saved === 'new') made.push(id)
  }
  return made
}
