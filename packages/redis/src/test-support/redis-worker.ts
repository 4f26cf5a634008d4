// A worker process for the Redis multi-process tests and benchmark (not part of the package).
// Started with child_process.fork: `node redis-worker.ts <url> <prefix> <mode> <json config>`,
// it talks to its parent over IPC.
//
// It runs the TypeScript sources directly (Node 22 strips types), as vitest does, so the
// tests need no build and never run a stale dist: a resolve hook maps `@killswitch/core` to
// its src and the `.js` suffixes of relative imports to their `.ts` files.
import { registerHooks } from 'node:module'

const coreSource = new URL('../../../core/src/index.ts', import.meta.url).href
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

const { redisStore } = await import('../redis-store.js')
const { createKillSwitch } = await import('@killswitch/core')

type Config = Record<string, unknown> & { handle: string }
const [url, prefix, mode, rawConfig] = process.argv.slice(2)
if (!url || !prefix || !mode) throw new Error('usage: redis-worker.ts <url> <prefix> <mode> <json>')
const config = JSON.parse(rawConfig ?? '{}') as Config
const send = (message: unknown) => process.send?.(message)
const clock = config.clock === 'caller' ? 'caller' : 'server'
const store = redisStore({ url, prefix, clock })
const codeOf = (error: unknown) => (error as { code?: string } | undefined)?.code

if (mode === 'spend') {
  // Reserve then settle at the full amount until the cap refuses; store errors (an outage)
  // are counted and the loop goes on, as a fleet would retry.
  const amounts = config.amounts as number[]
  const go = new Promise((resolve) => process.once('message', resolve))
  send({ type: 'ready' })
  await go
  let settledMicros = 0
  let refused = 0
  let unavailable = 0
  for (const [i, amount] of amounts.entries()) {
    const holdId = `${process.pid}-${i}`
    try {
      const now = Date.now()
      const reserved = await store.reserve({
        handle: config.handle,
        holdId,
        amountMicros: amount,
        ttlMs: 60_000,
        now,
      })
      if (!reserved.ok) {
        refused++
        continue
      }
    } catch (error) {
      if (codeOf(error) !== 'store_unavailable') throw error
      unavailable++
      await new Promise((resolve) => setTimeout(resolve, 5))
      continue
    }
    // Settle is idempotent per hold id: retry it until the store answers.
    for (;;) {
      try {
        await store.settle({ handle: config.handle, holdId, costMicros: amount, now: Date.now() })
        break
      } catch (error) {
        if (codeOf(error) !== 'store_unavailable') throw error
        unavailable++
        await new Promise((resolve) => setTimeout(resolve, 20))
      }
    }
    settledMicros += amount
    if (config.pauseMs)
      await new Promise((resolve) => setTimeout(resolve, config.pauseMs as number))
  }
  send({ type: 'done', settledMicros, refused, unavailable })
  await store.close()
  process.disconnect?.()
} else if (mode === 'guard') {
  // A guarded model call in flight when another process revokes the agent.
  const ks = createKillSwitch({ store })
  const guard = ks.guard(config.credential as string)
  const call = { model: 'gpt-4o', input: 'hello', maxOutputTokens: 50 }
  await guard.beforeModelCall(call)
  const aborted = new Promise((resolve) =>
    guard.signal.addEventListener('abort', resolve, { once: true }),
  )
  const keepAlive = setInterval(() => {}, 1_000) // stands in for the provider's open socket
  send({ type: 'inflight' })
  await aborted
  clearInterval(keepAlive)
  send({ type: 'aborted', code: codeOf(guard.signal.reason) })
  try {
    await guard.beforeModelCall(call)
    send({ type: 'next', ok: true })
  } catch (error) {
    send({ type: 'next', ok: false, code: codeOf(error) })
  }
  await ks.close()
  await store.close()
  process.disconnect?.()
} else if (mode === 'refusal') {
  // For the benchmark: on hearing a revocation, make the next call at once and report when
  // it was refused, on the clock shared by every process of the machine.
  store.subscribe(async (event) => {
    if (event.type !== 'revoked') return
    const now = Date.now()
    const result = await store.reserve({
      handle: event.handle,
      holdId: `after-${event.handle}`,
      amountMicros: 1,
      ttlMs: 60_000,
      now,
    })
    if (!result.ok && result.reason === 'revoked') {
      send({
        type: 'refused',
        handle: event.handle,
        at: performance.timeOrigin + performance.now(),
      })
    }
  })
  process.on('message', async (message: { type: string }) => {
    if (message.type === 'exit') {
      await store.close()
      process.exit(0)
    }
  })
  // Ready once subscribed and caught up: a reserve waits for exactly that.
  await store.reserve({
    handle: 'no-such-agent',
    holdId: 'warm-up',
    amountMicros: 1,
    ttlMs: 1,
    now: 0,
  })
  send({ type: 'ready' })
} else if (mode === 'hold') {
  // Settles some calls and keeps others held, then waits to be killed with SIGKILL.
  const { holds, settles, ttlMs } = config as Config & {
    holds: number
    settles: number
    ttlMs: number
  }
  const start = Date.now()
  const entry = (type: 'hold' | 'settled' | 'alert', data: Record<string, unknown>) => ({
    at: start,
    handle: config.handle,
    type,
    summary: `${type} by worker ${process.pid}`,
    data,
  })
  for (let i = 0; i < settles; i++) {
    const holdId = `settled-${i}`
    await store.reserve({
      handle: config.handle,
      holdId,
      amountMicros: 1_000,
      ttlMs: 60_000,
      now: start,
      audit: entry('hold', { holdId }),
    })
    await store.settle({
      handle: config.handle,
      holdId,
      costMicros: 700,
      now: start,
      audit: entry('settled', { holdId }),
    })
  }
  let expiresAt = 0
  for (let i = 0; i < holds; i++) {
    const held = await store.reserve({
      handle: config.handle,
      holdId: `held-${i}`,
      amountMicros: 1_000,
      ttlMs,
      now: start,
    })
    if (held.ok) expiresAt = held.expiresAt
  }
  store.appendAudit(entry('alert', { note: 'appended before the crash' }))
  await store.flush()
  if (config.revoke)
    await store.revokeAgent(config.revoke as string, 'revoked before the crash', start)
  send({ type: 'holding', expiresAt })
  setInterval(() => {}, 1_000)
} else {
  throw new Error(`unknown mode ${mode}`)
}
