// What the ledger costs a fleet over time, on each store: store operations (round trips on
// Redis; write transactions on sqlite) per guarded call with the default runaway detectors
// on and off; throughput on one agent with detectors on against off; and what is left
// behind after many calls: the store's size and the process's memory.
// Run alone: npm run x -- node bench/ledger-state.ts [calls] (after a build; REDIS_URL for Redis)
import { randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { createKillSwitch, memoryStore, type Store, sqliteStore } from '@killswitch/core'
import { redisStore } from '@killswitch/redis'
import { type DetectorThroughputRow, detectorThroughput } from './detector-throughput.ts'
import { redisUrlFromEnv } from './redis-url.ts'

export interface RoundTripRow {
  store: string
  detectors: 'on' | 'off'
  call: 'model' | 'paid tool' | 'free tool'
  /** Store operations (each one round trip / one transaction) per guarded call. */
  storeOps: number
}

/** Detectors on against off on one agent: medians of alternating rounds (detector-throughput.ts). */
export type ThroughputRow = DetectorThroughputRow

export interface StateRow {
  /** The store and what it keeps, e.g. `sqlite (audit kept)`, `sqlite (audit 1 h)`. */
  store: string
  calls: number
  /** The store time the calls were spread over (the kill switch's clock), in hours. */
  storeHours: number
  /** The sqlite file (with its WAL) after the calls, in MB; undefined for other stores. */
  fileMB?: number
  /** sqlite: hold rows left (live, and finished ones kept for a late settle). */
  holdRows?: number
  /** sqlite: audit rows left. */
  auditRows?: number
  rssBeforeMB: number
  /** After half the calls: flat memory means the second half adds next to nothing. */
  rssMidMB: number
  rssAfterMB: number
  heapAfterMB: number
}

export interface LedgerStateResults {
  roundTrips: RoundTripRow[]
  throughput: ThroughputRow[]
  state: StateRow[]
}

const prices = { bench: { inputPerMTok: 1, outputPerMTok: 1 } }
const call = { model: 'bench', input: 'Summarise the report.', maxOutputTokens: 256 }
const usage = { usage: { inputTokens: 20, outputTokens: 100 } }
/** Methods that are not a round trip of their own (buffered or local). */
const LOCAL = new Set(['appendAudit', 'subscribe', 'kind'])

/** Wraps a store, counting the operations that reach it. */
function counting(store: Store): { store: Store; count: () => number; reset: () => void } {
  let ops = 0
  const proxy = new Proxy(store, {
    get(target, key, receiver) {
      const value = Reflect.get(target, key, receiver)
      if (typeof value !== 'function') return value
      // Bound to the store itself: its private fields are not the proxy's.
      if (LOCAL.has(String(key))) return value.bind(target)
      return (...args: unknown[]) => {
        ops++
        return value.apply(target, args)
      }
    },
  })
  return { store: proxy, count: () => ops, reset: () => (ops = 0) }
}

async function agentOn(store: Store, detectors: boolean, now?: () => number) {
  const ks = createKillSwitch({
    store,
    prices,
    ...(detectors ? {} : { runaway: false }),
    ...(now ? { now } : {}),
  })
  const { credential } = await ks.agents.create({
    handle: `state-${randomUUID().slice(0, 8)}`,
    spendingCap: 1_000_000,
    // Every default detector stays on but the call-rate throttle: this agent runs thousands
    // of calls a second on purpose, and the cost measured is the detectors', not a limit's.
    runaway: { callRate: { enabled: false } },
  })
  return { ks, guard: ks.guard(credential) }
}

async function roundTrips(name: string, open: () => Store): Promise<RoundTripRow[]> {
  const rows: RoundTripRow[] = []
  for (const detectors of [true, false]) {
    const counted = counting(open())
    const { ks, guard } = await agentOn(counted.store, detectors)
    // Distinct tools with distinct argument shapes: honest work, which no detector stops.
    let n = 0
    const tool = () => {
      n++
      return { name: `tool-${n}`, args: { [`field${n}`]: n } }
    }
    const kinds: Array<[RoundTripRow['call'], () => Promise<void>]> = [
      [
        'model',
        async () => void (await guard.afterModelCall(await guard.beforeModelCall(call), usage)),
      ],
      [
        'paid tool',
        async () =>
          void (await guard.afterToolCall(
            await guard.beforeToolCall({ ...tool(), priceUsd: 0.001 }),
            { ok: true },
          )),
      ],
      [
        'free tool',
        async () =>
          void (await guard.afterToolCall(await guard.beforeToolCall(tool()), { ok: true })),
      ],
    ]
    for (const [kind, run] of kinds) {
      await run() // warm: the credential is resolved once per guard
      counted.reset()
      const n = 20
      for (let i = 0; i < n; i++) await run()
      rows.push({
        store: name,
        detectors: detectors ? 'on' : 'off',
        call: kind,
        storeOps: counted.count() / n,
      })
    }
    await ks.close()
    await counted.store.close()
  }
  return rows
}

const mb = (bytes: number) => Math.round((bytes / 1_048_576) * 10) / 10

/** A full GC before each memory reading (the bench runs without --expose-gc). */
const collect: () => void = (() => {
  if (globalThis.gc) return globalThis.gc
  setFlagsFromString('--expose-gc')
  return runInNewContext('gc') as () => void
})()

/** The process's resident memory after a full GC, in MB. */
function rssMB(): number {
  collect()
  return mb(process.memoryUsage().rss)
}

/** What is left in a sqlite file: its size with the WAL, and its hold and audit rows. */
function sqliteLeft(file: string): { fileMB: number; holdRows: number; auditRows: number } {
  const bytes = ['', '-wal'].reduce((sum, suffix) => {
    try {
      return sum + statSync(`${file}${suffix}`).size
    } catch {
      return sum
    }
  }, 0)
  const db = new DatabaseSync(file, { readOnly: true })
  try {
    const count = (table: string) =>
      (db.prepare(`SELECT COUNT(*) AS n FROM ${table}`).get() as { n: number }).n
    return {
      fileMB: mb(bytes),
      holdRows: count('ended_holds') + count('lapsed_holds') + count('live_holds'),
      auditRows: count('audit'),
    }
  } finally {
    db.close()
  }
}

/**
 * `calls` guarded calls (64 in flight) on one agent with the default detectors, spread over
 * `storeHours` of the kill switch's clock, as a fleet's calls are spread over its day: the
 * store's retention (finished holds 15 minutes, up to 30 on sqlite; the audit log as configured) acts as it
 * would. A run of 200,000 calls in two minutes of wall time with no clock would keep every
 * finished hold, and say nothing about what a store holds at steady state.
 */
async function stateAfter(
  name: string,
  store: Store,
  options: { calls: number; storeHours: number; file?: string },
): Promise<StateRow> {
  const { calls, storeHours, file } = options
  const stepMs = (storeHours * 3_600_000) / calls
  let clock = Date.now()
  const { ks, guard } = await agentOn(store, true, () => Math.round(clock))
  const rssBefore = rssMB()
  let rssMid = rssBefore
  for (let i = 0; i < calls; i += 64) {
    const batch = Math.min(64, calls - i)
    await Promise.all(
      Array.from({ length: batch }, async () => {
        await guard.afterModelCall(await guard.beforeModelCall(call), usage)
      }),
    )
    clock += batch * stepMs
    if (i < calls / 2 && i + batch >= calls / 2) rssMid = rssMB()
  }
  await ks.close()
  await store.close()
  const rssAfter = rssMB()
  return {
    store: name,
    calls,
    storeHours,
    ...(file === undefined ? {} : sqliteLeft(file)),
    rssBeforeMB: rssBefore,
    rssMidMB: rssMid,
    rssAfterMB: rssAfter,
    heapAfterMB: mb(process.memoryUsage().heapUsed),
  }
}

/**
 * Round trips, detector throughput and state growth on memory, sqlite and (with a URL) Redis.
 *
 * @example
 * const { roundTrips } = await benchLedgerState({ calls: 20_000 })
 */
export async function benchLedgerState(
  options: { redisUrl?: string; calls?: number; timeMs?: number } = {},
): Promise<LedgerStateResults> {
  const calls = options.calls ?? 200_000
  const timeMs = options.timeMs ?? 1_000
  const folder = mkdtempSync(join(tmpdir(), 'killswitch-state-'))
  let files = 0
  const sqlitePath = () => join(folder, `state-${files++}.db`)
  const stores: Array<{ name: string; open: () => Store }> = [
    { name: 'memory', open: () => memoryStore() },
    { name: 'sqlite', open: () => sqliteStore(sqlitePath()) },
  ]
  const url = options.redisUrl
  if (url)
    stores.push({
      name: 'redis',
      open: () => redisStore({ url, prefix: `killswitch-state-${randomUUID()}:` }),
    })
  const results: LedgerStateResults = { roundTrips: [], throughput: [], state: [] }
  try {
    for (const { name, open } of stores) {
      results.roundTrips.push(...(await roundTrips(name, open)))
      // One short sample per side is mostly noise on a shared machine: alternating rounds.
      results.throughput.push(await detectorThroughput(name, open, { rounds: 5, timeMs }))
    }
    // Two hours of calls: finished holds are kept 15 minutes; the audit log for good by
    // default, or for the hour an operator may set.
    const storeHours = 2
    const kept = sqlitePath()
    results.state.push(
      await stateAfter('sqlite (audit kept, the default)', sqliteStore(kept), {
        calls,
        storeHours,
        file: kept,
      }),
    )
    const hour = sqlitePath()
    results.state.push(
      await stateAfter(
        'sqlite (audit kept 1 h)',
        sqliteStore(hour, { auditRetentionMs: 3_600_000 }),
        {
          calls,
          storeHours,
          file: hour,
        },
      ),
    )
    results.state.push(
      await stateAfter('memory (audit kept 1 h)', memoryStore({ auditRetentionMs: 3_600_000 }), {
        calls,
        storeHours,
      }),
    )
  } finally {
    rmSync(folder, { recursive: true, force: true })
  }
  return results
}

if (import.meta.main) {
  const results = await benchLedgerState({
    redisUrl: redisUrlFromEnv(),
    // `node bench/ledger-state.ts 200000` for the full count.
    calls: Number(process.argv[2] ?? 20_000),
  })
  console.table(results.roundTrips)
  console.table(results.throughput)
  console.table(results.state)
}
