import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import { afterAll, describe, expect, it } from 'vitest'
import type { AuditEntry } from '../audit.js'
import { describeStoreConformance, testAgentRecord } from '../conformance.js'
import { AgentRevokedError, InvalidConfigError, StoreUnavailableError } from '../errors.js'
import { createKillSwitch } from '../kill-switch.js'
import type { Store, StoreEvent } from '../store.js'
import { sqliteStoreFiles } from './sqlite-files.js'
import { ENDED_GENERATION_MS, SQLITE_SCHEMA_VERSION } from './sqlite-schema.js'
import { createOwnerOnly, sqliteStore } from './sqlite-store.js'

const root = mkdtempSync(join(tmpdir(), 'killswitch-sqlite-'))
afterAll(() => rmSync(root, { recursive: true, force: true }))
let files = 0
const newPath = () => join(root, `state-${files++}`, 'state.db')

const entry = (handle: string, type: AuditEntry['type'], at: number): AuditEntry => ({
  at,
  handle,
  type,
  summary: `${type} at ${at}`,
  data: { at },
})

// One file for the whole suite, opened afresh by every test (handles are unique), and a
// second connection to it as the peer: that is two "processes" sharing a file.
const shared = newPath()
describeStoreConformance('sqlite', (options) => sqliteStore(shared, options), {
  openPeer: () => sqliteStore(shared),
  propertyRuns: 40,
})

