// A worker process for the sqlite multi-process tests and benchmark (not part of the package).
// Started with child_process.fork: `node sqlite-worker.ts <db path> <mode> <json config>`,
// it talks to its parent over IPC (mode `full-disk` prints to stdout instead).
//
// It runs the TypeScript source directly (Node 22 strips types), so the tests need no build
// and can never run against a stale dist. Node does not map the `.js` suffixes of relative
// imports inside src to their `.ts` files, so a resolve hook does exactly that, first.
import { openSync, rmSync, writeSync } from 'node:fs'
import { registerHooks } from 'node:module'
import { dirname, join } from 'node:path'

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

const { sqliteStore } = await import('./sqlite-store.js')

type Config = Record<string, unknown> & { handle: string }
const [path, mode, rawConfig] = process.argv.slice(2)
if (!path || !mode) throw new Error('usage: sqlite-worker.ts <db path> <mode> <json config>')
const config = JSON.parse(rawConfig ?? '{}') as Config
const send = (message: unknown) => process.send?.(message)
if (mode === 'reopen') {
  // What each CLI command does: open the file, read, close; again until told to stop.
  let stop = false
  process.on('message', () => {
    stop = true
  })
  send({ type: 'ready' })
  let opens = 0
  let failures = 0
  while (!stop) {
    try {
      const each = sqliteStore(path)
      await each.listAgents(Date.now())
      await each.close()
    } catch {
      failures++
    }
    opens++
    await new Promise((resolve) => setImmediate(resolve))
  }
  send({ type: 'done', opens, failures })
  process.exit(0)
}
const store = sqliteStore(path, { pollIntervalMs: 5 })
const audit = (type: 'hold' | 'settled' | 'alert', at: number, data: Record<string, unknown>) => ({
  at,
  handle: config.handle,
  type,
  summary: `${type} by worker ${process.pid}`,
  data,
})

