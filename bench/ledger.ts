// What the core's ledger costs one guarded call, on each store: `beforeModelCall` (checks,
// prices, reserves the cost bound) + `afterModelCall` (settles the real cost), timed one at a
// time (latency: median and p99), and the throughput of many concurrent callers on one agent
// (calls/s). The store-level reserve + settle (no guard) comes from the stores' own benches.
// Run alone: npm run x -- node bench/ledger.ts (after a build; REDIS_URL for Redis)
import { randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createKillSwitch, memoryStore, type Store, sqliteStore } from '@killswitch/core'
import { redisStore } from '@killswitch/redis'
import { Bench } from 'tinybench'
import { redisUrlFromEnv } from './redis-url.ts'

export interface LedgerRow {
  store: string
  /** One guarded call's before + after, one at a time, in µs. */
  medianUs: number
  p99Us: number
  /** Guarded calls per second with `concurrency` callers in flight on one agent. */
  callsPerSec: number
  concurrency: number
}

const call = { model: 'bench', input: 'Summarise the report.', maxOutputTokens: 256 }
const usage = { usage: { inputTokens: 20, outputTokens: 100 } }

async function measure(
  name: string,
  store: Store,
  options: { timeMs: number; concurrency: number },
): Promise<LedgerRow> {
  // Runaway detection off: this is the ledger alone (the detectors have their own bench).
  const ks = createKillSwitch({
    store,
    runaway: false,
    prices: { bench: { inputPerMTok: 1, outputPerMTok: 1 } },
  })
  const { credential } = await ks.agents.create({
    handle: `ledger-${randomUUID().slice(0, 8)}`,
    spendingCap: 1_000_000,
  })
  const guard = ks.guard(credential)
  const guardedCall = async () => {
    const ticket = await guard.beforeModelCall(call)
    await guard.afterModelCall(ticket, usage)
  }
  const bench = new Bench({ time: options.timeMs, warmupTime: options.timeMs / 5 })
  bench.add(name, guardedCall)
  await bench.run()
  const result = bench.tasks[0]?.result
  if (result?.state !== 'completed') throw new Error(`ledger bench (${name}) did not complete`)

  // Throughput: `concurrency` callers, each making calls back to back, for timeMs.
  let calls = 0
  const started = performance.now()
  const deadline = started + options.timeMs
  await Promise.all(
    Array.from({ length: options.concurrency }, async () => {
      while (performance.now() < deadline) {
        await guardedCall()
        calls++
      }
    }),
  )
  const elapsedSec = (performance.now() - started) / 1_000
  await ks.close()
  return {
    store: name,
    medianUs: result.latency.p50 * 1_000,
    p99Us: result.latency.p99 * 1_000,
    callsPerSec: Math.round(calls / elapsedSec),
    concurrency: options.concurrency,
  }
}

/**
 * A guarded call's ledger cost on the memory, sqlite and (with a URL) Redis stores.
 *
 * @example
 * for (const row of await benchLedger()) console.log(row.store, row.medianUs, row.callsPerSec)
 */
export async function benchLedger(
  options: { redisUrl?: string; timeMs?: number; concurrency?: number } = {},
): Promise<LedgerRow[]> {
  const settings = { timeMs: options.timeMs ?? 1_000, concurrency: options.concurrency ?? 32 }
  const rows: LedgerRow[] = []
  const memory = memoryStore()
  rows.push(await measure('memory', memory, settings))
  await memory.close()

  const folder = mkdtempSync(join(tmpdir(), 'killswitch-ledger-'))
  try {
    const sqlite = sqliteStore(join(folder, 'state.db'))
    rows.push(await measure('sqlite', sqlite, settings))
    await sqlite.close()
  } finally {
    rmSync(folder, { recursive: true, force: true })
  }

  if (options.redisUrl) {
    const redis = redisStore({
      url: options.redisUrl,
      prefix: `killswitch-ledger-${randomUUID()}:`,
    })
    rows.push(await measure('redis', redis, settings))
    await redis.close()
  }
  return rows
}

if (import.meta.main) console.table(await benchLedger({ redisUrl: redisUrlFromEnv() }))