describe('sqliteStore', () => {
  const open: Store[] = []
  const openStore = (path: string, options?: Parameters<typeof sqliteStore>[1]) => {
    const store = sqliteStore(path, options)
    open.push(store)
    return store
  }
  afterAll(async () => {
    await Promise.all(open.map((store) => store.close()))
  })

  it('creates its folder with a .gitignore, so a state folder is never committed', () => {
    const path = newPath()
    openStore(path)
    expect(existsSync(path)).toBe(true)
    expect(readFileSync(join(path, '..', '.gitignore'), 'utf8')).toContain('*')
  })

  it('keeps agents, spend, holds, revocations and audit across a restart', async () => {
    const path = newPath()
    const first = openStore(path)
    await first.createAgent(testAgentRecord('kept', 10_000))
    await first.createAgent(testAgentRecord('killed', 10_000))
    await first.reserve({
      handle: 'kept',
      holdId: 's',
      amountMicros: 500,
      ttlMs: 90_000,
      now: 1_000,
    })
    await first.settle({
      handle: 'kept',
      holdId: 's',
      costMicros: 300,
      now: 1_100,
      audit: entry('kept', 'settled', 1_100),
    })
    await first.reserve({
      handle: 'kept',
      holdId: 'live',
      amountMicros: 700,
      ttlMs: 90_000,
      now: 1_200,
    })
    await first.revokeAgent('killed', 'runaway loop', 1_300, entry('killed', 'revoked', 1_300))
    first.appendAudit(entry('kept', 'alert', 1_400))
    await first.close()

    const second = openStore(path)
    expect(await second.getAgent('kept', 2_000)).toMatchObject({
      spentMicros: 300,
      heldMicros: 700,
    })
    expect(await second.getAgent('killed', 2_000)).toMatchObject({
      status: 'revoked',
      revokedReason: 'runaway loop',
      revokedAt: 1_300,
    })
    expect((await second.readAudit('kept')).map((item) => item.type)).toEqual(['settled', 'alert'])
    // Idempotency survives the restart too: a retried settle does not charge twice.
    expect(
      (await second.settle({ handle: 'kept', holdId: 's', costMicros: 300, now: 2_000 })).outcome,
    ).toBe('duplicate')
  })

  it('keeps a revoked credential dead across a kill switch restart', async () => {
    const path = newPath()
    const first = createKillSwitch({ store: openStore(path) })
    const agent = await first.agents.create({ handle: 'restarted', spendingCap: 1 })
    await first.agents.revoke('restarted', { reason: 'runaway loop' })
    await first.close()

    const second = createKillSwitch({ store: openStore(path) })
    expect(await second.verify(agent.credential)).toMatchObject({ active: false })
    await expect(
      second
        .guard(agent.credential)
        .beforeModelCall({ model: 'gpt-4o', input: 'hi', maxOutputTokens: 10 }),
    ).rejects.toSatisfy(AgentRevokedError.isInstance)
    expect((await second.audit('restarted')).map((entry) => entry.type)).toEqual([
      'created',
      'revoked',
      'denied',
    ])
    await second.close()
  })

  it('does not hold twice when a reserve is retried with the same hold id', async () => {
    const store = openStore(newPath())
    await store.createAgent(testAgentRecord('retry', 1_000))
    await store.reserve({
      handle: 'retry',
      holdId: 'same',
      amountMicros: 400,
      ttlMs: 8_000,
      now: 1_000,
    })
    await store.reserve({
      handle: 'retry',
      holdId: 'same',
      amountMicros: 400,
      ttlMs: 8_000,
      now: 1_000,
    })
    expect((await store.getAgent('retry', 1_000))?.heldMicros).toBe(400)
    await store.settle({ handle: 'retry', holdId: 'same', costMicros: 400, now: 1_001 })
    expect(await store.getAgent('retry', 1_001)).toMatchObject({ heldMicros: 0, spentMicros: 400 })
  })

  it('buffers appendAudit off the caller path and persists it on flush', async () => {
    const path = newPath()
    const store = openStore(path)
    await store.createAgent(testAgentRecord('buffered', 1_000))
    store.appendAudit(entry('buffered', 'created', 1))
    const reader = new DatabaseSync(path, { readOnly: true })
    const count = () => (reader.prepare('SELECT COUNT(*) AS n FROM audit').get() as { n: number }).n
    // Nothing written synchronously: appending costs the caller no I/O.
    expect(count()).toBe(0)
    await store.flush()
    expect(count()).toBe(1)
    reader.close()
  })

  it('refuses a file written by a newer schema, and leaves it untouched', async () => {
    const path = newPath()
    await openStore(path).close()
    const raw = new DatabaseSync(path)
    raw.exec(`PRAGMA user_version = ${SQLITE_SCHEMA_VERSION + 1}`)
    raw.close()
    let caught: unknown
    try {
      sqliteStore(path)
    } catch (error) {
      caught = error
    }
    expect(StoreUnavailableError.isInstance(caught)).toBe(true)
    expect((caught as Error).message).toMatch(/newer .* Upgrade @killswitch\/core/)
    const check = new DatabaseSync(path, { readOnly: true })
    expect(check.prepare('PRAGMA user_version').get()).toMatchObject({
      user_version: SQLITE_SCHEMA_VERSION + 1,
    })
    check.close()
  })

  it('fails closed with StoreUnavailableError when another process holds the lock too long', async () => {
    const path = newPath()
    const store = openStore(path, { busyTimeoutMs: 30 })
    await store.createAgent(testAgentRecord('locked', 1_000))
    store.appendAudit(entry('locked', 'created', 1))
    const other = new DatabaseSync(path)
    other.exec('BEGIN IMMEDIATE')
    await expect(
      store.reserve({ handle: 'locked', holdId: 'l', amountMicros: 1, ttlMs: 8_000, now: 1 }),
    ).rejects.toSatisfy(
      (error: Error) =>
        StoreUnavailableError.isInstance(error) && /sqlite store at .* reserve/.test(error.message),
    )
    await expect(store.flush()).rejects.toSatisfy(StoreUnavailableError.isInstance)
    other.exec('COMMIT')
    other.close()
    // Back once the lock is gone; the audit entry that could not be written is still there.
    expect(
      (
        await store.reserve({
          handle: 'locked',
          holdId: 'l',
          amountMicros: 1,
          ttlMs: 8_000,
          now: 1,
        })
      ).ok,
    ).toBe(true)
    expect((await store.readAudit('locked')).map((item) => item.type)).toEqual(['created'])
  })

  it('waits for a busy write lock without blocking the event loop', async () => {
    const path = newPath()
    const store = openStore(path, { busyTimeoutMs: 2_000 })
    await store.createAgent(testAgentRecord('busy', 1_000))
    const other = new DatabaseSync(path)
    other.exec('BEGIN IMMEDIATE')
    let ticks = 0
    const ticker = setInterval(() => ticks++, 5)
    const reserve = store.reserve({
      handle: 'busy',
      holdId: 'b',
      amountMicros: 1,
      ttlMs: 8_000,
      now: 1,
    })
    // The reserve waits for the lock while timers keep firing (a synchronous busy wait
    // would freeze them all until the lock is released).
    await new Promise((resolve) => setTimeout(resolve, 200))
    const ticksWhileLocked = ticks
    other.exec('COMMIT')
    other.close()
    expect((await reserve).ok).toBe(true)
    clearInterval(ticker)
    expect(ticksWhileLocked).toBeGreaterThan(5)
  })

  it('fails closed once its file is deleted or replaced under it', async () => {
    const path = newPath()
    const store = openStore(path)
    await store.createAgent(testAgentRecord('gone', 1_000_000))
    // Every file of it (a revocations file kept would be refused beside a new ledger).
    for (const file of sqliteStoreFiles(path)) rmSync(file, { force: true })
    // Another process starts afresh on the same path: the old one must not keep admitting.
    const fresh = openStore(path)
    await fresh.createAgent(testAgentRecord('gone', 1))
    // The identity is checked at most once a millisecond (a stat per operation is too dear).
    await new Promise((resolve) => setTimeout(resolve, 5))
    await expect(
      store.reserve({ handle: 'gone', holdId: 'x', amountMicros: 1, ttlMs: 8_000, now: 1 }),
    ).rejects.toSatisfy(
      (error: Error) =>
        StoreUnavailableError.isInstance(error) && /deleted or replaced/.test(error.message),
    )
    await expect(store.getAgent('gone', 1)).rejects.toSatisfy(StoreUnavailableError.isInstance)
  })

  it('stops the calls in flight at once when its folder is deleted under it', async () => {
    const path = newPath()
    const ks = createKillSwitch({
      store: sqliteStore(path),
      prices: { m: { inputPerMTok: 1, outputPerMTok: 1 } },
    })
    const { credential } = await ks.agents.create({ handle: 'a', spendingCap: 5 })
    const call = await ks.guard(credential).startModelCall({ model: 'm', input: 'hi' })
    // A provider streaming until it is stopped.
    const running = call
      .run(
        ({ signal }) =>
          new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason))),
      )
      .catch((error: unknown) => error)

    const deleted = performance.now()
    rmSync(join(path, '..'), { recursive: true, force: true })
    // Red team rt41b: it streamed on to its second failed renewal, 19 s later.
    const stopped = await Promise.race([
      running,
      new Promise((resolve) => setTimeout(() => resolve('still running'), 3_000)),
    ])

    expect(stopped).toSatisfy(StoreUnavailableError.isInstance)
    expect((stopped as Error).message).toMatch(/deleted or replaced/)
    expect(performance.now() - deleted).toBeLessThan(3_000)
    // Not awaited: its settle is retried until close gives up on a store that is gone (10 s).
    void ks.close().catch(() => undefined)
  })

  it('keeps working when the process changes directory after opening it by a relative path', async () => {
    const folder = join(root, `relative-${files++}`)
    mkdirSync(join(folder, 'elsewhere'), { recursive: true })
    const before = process.cwd()
    process.chdir(folder)
    try {
      const ks = createKillSwitch({
        store: sqliteStore('.killswitch/state.db'),
        prices: { m: { inputPerMTok: 1, outputPerMTok: 1 } },
      })
      const { credential } = await ks.agents.create({ handle: 'a', spendingCap: 5 })
      const guard = ks.guard(credential)
      const call = await guard.startModelCall({ model: 'm', input: 'hi' })
      let answer = () => {}
      const running = call.run(
        ({ signal }) =>
          new Promise<void>((resolve, reject) => {
            answer = resolve
            signal.addEventListener('abort', () => reject(signal.reason))
          }),
      )
      // Red team rt42a: the store read its relative path from the new directory as deleted,
      // and stopped every call in flight.
      process.chdir(join(folder, 'elsewhere'))
      await new Promise((resolve) => setTimeout(resolve, 300))
      expect(call.signal.aborted).toBe(false)
      await guard.check()
      answer()
      await running
      await call.finish({ usage: { inputTokens: 1, outputTokens: 1 } })
      expect(await ks.agents.get('a')).toMatchObject({ status: 'active', held: 0 })
      await ks.close()
    } finally {
      process.chdir(before)
    }
  })

  it('creates its file and folder owner-only (they hold webhook secrets)', () => {
    const path = newPath()
    openStore(path)
    expect(statSync(path).mode & 0o777).toBe(0o600)
    expect(statSync(join(path, '..')).mode & 0o777).toBe(0o700)
  })

  it('creates a new database file owner-only from its first instant, even in a folder open to all and under umask 0', () => {
    const folder = join(root, `open-${Date.now()}`)
    mkdirSync(folder, { mode: 0o755 })
    const path = join(folder, 'state.db')
    const umask = process.umask(0)
    try {
      // What sqlite opens: already there, owner-only (a chmod after sqlite made it readable
      // by all would not take back a handle another user opened meanwhile).
      createOwnerOnly(path)
      expect(statSync(path).mode & 0o777).toBe(0o600)
      writeFileSync(path, '')
      createOwnerOnly(path) // an existing file: left as it is, no error
      const store = openStore(path)
      expect(store).toBeDefined()
      for (const file of [path, `${path}-wal`, `${path}-shm`]) {
        expect(statSync(file).mode & 0o777).toBe(0o600)
      }
    } finally {
      process.umask(umask)
    }
  })

  it('prunes finished holds in small batches, a generation at a time, keeping lapsed ones longer', async () => {
    const path = newPath()
    const store = openStore(path, { holdRetentionMs: 1_000 })
    // Two generations of ended holds on: the first is past the retention, the second not.
    const pruneAt = 2 * ENDED_GENERATION_MS
    await store.createAgent(testAgentRecord('prune', 1_000_000_000))
    for (let i = 0; i < 600; i++) {
      await store.reserve({
        handle: 'prune',
        holdId: `h${i}`,
        amountMicros: 1,
        ttlMs: 60_000,
        now: 1_000,
      })
      await store.settle({ handle: 'prune', holdId: `h${i}`, costMicros: 1, now: 1_000 })
    }
    await store.reserve({
      handle: 'prune',
      holdId: 'lapse',
      amountMicros: 5,
      ttlMs: 10,
      now: 1_000,
    })
    // Ended in the second generation, before the first is past the retention.
    const recent = ENDED_GENERATION_MS + 500
    await store.reserve({
      handle: 'prune',
      holdId: 'recent',
      amountMicros: 1,
      ttlMs: 60_000,
      now: recent,
    })
    await store.settle({ handle: 'prune', holdId: 'recent', costMicros: 1, now: recent })
    const count = () => {
      const db = new DatabaseSync(path, { readOnly: true })
      const row = db
        .prepare(`SELECT (SELECT COUNT(*) FROM ended_holds) + (SELECT COUNT(*) FROM lapsed_holds)
          + (SELECT COUNT(*) FROM live_holds) AS n`)
        .get() as { n: number }
      db.close()
      return row.n
    }
    expect(count()).toBe(602)
    // Each reserve past the retention prunes one batch of at most 256, never all at once.
    for (const [i, expected] of [602 + 1 - 256, 602 + 2 - 512, 5].entries()) {
      await store.reserve({
        handle: 'prune',
        holdId: `p${i}`,
        amountMicros: 1,
        ttlMs: 60_000,
        now: pruneAt + i,
      })
      expect(count()).toBe(expected)
    }
    // The 600 settled holds of the first generation are gone; the one of the second, the
    // lapsed one (kept 7 days) and the live ones stay, and still answer for themselves.
    expect(
      (await store.settle({ handle: 'prune', holdId: 'recent', costMicros: 1, now: pruneAt + 3 }))
        .outcome,
    ).toBe('duplicate')
    expect(
      (await store.settle({ handle: 'prune', holdId: 'lapse', costMicros: 2, now: pruneAt + 3 }))
        .outcome,
    ).toBe('corrected')
  })

  it('keeps the audit log for good by default, and for auditRetentionMs when set', async () => {
    const path = newPath()
    const store = openStore(path, { auditRetentionMs: 10_000 })
    await store.createAgent(testAgentRecord('aged', 1_000_000))
    for (let i = 0; i < 300; i++) store.appendAudit(entry('aged', 'alert', 1_000 + i))
    store.appendAudit(entry('aged', 'alert', 50_000))
    await store.flush()
    await store.reserve({
      handle: 'aged',
      holdId: 'a',
      amountMicros: 1,
      ttlMs: 60_000,
      now: 55_000,
    })
    // One small batch per prune, never the whole log at once.
    expect((await store.readAudit('aged')).length).toBe(301 - 256)
    await store.reserve({
      handle: 'aged',
      holdId: 'b',
      amountMicros: 1,
      ttlMs: 60_000,
      now: 56_001,
    })
    expect((await store.readAudit('aged')).map((item) => item.at)).toEqual([50_000])
    const forever = openStore(newPath())
    await forever.createAgent(testAgentRecord('kept', 1_000_000))
    forever.appendAudit(entry('kept', 'alert', 1))
    await forever.reserve({
      handle: 'kept',
      holdId: 'a',
      amountMicros: 1,
      ttlMs: 60_000,
      now: 10 ** 12,
    })
    expect((await forever.readAudit('kept')).length).toBe(1)
  })

  it('fails closed when the file cannot be opened, and after close', async () => {
    const folder = join(root, 'a-folder')
    mkdirSync(folder, { recursive: true })
    expect(() => sqliteStore(folder)).toThrow(StoreUnavailableError)
    const garbage = join(root, 'not-a-database.db')
    writeFileSync(garbage, 'this is not a sqlite file, and it is long enough to have a header')
    expect(() => sqliteStore(garbage)).toThrow(/could not open the file \(file is not a database\)/)
    const store = sqliteStore(newPath())
    await store.close()
    await expect(store.getAgent('x', 1)).rejects.toSatisfy(StoreUnavailableError.isInstance)
    expect(() => store.appendAudit(entry('x', 'created', 1))).toThrow(StoreUnavailableError)
  })

  it('rejects invalid options with InvalidConfigError naming the field', () => {
    expect(() => sqliteStore('')).toThrow(InvalidConfigError)
    try {
      sqliteStore(newPath(), { pollIntervalMs: 0 })
      expect.unreachable()
    } catch (error) {
      expect((error as InvalidConfigError).field).toBe('pollIntervalMs')
    }
  })

  it("hears another connection's revocation once, not its own twice", async () => {
    const path = newPath()
    const a = openStore(path)
    const b = openStore(path)
    await a.createAgent(testAgentRecord('x1', 1_000))
    await a.createAgent(testAgentRecord('x2', 1_000))
    const heardByA: StoreEvent[] = []
    const heardByB: StoreEvent[] = []
    a.subscribe((event) => heardByA.push(event))
    b.subscribe((event) => heardByB.push(event))
    await a.revokeAgent('x1', 'from a', 10)
    await b.revokeAgent('x2', 'from b', 11)
    await b.updateAgent('x2', { capMicros: 5 }, 12)
    const revocations = (events: StoreEvent[]) =>
      events
        .filter((event) => event.type === 'revoked')
        .map((event) => event.handle)
        .sort()
    const deadline = Date.now() + 3_000
    while (Date.now() < deadline && (heardByA.length < 3 || heardByB.length < 3)) {
      await new Promise((resolve) => setTimeout(resolve, 5))
    }
    expect(revocations(heardByA)).toEqual(['x1', 'x2'])
    expect(revocations(heardByB)).toEqual(['x1', 'x2'])
    expect(heardByA).toContainEqual({ type: 'revoked', handle: 'x2', reason: 'from b', at: 11 })
    expect(heardByA).toContainEqual({ type: 'updated', handle: 'x2' })
  })
})
