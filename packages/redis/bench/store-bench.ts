// Reserve + settle on Redis over loopback (target: <= 2 round trips, i.e. one script each)
// and the time from a revoke in this process to the refusal of the next call in another
// process (target: p99 <= 5 ms), see PERFORMANCE.md. Not a test: run it alone with
// `npm run x -- node packages/redis/bench/store-bench.ts` (it starts its own redis-server on
// a free port, or uses REDIS_URL), or import `benchRedisStore` from the bench runner. It runs
// the sources, so it needs no build.
import { fork } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { registerHooks } from 'node:module'
import { fileURLToPath, pathToFileURL } from 'node:url'
import type { NewAgentRecord, Store } from '@killswitch/core'
import { Redis } from 'ioredis'
import { Bench } from 'tinybench'

/** One row of the store benchmarks. For latency rows, `opsPerSec` is 1 / median. */
export interface StoreBenchRow {
  name: string
  medianUs: number
  p99Us: number
  opsPerSec: number
  /** Redis commands (each one round trip) per reserve + settle. */
  roundTrips?: number
}

const REVOCATIONS = 60
let hooked = false

/** Lets Node run the sources: `@killswitch/core` and relative `.js` imports map to `.ts` files. */
function resolveSources(): void {
  if (hooked) return
  hooked = true
  const coreSource = new URL('../../core/src/index.ts', import.meta.url).href
  registerHooks({
    resolve(specifier, context, nextResolve) {
      if (specifier === '@killswitch/core') return nextResolve(coreSource, context)
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

function latencyRow(name: string, samplesMs: number[]): StoreBenchRow {
  const sorted = [...samplesMs].sort((a, b) => a - b)
  const at = (q: number) =>
    sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? 0
  const medianUs = at(0.5) * 1_000
  return { name, medianUs, p99Us: at(0.99) * 1_000, opsPerSec: Math.round(1_000_000 / medianUs) }
}

/** Counts the commands a client sends: each one is a round trip (none is pipelined here). */
function countCommands(client: Redis): { count: number } {
  const counter = { count: 0 }
  const send = client.sendCommand.bind(client)
  client.sendCommand = ((...args: Parameters<Redis['sendCommand']>) => {
    counter.count++
    return send(...args)
  }) as Redis['sendCommand']
  return counter
}

async function benchReserveSettle(store: Store, sent: { count: number }): Promise<StoreBenchRow> {
  const handle = `bench-${Date.now()}`
  // The largest cap the ledger takes ($1 billion): never reached here.
  await store.createAgent(agent(handle, 1_000_000_000_000_000))
  let i = 0
  const pair = async () => {
    const holdId = `h${i++}`
    const now = Date.now()
    await store.reserve({ handle, holdId, amountMicros: 5_000, ttlMs: 60_000, now })
    await store.settle({ handle, holdId, costMicros: 3_000, now })
  }
  await pair() // loads the scripts (EVALSHA, then EVAL once)
  const before = sent.count
  for (let n = 0; n < 200; n++) await pair()
  const roundTrips = (sent.count - before) / 200

  const bench = new Bench({ time: 500, warmupTime: 100 })
  bench.add('reserve + settle (redis, loopback)', pair)
  await bench.run()
  const task = bench.tasks[0]
  if (task?.result.state !== 'completed') throw new Error('redis bench did not complete')
  const medianUs = task.result.latency.p50 * 1_000
  return {
    name: task.name,
    medianUs,
    p99Us: task.result.latency.p99 * 1_000,
    opsPerSec: Math.round(1_000_000 / medianUs),
    roundTrips,
  }
}

async function benchRevokeToRefusal(
  url: string,
  prefix: string,
  store: Store,
): Promise<StoreBenchRow> {
  const workerFile = fileURLToPath(new URL('../src/test-support/redis-worker.ts', import.meta.url))
  const child = fork(workerFile, [url, prefix, 'refusal', '{"handle":"-"}'], {
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
    await new Promise((resolve) => setTimeout(resolve, 5))
    const start = performance.timeOrigin + performance.now()
    await store.revokeAgent(handle, 'bench', Date.now())
    samples.push((await refused) - start)
  }
  child.send({ type: 'exit' })
  await new Promise((resolve) => child.once('exit', resolve))
  return latencyRow('revoke -> refusal in another process (redis)', samples)
}

/**
 * Reserve + settle on Redis over loopback (with round trips counted), and revoke -> refusal
 * across processes. Starts a redis-server on a free port unless `url` (or REDIS_URL) is given.
 *
 * @example
 * for (const row of await benchRedisStore()) console.log(row.name, row.medianUs, row.roundTrips)
 */
export async function benchRedisStore(url = process.env.REDIS_URL): Promise<StoreBenchRow[]> {
  resolveSources()
  const { redisStore } = await import('../src/redis-store.js')
  const { startRedisServer } = await import('../src/test-support/start-redis-server.js')
  const server = url ? undefined : await startRedisServer()
  const target = url ?? (server?.url as string)
  const prefix = `killswitch-bench-${randomUUID()}:`
  // The store runs on a client we give it, so that the commands it sends can be counted.
  const client = new Redis(target)
  const sent = countCommands(client)
  const store = redisStore({ client, prefix })
  try {
    return [
      await benchReserveSettle(store, sent),
      await benchRevokeToRefusal(target, prefix, store),
    ]
  } finally {
    await store.close()
    client.disconnect()
    await server?.dispose()
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const rows = await benchRedisStore()
  console.table(
    rows.map((row) => ({
      name: row.name,
      'median µs': Number(row.medianUs.toFixed(1)),
      'p99 µs': Number(row.p99Us.toFixed(1)),
      'ops/s': row.opsPerSec,
      'round trips': row.roundTrips ?? '',
    })),
  )
}
