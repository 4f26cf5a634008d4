// Several real processes sharing one sqlite file: no overspend, revocation reaches the other
// process, and a process killed with SIGKILL leaves a consistent ledger behind.
import { type ChildProcess, fork } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { testAgentRecord } from '../conformance.js'
import { createKillSwitch } from '../kill-switch.js'
import { sqliteStore } from './sqlite-store.js'

const workerFile = fileURLToPath(new URL('./sqlite-worker.ts', import.meta.url))
const root = mkdtempSync(join(tmpdir(), 'killswitch-sqlite-mp-'))
afterAll(() => rmSync(root, { recursive: true, force: true }))
let files = 0
const newPath = () => join(root, `state-${files++}.db`)

type Message = { type: string } & Record<string, unknown>

interface Worker {
  child: ChildProcess
  messages: Message[]
  next(type: string): Promise<Message>
  exited: Promise<number | null>
}

const workers: Worker[] = []
afterEach(() => {
  for (const worker of workers.splice(0))
    if (worker.child.exitCode === null) worker.child.kill('SIGKILL')
})

function startWorker(path: string, mode: string, config: Record<string, unknown>): Worker {
  const child = fork(workerFile, [path, mode, JSON.stringify(config)], {
    execArgv: ['--disable-warning=ExperimentalWarning'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
  const messages: Message[] = []
  const waiters: { type: string; resolve: (message: Message) => void }[] = []
  let consumed = 0
  child.on('message', (message: Message) => {
    messages.push(message)
    const index = waiters.findIndex((waiter) => waiter.type === message.type)
    if (index >= 0) {
      consumed = messages.length
      waiters.splice(index, 1)[0]?.resolve(message)
    }
  })
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
  const worker: Worker = {
    child,
    messages,
    exited,
    next(type) {
      const earlier = messages.slice(consumed).find((message) => message.type === type)
      if (earlier) {
        consumed = messages.indexOf(earlier) + 1
        return Promise.resolve(earlier)
      }
      return new Promise((resolve, reject) => {
        waiters.push({ type, resolve })
        exited.then((code) => reject(new Error(`worker exited (${code}) before sending "${type}"`)))
      })
    },
  }
  workers.push(worker)
  return worker
}

/** Deterministic amounts (a small LCG), so a failure reproduces. */
function amounts(seed: number, count: number, min: number, max: number): number[] {
  let state = seed
  return Array.from({ length: count }, () => {
    state = (state * 1_103_515_245 + 12_345) % 2 ** 31
    return min + (state % (max - min + 1))
  })
}

describe('sqliteStore across processes', () => {
  it('never overspends one cap from four processes spending at once', {
    timeout: 60_000,
  }, async () => {
    const path = newPath()
    const cap = 2_000_000
    const setup = sqliteStore(path)
    await setup.createAgent(testAgentRecord('shared', cap))
    const spenders = [1, 2, 3, 4].map((seed) =>
      startWorker(path, 'spend', { handle: 'shared', amounts: amounts(seed, 150, 5_000, 40_000) }),
    )
    await Promise.all(spenders.map((worker) => worker.next('ready')))
    for (const worker of spenders) worker.child.send({ type: 'go' })
    const reports = await Promise.all(spenders.map((worker) => worker.next('done')))
    const settled = reports.reduce((sum, report) => sum + (report.settledMicros as number), 0)
    const agent = await setup.getAgent('shared', Date.now())
    // Exactly what the workers were granted and settled: no lost update, no double count.
    expect(agent?.spentMicros).toBe(settled)
    expect(settled).toBeLessThanOrEqual(cap)
    expect(agent?.heldMicros).toBe(0)
    // The cap was really reached (600 attempts of $0.005-$0.04 against $2): the test bit.
    expect(cap - settled).toBeLessThan(40_000)
    expect(reports.reduce((sum, report) => sum + (report.refused as number), 0)).toBeGreaterThan(0)
    await setup.close()
  })

  it("a revocation in one process reaches another's subscription and refuses its next call", async () => {
    const path = newPath()
    const admin = sqliteStore(path)
    await admin.createAgent(testAgentRecord('watched', 1_000_000))
    const watcher = startWorker(path, 'watch', { handle: 'watched' })
    await watcher.next('ready')
    watcher.child.send({ type: 'reserve', holdId: 'before' })
    expect(await watcher.next('reserved')).toMatchObject({ ok: true })
    await admin.revokeAgent('watched', 'operator pulled the switch', Date.now())
    expect(await watcher.next('revoked')).toMatchObject({
      handle: 'watched',
      reason: 'operator pulled the switch',
    })
    watcher.child.send({ type: 'reserve', holdId: 'after' })
    expect(await watcher.next('reserved')).toMatchObject({ ok: false, reason: 'revoked' })
    watcher.child.send({ type: 'exit' })
    expect(await watcher.exited).toBe(0)
    await admin.close()
  })

  it("a revocation in one process aborts another's in-flight guarded call and refuses the next", async () => {
    const path = newPath()
    const store = sqliteStore(path)
    const ks = createKillSwitch({ store })
    const agent = await ks.agents.create({ handle: 'inflight', spendingCap: 5 })
    const worker = startWorker(path, 'guard', { handle: 'inflight', credential: agent.credential })
    await worker.next('inflight')
    await ks.agents.revoke('inflight', { reason: 'operator pulled the switch' })
    expect(await worker.next('aborted')).toMatchObject({ code: 'agent_revoked' })
    expect(await worker.next('next')).toMatchObject({ ok: false, code: 'agent_revoked' })
    await ks.close()
    await store.close()
  })

  it('a revoke opening the file while other processes open and close it never fails', {
    timeout: 60_000,
  }, async () => {
    // Each CLI command opens the file, acts and closes it: a script revoking agents while
    // `watch killswitch agents list` runs must not meet "database is locked".
    const path = newPath()
    const setup = sqliteStore(path)
    const handles = Array.from({ length: 30 }, (_, i) => `agent-${i}`)
    for (const handle of handles) await setup.createAgent(testAgentRecord(handle, 1_000_000))
    await setup.close()
    const listers = [0, 1].map(() => startWorker(path, 'reopen', { handle: 'unused' }))
    await Promise.all(listers.map((worker) => worker.next('ready')))
    const failed: string[] = []
    for (const handle of handles) {
      const store = sqliteStore(path)
      const ks = createKillSwitch({ store, runaway: false })
      try {
        await ks.agents.revoke(handle, { reason: 'incident' })
      } catch (error) {
        failed.push(`${handle}: ${(error as Error).message}`)
      } finally {
        await ks.close()
        await store.close()
      }
    }
    for (const worker of listers) worker.child.send({ type: 'stop' })
    const done = await Promise.all(listers.map((worker) => worker.next('done')))
    expect(failed).toEqual([])
    for (const report of done) {
      expect(report.failures).toBe(0)
      expect(report.opens).toBeGreaterThan(0)
    }
    const after = sqliteStore(path)
    const active = (await after.listAgents(Date.now())).filter((a) => a.status === 'active')
    await after.close()
    expect(active).toEqual([])
  })

  it('processes opening one new file at once all open it, as one ledger with its revocations file', {
    timeout: 60_000,
  }, async () => {
    // Each creates, migrates and names the ledger, or finds it named (sqlite-revocations.ts).
    const path = newPath()
    const openers = [0, 1, 2].map(() => startWorker(path, 'reopen', { handle: 'unused' }))
    await Promise.all(openers.map((worker) => worker.next('ready')))
    const here = sqliteStore(path)
    await here.createAgent(testAgentRecord('named', 1_000_000))
    await new Promise((resolve) => setTimeout(resolve, 200))
    for (const worker of openers) worker.child.send({ type: 'stop' })
    const done = await Promise.all(openers.map((worker) => worker.next('done')))
    for (const report of done) expect(report).toMatchObject({ failures: 0 })
    await here.close()
    await sqliteStore(path).close()
  })

  it('after a SIGKILL mid-call: holds lapse, settled spend, audit and revocations survive', async () => {
    const path = newPath()
    const setup = sqliteStore(path)
    await setup.createAgent(testAgentRecord('crasher', 1_000_000))
    await setup.createAgent(testAgentRecord('victim', 1_000_000))
    await setup.close()

    const crasher = startWorker(path, 'hold', {
      handle: 'crasher',
      holds: 3,
      settles: 2,
      ttlMs: 30_000,
      revoke: 'victim',
    })
    const { expiresAt } = (await crasher.next('holding')) as Message & { expiresAt: number }
    crasher.child.kill('SIGKILL')
    await crasher.exited

    // Every process restarts: a fresh connection sees only what was committed.
    const reopened = sqliteStore(path)
    expect(await reopened.getAgent('crasher', expiresAt - 1)).toMatchObject({
      spentMicros: 1_400,
      heldMicros: 3_000,
    })
    // Past the lease the crashed process's holds lapse: money may have left, so each is
    // charged in full, as unreconciled spend (never released as though nothing was spent).
    const after = expiresAt + 1
    expect(await reopened.getAgent('crasher', after)).toMatchObject({
      spentMicros: 4_400,
      heldMicros: 0,
      unreconciledMicros: 3_000,
    })
    const reserve = await reopened.reserve({
      handle: 'crasher',
      holdId: 'fresh',
      amountMicros: 1_000_000 - 4_400,
      ttlMs: 1_000,
      now: after,
    })
    expect(reserve.ok).toBe(true)
    const audit = await reopened.readAudit('crasher')
    // The crashed worker's holds were neither settled nor released: each lapse is audited
    // when it is charged, and together they account for the held $0.003.
    expect(audit.map((entry) => entry.type)).toEqual([
      'hold',
      'settled',
      'hold',
      'settled',
      'alert',
      'lapsed',
      'lapsed',
      'lapsed',
    ])
    const lapsed = audit.filter((entry) => entry.type === 'lapsed')
    expect(
      lapsed.reduce((sum, entry) => sum + Math.round(Number(entry.data.amount) * 1e6), 0),
    ).toBe(3_000)
    expect(await reopened.getAgent('victim', after)).toMatchObject({
      status: 'revoked',
      revokedReason: 'revoked before the crash',
    })
    await reopened.close()

    // And a restarted worker process is refused for the revoked agent.
    const restarted = startWorker(path, 'watch', { handle: 'victim' })
    await restarted.next('ready')
    restarted.child.send({ type: 'reserve', holdId: 'after-restart' })
    expect(await restarted.next('reserved')).toMatchObject({ ok: false, reason: 'revoked' })
  })
})
