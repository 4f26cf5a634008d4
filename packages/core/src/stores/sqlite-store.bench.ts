// Reserve + settle on the memory store (the baseline) and on the sqlite store (target: <= 100
// µs median), and the time from a revoke in this process to the refusal of the next call in
// another process (target: p99 <= 10 ms), see PERFORMANCE.md. Not a test: run it alone with
// `npm run x -- node packages/core/src/stores/sqlite-store.bench.ts`, or import
// `benchSqliteStore` from the bench runner. Needs no build (it runs the sources).
import { fork } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { registerHooks } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { Bench } from 'tinybench'
import type { NewAgentRecord, Store } from '../store.js'

/** One row of the store benchmarks. For latency rows, `opsPerSec` is 1 / median. */
export interface StoreBenchRow {
  name: string
  medianUs: number
  p99Us: number
  opsPerSec: number
}

const REVOCATIONS = 60
let hooked = false

/** Lets Node run the sources directly: a relative `.js` import resolves to its `.ts` file. */
function resolveSources(): void {
  if (hooked) return
  hooked = true
  registerHooks({
    resolve(specifier, context, nextResolve) {
      try {
        return nextResolve(specifier, context)
      } catch (error) {
        if (!specifier.startsWith('.') || !specifier.endsWith('.js')) throw error
        return nextResolve(`${specifier.slice(0, -3)}.ts`, context)
      }
    },
  })
}

const agent = (handle: string, capMicros: number): NewAgentRecord => ({
  handle,
  credentialHash: `bench-hash-${handle}`,
  capMicros,
  currency: 'usd',
  createdAt: 1,
  updatedAt: 1,
  policy: { alerts: [], runaway: {} },
})

/**
 * A reserve then a settle of one hold, on a store, as one guarded call does.
 *
 * @example
 * const row = await benchReserveSettle('memory', memoryStore())
 */
export async function benchReserveSettle(name: string, store: Store): Promise<StoreBenchRow> {
  const handle = `bench-${Date.now()}`
  // The largest cap the ledger takes ($1 billion): never reached here.
  await store.createAgent(agent(handle, 1_000_000_000_000_000))
  let i = 0
  const bench = new Bench({ time: 500, warmupTime: 100 })
  bench.add(`reserve + settle (${name})`, async () => {
    const holdId = `h${i++}`
    const now = Date.now()
    await store.reserve({ handle, holdId, amountMicros: 5_000, ttlMs: 60_000, now })
    await store.settle({ handle, holdId, costMicros: 3_000, now })
  })
  await bench.run()
  const task = bench.tasks[0]
  if (task?.result.state !== 'completed') throw new Error(`${name}: did not complete`)
  const medianUs = task.result.latency.p50 * 1_000
  return {
    name: task.name,
    medianUs,
    p99Us: task.result.latency.p99 * 1_000,
    opsPerSec: Math.round(1_000_000 / medianUs),
  }
}

/** Percentiles of latency samples in ms, as a row in µs. */
export function latencyRow(name: string, samplesMs: number[]): StoreBenchRow {
  const sorted = [...samplesMs].sort((a, b) => a - b)
  const at = (q: number) =>
    sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? 0
  const medianUs = at(0.5) * 1_000
  return { name, medianUs, p99Us: at(0.99) * 1_000, opsPerSec: Math.round(1_000_000 / medianUs) }
}

/**
 * Revokes agents in this process and measures when a worker process, told by its sqlite
 * subscription, has its next call refused (the clocks of both processes are the machine's).
 */
async function benchRevokeToRefusal(path: string, store: Store): Promise<StoreBenchRow> {
  const workerFile = fileURLToPath(new URL('./sqlite-worker.ts', import.meta.url))
  const child = fork(workerFile, [path, 'refusal', '{"handle":"-"}'], {
    execArgv: ['--disable-warning=ExperimentalWarning'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
  const refusals = new Map<string, (at: number) => void>()
  child.on('message', (message: { type: string; handle: string; at: number }) => {
    if (message.type === 'refused') refusals.get(message.handle)?.(message.at)
  })
  await new Promise<void>((resolve) =>
    child.on('message', (message: { type: string }) => message.type === 'ready' && resolve()),
  )
  const samples: number[] = []
  for (let i = 0; i < REVOCATIONS; i++) {
    const handle = `revoke-${Date.now()}-${i}`
    await store.createAgent(agent(handle, 1_000_000))
    const refused = new Promise<number>((resolve) => refusals.set(handle, resolve))
    // A pause between samples, so that each revoke lands at a random point of the poll cycle.
    await new Promise((resolve) => setTimeout(resolve, 7 + (i % 5)))
    const start = performance.timeOrigin + performance.now()
    await store.revokeAgent(handle, 'bench', Date.now())
    samples.push((await refused) - start)
  }
  child.send({ type: 'exit' })
  await new Promise((resolve) => child.once('exit', resolve))
  return latencyRow('revoke -> refusal in another process (sqlite)', samples)
}

/**
 * The memory baseline and the sqlite store: reserve + settle, and revoke -> refusal across
 * processes.
 *
 * @example
 * for (const row of await benchSqliteStore()) console.log(row.name, row.medianUs, row.p99Us)
 */
export async function benchSqliteStore(): Promise<StoreBenchRow[]> {
  resolveSources()
  const { memoryStore } = await import('./memory-store.js')
  const { sqliteStore } = await import('./sqlite-store.js')
  const folder = mkdtempSync(join(tmpdir(), 'killswitch-bench-'))
  const path = join(folder, 'state.db')
  try {
    const memory = memoryStore()
    const sqlite = sqliteStore(path)
    const rows = [
      await benchReserveSettle('memory', memory),
      await benchReserveSettle('sqlite', sqlite),
      await benchRevokeToRefusal(path, sqlite),
    ]
    await memory.close()
    await sqlite.close()
    return rows
  } finally {
    rmSync(folder, { recursive: true, force: true })
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const rows = await benchSqliteStore()
  console.table(
    rows.map((row) => ({
      name: row.name,
      'median µs': Number(row.medianUs.toFixed(1)),
      'p99 µs': Number(row.p99Us.toFixed(1)),
      'ops/s': row.opsPerSec,
    })),
  )
}
