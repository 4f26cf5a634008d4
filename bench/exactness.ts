// Exactness under concurrency: N concurrent calls against one cap. The kill switch's atomic
// reserve must overspend by exactly $0; beside it, the naive read-check-write budget check
// many gateways use (read spend, compare, call, then add) overspends under the same load.
import {
  type AgentGuard,
  createKillSwitch,
  type KillSwitch,
  SpendingCapExceededError,
  type Store,
} from '@killswitch/core'

export interface ExactnessRow {
  name: string
  calls: number
  capUsd: number
  admitted: number
  spentUsd: number
  overspendUsd: number
}

const CALL_COST_MICROS = 10_000 // $0.01 per call
const providerLatency = () => new Promise((resolve) => setTimeout(resolve, 1))

/** The naive check: read the spend, compare, call the provider, then add the cost. */
async function naiveBudget(calls: number, capMicros: number): Promise<ExactnessRow> {
  let spent = 0
  let admitted = 0
  await Promise.all(
    Array.from({ length: calls }, async () => {
      const seen = spent // read
      if (seen + CALL_COST_MICROS > capMicros) return // check
      admitted++
      await providerLatency() // the call
      spent += CALL_COST_MICROS // write
    }),
  )
  return row('naive read-check-write', calls, capMicros, admitted, spent)
}

/** The options every kill switch of this bench shares, in this process and in the workers. */
export function exactnessKillSwitch(store?: Store): KillSwitch {
  // $1 per million tokens in and out: one token costs one micro-dollar. Runaway detection
  // is off: this measures the ledger alone (a burst like this rightly trips call rate).
  return createKillSwitch({
    ...(store ? { store } : {}),
    runaway: false,
    prices: { bench: { inputPerMTok: 1, outputPerMTok: 1 } },
  })
}

/**
 * Starts `calls` guarded $0.01 calls at once (each 1 ms at the "provider") and returns how
 * many were admitted; refusals over the cap are expected, anything else is thrown.
 *
 * @example
 * const admitted = await spendConcurrently(ks.guard(credential), 1_000)
 */
export async function spendConcurrently(guard: AgentGuard, calls: number): Promise<number> {
  let admitted = 0
  await Promise.all(
    Array.from({ length: calls }, async () => {
      try {
        // 1 byte of input + 9,999 output tokens: a $0.01 bound, like the naive case.
        const ticket = await guard.beforeModelCall({
          model: 'bench',
          input: 'x',
          maxOutputTokens: CALL_COST_MICROS - 1,
        })
        admitted++
        await providerLatency()
        // An honest provider: it answers within the max output tokens it was given (the
        // guard lowers it to what the budget holds once the cap is near).
        await guard.afterModelCall(ticket, {
          usage: {
            inputTokens: 1,
            outputTokens: Math.min(CALL_COST_MICROS - 1, ticket.maxOutputTokens),
          },
        })
      } catch (error) {
        if (!(error instanceof SpendingCapExceededError)) throw error
      }
    }),
  )
  return admitted
}

async function killSwitchBudget(
  name: string,
  calls: number,
  capMicros: number,
  store?: Store,
): Promise<ExactnessRow> {
  const ks = exactnessKillSwitch(store)
  const agent = await ks.agents.create({
    handle: `exactness-${Date.now()}-${Math.random().toString(36).slice(2)}`,
    spendingCap: capMicros / 1e6,
  })
  const admitted = await spendConcurrently(ks.guard(agent.credential), calls)
  const state = await ks.agents.get(agent.handle)
  await ks.close()
  return row(name, calls, capMicros, admitted, Math.round(state.spent * 1e6))
}

/**
 * A row of the comparison, from what was admitted and spent.
 *
 * @example
 * row('killswitch (memory store)', 1_000, 5_000_000, 500, 5_000_000).overspendUsd // 0
 */
export function row(
  name: string,
  calls: number,
  capMicros: number,
  admitted: number,
  spentMicros: number,
): ExactnessRow {
  return {
    name,
    calls,
    capUsd: capMicros / 1e6,
    admitted,
    spentUsd: spentMicros / 1e6,
    overspendUsd: Math.max(0, spentMicros - capMicros) / 1e6,
  }
}

/** Runs the comparison: 1,000 concurrent $0.01 calls against a $5 cap. */
export async function benchExactness(
  stores: Array<{ name: string; open: () => Promise<Store> | Store }> = [],
): Promise<ExactnessRow[]> {
  const calls = 1_000
  const capMicros = 5_000_000
  const rows = [
    await naiveBudget(calls, capMicros),
    await killSwitchBudget('killswitch (memory store)', calls, capMicros),
  ]
  for (const store of stores) {
    const opened = await store.open()
    rows.push(await killSwitchBudget(`killswitch (${store.name} store)`, calls, capMicros, opened))
    await opened.close()
  }
  return rows
}

if (import.meta.main) {
  // Standalone: the memory store, a temporary sqlite file and, with REDIS_URL, Redis.
  const { mkdtempSync, rmSync } = await import('node:fs')
  const { tmpdir } = await import('node:os')
  const { join } = await import('node:path')
  const { sqliteStore } = await import('@killswitch/core')
  const folder = mkdtempSync(join(tmpdir(), 'killswitch-exactness-'))
  const stores: Array<{ name: string; open: () => Promise<Store> | Store }> = [
    { name: 'sqlite', open: () => sqliteStore(join(folder, 'state.db')) },
  ]
  const { redisUrlFromEnv } = await import('./redis-url.ts')
  const url = redisUrlFromEnv()
  if (url) {
    const { redisStore } = await import('@killswitch/redis')
    const prefix = `killswitch-exactness-${Date.now()}:`
    stores.push({ name: 'redis', open: () => redisStore({ url, prefix }) })
  }
  try {
    console.table(await benchExactness(stores))
  } finally {
    rmSync(folder, { recursive: true, force: true })
  }
}
