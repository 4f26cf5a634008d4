// Revocation reach: the time from `ks.agents.revoke` in one process (A, here) to the abort of
// a call in flight in another process (B, bench/revocation-worker.ts) and to the refusal of
// B's next call, on one sqlite file and on one Redis. Both processes read the machine's one
// clock (performance.timeOrigin + performance.now()), so the samples need no round trip.
// Targets (PERFORMANCE.md): p99 <= 10 ms on sqlite, <= 5 ms on Redis.
// Run alone: npm run x -- node bench/revocation-reach.ts (after a build; REDIS_URL for Redis)
import { type ChildProcess, fork } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createKillSwitch, type Store, sqliteStore } from '@killswitch/core'
import { redisStore } from '@killswitch/redis'
import { redisUrlFromEnv } from './redis-url.ts'
import { type Summary, summarize, wallNow } from './stats.ts'

export interface ReachRow {
  store: string
  /** B was calling in a loop (one call a millisecond), or idle but for the in-flight call. */
  busy: boolean
  /** Revoke -> the in-flight call's `guard.signal` aborts in B, in ms. */
  abort: Summary
  /** Revoke -> a call of B is refused (busy: the loop's first refusal; idle: the call made on abort), in ms. */
  refusal: Summary
  /** How long the revoke itself took in A, in ms. */
  revoke: Summary
}

type Message =
  | { type: 'ready' | 'armed' }
  | { type: 'result'; abortedAt: number; abortCode: string; at: number; code: string }
  | { type: 'error'; message: string }

const workerFile = fileURLToPath(new URL('./revocation-worker.ts', import.meta.url))

function nextMessage<T extends Message['type']>(
  child: ChildProcess,
  type: T,
): Promise<Extract<Message, { type: T }>> {
  return new Promise((resolve, reject) => {
    const onMessage = (message: Message) => {
      if (message.type === 'error') {
        cleanup()
        reject(new Error(`revocation worker: ${message.message}`))
      } else if (message.type === type) {
        cleanup()
        resolve(message as Extract<Message, { type: T }>)
      }
    }
    const onExit = (code: number | null) => {
      cleanup()
      reject(new Error(`revocation worker exited (${code}) while A waited for "${type}"`))
    }
    const cleanup = () => {
      child.off('message', onMessage)
      child.off('exit', onExit)
    }
    child.on('message', onMessage)
    child.on('exit', onExit)
  })
}

async function measure(
  name: string,
  store: Store,
  workerArgs: string[],
  trials: number,
  busy: boolean,
): Promise<ReachRow> {
  const ks = createKillSwitch({ store, runaway: false })
  const child = fork(workerFile, workerArgs, {
    execArgv: ['--disable-warning=ExperimentalWarning'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
  const abort: number[] = []
  const refusal: number[] = []
  const revoke: number[] = []
  try {
    await nextMessage(child, 'ready')
    // One unmeasured trial first: it warms both processes' code paths.
    for (let i = -1; i < trials; i++) {
      const handle = `reach-${name}-${randomUUID().slice(0, 8)}`
      const { credential } = await ks.agents.create({ handle, spendingCap: 100 })
      const armed = nextMessage(child, 'armed')
      const result = nextMessage(child, 'result')
      child.send({ type: 'trial', credential, busy })
      await armed
      // A pause of 5 to 14 ms, so that revokes land at every point of a poll cycle.
      await new Promise((resolve) => setTimeout(resolve, 5 + ((i * 7) % 10)))
      const start = wallNow()
      await ks.agents.revoke(handle, { reason: 'revocation-reach benchmark' })
      const revoked = wallNow()
      const { abortedAt, abortCode, at, code } = await result
      if (abortCode !== 'agent_revoked' || code !== 'agent_revoked') {
        throw new Error(`${name}: expected agent_revoked, got abort ${abortCode}, refusal ${code}`)
      }
      if (i < 0) continue
      abort.push(abortedAt - start)
      refusal.push(at - start)
      revoke.push(revoked - start)
    }
  } finally {
    child.send({ type: 'exit' })
    await new Promise((resolve) => child.once('exit', resolve))
    await ks.close()
  }
  return {
    store: name,
    busy,
    abort: summarize(abort),
    refusal: summarize(refusal),
    revoke: summarize(revoke),
  }
}

/**
 * Revoke in this process -> abort and refusal in another, on sqlite and (with a URL) Redis.
 *
 * @example
 * for (const row of await benchRevocationReach({ redisUrl: 'redis://127.0.0.1:6379' }))
 *   console.log(row.store, row.abort.p99, row.refusal.p99)
 */
export async function benchRevocationReach(
  options: { redisUrl?: string; trials?: number } = {},
): Promise<ReachRow[]> {
  const trials = options.trials ?? 50
  const rows: ReachRow[] = []
  const folder = mkdtempSync(join(tmpdir(), 'killswitch-reach-'))
  try {
    const path = join(folder, 'state.db')
    const store = sqliteStore(path)
    try {
      for (const busy of [false, true])
        rows.push(await measure('sqlite', store, ['sqlite', path], trials, busy))
    } finally {
      await store.close()
    }
  } finally {
    rmSync(folder, { recursive: true, force: true })
  }
  if (options.redisUrl) {
    const prefix = `killswitch-reach-${randomUUID()}:`
    const store = redisStore({ url: options.redisUrl, prefix })
    try {
      for (const busy of [false, true])
        rows.push(await measure('redis', store, ['redis', options.redisUrl, prefix], trials, busy))
    } finally {
      await store.close()
    }
  }
  return rows
}

if (import.meta.main) {
  const rows = await benchRevocationReach({ redisUrl: redisUrlFromEnv() })
  console.table(
    rows.flatMap((row) =>
      (['abort', 'refusal', 'revoke'] as const).map((what) => ({
        store: row.store,
        caller: row.busy ? 'busy' : 'idle',
        what,
        'p50 ms': row[what].p50.toFixed(2),
        'p99 ms': row[what].p99.toFixed(2),
        'max ms': row[what].max.toFixed(2),
      })),
    ),
  )
}
