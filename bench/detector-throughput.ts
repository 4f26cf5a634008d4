// Throughput on one busy agent with the default runaway detectors on against off, on each
// store: what detection costs a guarded model call end to end (32 callers in flight). A
// single short sample per side is mostly noise on a shared machine (the side measured first
// also pays the JIT's warm-up), so this warms up first, then measures several rounds with
// the two sides alternating which goes first, and reports medians: of each side's calls per
// second, and of the per-round ratio. Within a round the two sides take turns in short
// slices, so that each round's two sides ran under the same load.
// Run alone: npm run x -- node bench/detector-throughput.ts [rounds] [ms] (after a build;
// REDIS_URL for Redis)
import { randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createKillSwitch, memoryStore, type Store, sqliteStore } from '@killswitch/core'
import { redisStore } from '@killswitch/redis'
import { redisUrlFromEnv } from './redis-url.ts'

export interface DetectorThroughputRow {
  store: string
  /** Median calls per second over the rounds, detectors on. */
  onPerSec: number
  offPerSec: number
  /** Median of the rounds' off / on (target <= 1.25). */
  ratio: number
  /** The lowest and highest round ratios: how noisy the machine was. */
  ratioMin: number
  ratioMax: number
  rounds: number
}

const prices = { bench: { inputPerMTok: 1, outputPerMTok: 1 } }
const call = { model: 'bench', input: 'Summarise the report.', maxOutputTokens: 256 }
const usage = { usage: { inputTokens: 20, outputTokens: 100 } }

/** One side of a round: a fresh agent on a fresh store, run in slices, calls counted. */
async function openSide(open: () => Store, detectors: boolean) {
  const store = open()
  const ks = createKillSwitch({ store, prices, ...(detectors ? {} : { runaway: false }) })
  const { credential } = await ks.agents.create({
    handle: `throughput-${randomUUID().slice(0, 8)}`,
    spendingCap: 1_000_000,
    // Every default detector stays on but the call-rate throttle: this agent runs thousands
    // of calls a second on purpose, and the cost measured is the detectors', not a limit's.
    runaway: { callRate: { enabled: false } },
  })
  const guard = ks.guard(credential)
  const side = {
    calls: 0,
    ms: 0,
    /** 32 callers in flight for `timeMs`; the calls and the time are added to the side's. */
    async run(timeMs: number) {
      const started = performance.now()
      const deadline = started + timeMs
      await Promise.all(
        Array.from({ length: 32 }, async () => {
          while (performance.now() < deadline) {
            await guard.afterModelCall(await guard.beforeModelCall(call), usage)
            side.calls++
          }
        }),
      )
      side.ms += performance.now() - started
    },
    perSec: () => side.calls / (side.ms / 1_000),
    async close() {
      await ks.close()
      await store.close()
    },
  }
  return side
}

/**
 * Calls per second of each side in one round: both sides open at once and run in turns of
 * `timeMs / SLICES`, `first` leading, so that a change in the machine's load (other
 * processes come and go within seconds) weighs on both alike.
 */
async function round(open: () => Store, first: boolean, timeMs: number) {
  const on = await openSide(open, true)
  const off = await openSide(open, false)
  try {
    const turns = first ? [on, off] : [off, on]
    for (let slice = 0; slice < SLICES; slice++) {
      for (const side of turns) await side.run(timeMs / SLICES)
    }
    return { onPerSec: on.perSec(), offPerSec: off.perSec() }
  } finally {
    await on.close()
    await off.close()
  }
}

/** Turns per side in a round. */
const SLICES = 5

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = sorted.length >> 1
  return sorted.length % 2
    ? (sorted[middle] as number)
    : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2
}
const round2 = (value: number) => Math.round(value * 100) / 100

/**
 * Detectors on against off on one store: a warm-up round, then `rounds` rounds alternating
 * which side goes first (each round `timeMs` a side, in turns).
 *
 * @example
 * const row = await detectorThroughput('memory', () => memoryStore(), { rounds: 5, timeMs: 1_000 })
 */
export async function detectorThroughput(
  name: string,
  open: () => Store,
  options: { rounds?: number; timeMs?: number } = {},
): Promise<DetectorThroughputRow> {
  const rounds = Math.max(1, options.rounds ?? 5)
  const timeMs = options.timeMs ?? 1_000
  await round(open, true, Math.min(timeMs, 500))
  const on: number[] = []
  const off: number[] = []
  const ratios: number[] = []
  for (let index = 0; index < rounds; index++) {
    const { onPerSec, offPerSec } = await round(open, index % 2 === 0, timeMs)
    on.push(onPerSec)
    off.push(offPerSec)
    ratios.push(offPerSec / onPerSec)
  }
  return {
    store: name,
    onPerSec: Math.round(median(on)),
    offPerSec: Math.round(median(off)),
    ratio: round2(median(ratios)),
    ratioMin: round2(Math.min(...ratios)),
    ratioMax: round2(Math.max(...ratios)),
    rounds,
  }
}

/**
 * Detector throughput on memory, sqlite and (with a URL) Redis.
 *
 * @example
 * console.table(await benchDetectorThroughput({ rounds: 3, timeMs: 500 }))
 */
export async function benchDetectorThroughput(
  options: { redisUrl?: string; rounds?: number; timeMs?: number } = {},
): Promise<DetectorThroughputRow[]> {
  const folder = mkdtempSync(join(tmpdir(), 'killswitch-detector-throughput-'))
  let files = 0
  const stores: Array<{ name: string; open: () => Store }> = [
    { name: 'memory', open: () => memoryStore() },
    { name: 'sqlite', open: () => sqliteStore(join(folder, `throughput-${files++}.db`)) },
  ]
  const url = options.redisUrl
  if (url) {
    stores.push({
      name: 'redis',
      open: () => redisStore({ url, prefix: `killswitch-throughput-${randomUUID()}:` }),
    })
  }
  try {
    const rows: DetectorThroughputRow[] = []
    for (const { name, open } of stores) rows.push(await detectorThroughput(name, open, options))
    return rows
  } finally {
    rmSync(folder, { recursive: true, force: true })
  }
}

if (import.meta.main) {
  console.table(
    await benchDetectorThroughput({
      redisUrl: redisUrlFromEnv(),
      rounds: Number(process.argv[2] ?? 5),
      timeMs: Number(process.argv[3] ?? 1_000),
    }),
  )
}