if (mode === 'full-disk') {
  // Run inside a small tmpfs of its own (`unshare --mount`, sqlite-store.full-disk.test.ts),
  // with no IPC: it fills the disk under the store at `path`, revokes three agents (the disk
  // refilled before each), frees the disk, reopens the store and prints what it saw as one
  // JSON line.
  const { createKillSwitch } = await import('../kill-switch.js')
  const filler = join(dirname(path), 'filler')
  const code = (error: unknown) => (error as { code?: string }).code ?? String(error)

  const ks = createKillSwitch({ store: sqliteStore(path) })
  const handles = ['a', 'b', 'c']
  const credentials: string[] = []
  for (const handle of handles) {
    credentials.push((await ks.agents.create({ handle, spendingCap: 5 })).credential)
  }

  /** The disk fills up (a runaway agent's logs), to the last byte: again after each revoke. */
  const fd = openSync(filler, 'a')
  const chunk = Buffer.alloc(4096)
  let filled = 0
  const fill = () => {
    try {
      for (;;) filled += writeSync(fd, chunk)
    } catch (error) {
      if (code(error) !== 'ENOSPC') throw error
    }
  }
  fill()
  const full = await ks.agents.update('a', { spendingCap: 6 }).then(
    () => 'written',
    (error: unknown) => code(error),
  )
  const revoke: string[] = []
  for (const handle of handles) {
    fill()
    revoke.push(
      await ks.agents.revoke(handle, { reason: 'disk full' }).then(
        () => 'revoked',
        (error: unknown) => code(error),
      ),
    )
  }
  // The disk is freed; nothing of this process is trusted: a new kill switch reads the files.
  rmSync(filler)
  await ks.close().catch(() => undefined)
  const later = createKillSwitch({ store: sqliteStore(path) })
  const status: string[] = []
  const verified: unknown[] = []
  for (const [i, handle] of handles.entries()) {
    status.push((await later.agents.get(handle)).status)
    verified.push(await later.verify(credentials[i] as string))
  }
  await later.close()
  process.stdout.write(`${JSON.stringify({ filled, full, revoke, status, verified })}\n`)
  process.exit(0)
}
if (mode === 'spend') {
  // Reserve then settle at the full amount, as fast as possible, until the cap refuses.
  const amounts = config.amounts as number[]
  // Start together: every worker is loaded and connected before any of them spends.
  const go = new Promise((resolve) => process.once('message', resolve))
  send({ type: 'ready' })
  await go
  let settledMicros = 0
  let admitted = 0
  let refused = 0
  for (const [i, amount] of amounts.entries()) {
    const holdId = `${process.pid}-${i}`
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
    admitted++
    await store.settle({ handle: config.handle, holdId, costMicros: amount, now: Date.now() })
    settledMicros += amount
  }
  send({ type: 'done', settledMicros, admitted, refused })
  await store.close()
  process.disconnect?.()
} else if (mode === 'watch') {
  // Reports revocations it hears, and reserves on request (the "next guarded call").
  store.subscribe((event) => {
    if (event.type === 'revoked')
      send({ type: 'revoked', handle: event.handle, reason: event.reason, heardAt: Date.now() })
  })
  process.on('message', async (message: { type: string; holdId: string }) => {
    if (message.type === 'reserve') {
      const now = Date.now()
      const result = await store.reserve({
        handle: config.handle,
        holdId: message.holdId,
        amountMicros: 1,
        ttlMs: 60_000,
        now,
      })
      send({ type: 'reserved', ok: result.ok, reason: result.ok ? undefined : result.reason })
    } else if (message.type === 'exit') {
      await store.close()
      process.exit(0)
    }
  })
  send({ type: 'ready' })
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
  send({ type: 'ready' })
} else if (mode === 'hold') {
  // Settles some calls and keeps others held, then waits to be killed with SIGKILL.
  const { holds, settles, ttlMs } = config as Config & {
    holds: number
    settles: number
    ttlMs: number
  }
  const start = Date.now()
  for (let i = 0; i < settles; i++) {
    const holdId = `settled-${i}`
    await store.reserve({
      handle: config.handle,
      holdId,
      amountMicros: 1_000,
      ttlMs: 60_000,
      now: start,
      audit: audit('hold', start, { holdId }),
    })
    await store.settle({
      handle: config.handle,
      holdId,
      costMicros: 700,
      now: start,
      audit: audit('settled', start, { holdId }),
    })
  }
  const expiresAt = start + ttlMs
  for (let i = 0; i < holds; i++) {
    await store.reserve({
      handle: config.handle,
      holdId: `held-${i}`,
      amountMicros: 1_000,
      ttlMs,
      now: start,
    })
  }
  store.appendAudit(audit('alert', Date.now(), { note: 'appended before the crash' }))
  await store.flush()
  if (config.revoke)
    await store.revokeAgent(config.revoke as string, 'revoked before the crash', Date.now())
  send({ type: 'holding', expiresAt })
  setInterval(() => {}, 1_000)
} else if (mode === 'guard') {
  // A guarded model call in flight when another process revokes the agent: the guard's
  // signal must abort, and the next call must be refused.
  const { createKillSwitch } = await import('../kill-switch.js')
  const ks = createKillSwitch({ store })
  const guard = ks.guard(config.credential as string)
  const call = { model: 'gpt-4o', input: 'hello', maxOutputTokens: 50 }
  await guard.beforeModelCall(call)
  const aborted = new Promise((resolve) =>
    guard.signal.addEventListener('abort', resolve, { once: true }),
  )
  // The provider's open socket would keep a real process alive meanwhile; this stands in.
  const keepAlive = setInterval(() => {}, 1_000)
  send({ type: 'inflight' })
  await aborted
  clearInterval(keepAlive)
  send({ type: 'aborted', code: (guard.signal.reason as { code?: string } | undefined)?.code })
  try {
    await guard.beforeModelCall(call)
    send({ type: 'next', ok: true })
  } catch (error) {
    send({ type: 'next', ok: false, code: (error as { code?: string }).code })
  }
  await ks.close()
  await store.close()
  process.disconnect?.()
} else {
  throw new Error(`unknown mode ${mode}`)
}
