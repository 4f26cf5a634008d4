// One benchmark group, in a process of its own (started by bench/run.ts): a group never
// inherits another's heap, JIT state or module hooks (the store and detector benches register
// a resolve hook that runs the core's sources; the adapter benches run the built packages).
// Usage: node bench/run-group.ts <group> '<json options>'; the rows go back over IPC.
import { randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Store } from '@killswitch/core'

export interface GroupOptions {
  quick: boolean
  redisUrl?: string
}

export const GROUPS = [
  'vercel-ai',
  'langchain',
  'mastra',
  'framework-baselines',
  'stores',
  'redis-store',
  'ledger',
  'revocation',
  'exactness',
  'detectors',
  'corpus',
  'ledger-state',
] as const
export type Group = (typeof GROUPS)[number]

async function runGroup(group: Group, options: GroupOptions): Promise<unknown> {
  // A smoke run does not wait for V8's optimizing tier (bench/side-by-side.ts).
  const sides = options.quick ? { warmups: 50 } : {}
  switch (group) {
    case 'vercel-ai':
      return (await import('../packages/vercel-ai/bench/overhead.ts')).benchVercelAiOverhead(sides)
    case 'langchain':
      return (await import('../packages/langchain/bench/overhead.ts')).benchLangchainOverhead(sides)
    case 'mastra':
      return (await import('../packages/mastra/bench/overhead.ts')).benchMastraOverhead(sides)
    case 'framework-baselines':
      return (await import('./framework-baselines.ts')).benchFrameworkBaselines({
        ...sides,
        rounds: options.quick ? 2 : 9,
      })
    case 'stores':
      return (await import('../packages/core/src/stores/sqlite-store.bench.ts')).benchSqliteStore()
    case 'redis-store':
      if (!options.redisUrl) throw new Error('the redis-store group needs a Redis URL')
      return (await import('../packages/redis/bench/store-bench.ts')).benchRedisStore(
        options.redisUrl,
      )
    case 'ledger':
      return (await import('./ledger.ts')).benchLedger({
        redisUrl: options.redisUrl,
        timeMs: options.quick ? 200 : 1_000,
      })
    case 'revocation':
      return (await import('./revocation-reach.ts')).benchRevocationReach({
        redisUrl: options.redisUrl,
        trials: options.quick ? 10 : 50,
      })
    case 'exactness':
      return exactness(options)
    case 'detectors':
      return (await import('../packages/core/src/runaway/detectors.bench.ts')).benchDetectors()
    case 'corpus':
      return (await import('../packages/core/src/runaway/corpus.bench.ts')).benchCorpus()
    case 'ledger-state':
      return (await import('./ledger-state.ts')).benchLedgerState({
        redisUrl: options.redisUrl,
        calls: options.quick ? 5_000 : 200_000,
        timeMs: options.quick ? 500 : 2_000,
      })
  }
}

async function exactness(options: GroupOptions): Promise<unknown> {
  const { benchExactness } = await import('./exactness.ts')
  const { exactnessAcrossProcesses } = await import('./exactness-processes.ts')
  const { sqliteStore } = await import('@killswitch/core')
  const { redisStore } = await import('@killswitch/redis')
  const folder = mkdtempSync(join(tmpdir(), 'killswitch-exactness-'))
  const url = options.redisUrl
  const prefix = () => `killswitch-exactness-${randomUUID()}:`
  const stores: Array<{ name: string; open: () => Promise<Store> | Store }> = [
    { name: 'sqlite', open: () => sqliteStore(join(folder, 'in-process.db')) },
  ]
  if (url) stores.push({ name: 'redis', open: () => redisStore({ url, prefix: prefix() }) })
  try {
    const rows = await benchExactness(stores)
    // The same 1,000 calls from 4 processes at once, on one shared store.
    const path = join(folder, 'processes.db')
    const sqlite = sqliteStore(path)
    rows.push(await exactnessAcrossProcesses('sqlite', sqlite, ['sqlite', path], 4, 250))
    await sqlite.close()
    if (url) {
      const shared = prefix()
      const redis = redisStore({ url, prefix: shared })
      rows.push(await exactnessAcrossProcesses('redis', redis, ['redis', url, shared], 4, 250))
      await redis.close()
    }
    return rows
  } finally {
    rmSync(folder, { recursive: true, force: true })
  }
}

if (import.meta.main) {
  const [group, rawOptions] = process.argv.slice(2)
  if (!GROUPS.includes(group as Group)) {
    throw new Error(`unknown benchmark group "${group}" (one of ${GROUPS.join(', ')})`)
  }
  const started = performance.now()
  const rows = await runGroup(group as Group, JSON.parse(rawOptions ?? '{}') as GroupOptions)
  const seconds = (performance.now() - started) / 1_000
  // Sent, then exit: some benches leave timers or sockets of the frameworks behind.
  await new Promise<void>((resolve) =>
    process.send?.({ type: 'rows', rows, seconds }, () => resolve()),
  )
  process.exit(0)
}
