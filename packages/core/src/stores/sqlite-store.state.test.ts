// What the sqlite store keeps on disk, and how its schema upgrades keep the ledger's
// answers: the agent's expiry bound (next_expiry) that replaced the global due index (v5),
// finished holds kept as compact rows, ended ones in generations of their end time (v8). The
// behaviour itself is held to the other stores by the conformance suite
// (sqlite-store.test.ts); these look at the file.
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import { afterAll, describe, expect, it } from 'vitest'
import { testAgentRecord } from '../conformance.js'
import type { Store } from '../store.js'
import { ENDED_GENERATION_MS, SQLITE_SCHEMA_VERSION } from './sqlite-schema.js'
import { sqliteStore } from './sqlite-store.js'

const root = mkdtempSync(join(tmpdir(), 'killswitch-sqlite-state-'))
const opened: Store[] = []
afterAll(async () => {
  await Promise.all(opened.map((store) => store.close()))
  rmSync(root, { recursive: true, force: true })
})
let files = 0
const newPath = () => join(root, `state-${files++}.db`)
const open = (path: string) => {
  const store = sqliteStore(path)
  opened.push(store)
  return store
}
const raw = <T>(path: string, body: (db: DatabaseSync) => T): T => {
  const db = new DatabaseSync(path)
  try {
    return body(db)
  } finally {
    db.close()
  }
}

/** Turns a current file back into what version 7 wrote: every finished hold in one table. */
const BACK_TO_V7 = `
  DROP TABLE ledger_identity;
  CREATE TABLE holds (
    handle TEXT NOT NULL,
    hold_id TEXT NOT NULL,
    amount_micros INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('held', 'settled', 'released', 'lapsed')),
    charged_micros INTEGER NOT NULL DEFAULT 0,
    updated_at INTEGER NOT NULL,
    levels TEXT NOT NULL DEFAULT '[]',
    PRIMARY KEY (handle, hold_id)
  ) STRICT, WITHOUT ROWID;
  INSERT INTO holds SELECT handle, hold_id, amount_micros, expires_at, state, charged_micros,
    updated_at, '[]' FROM ended_holds;
  INSERT INTO holds SELECT handle, hold_id, amount_micros, expires_at, state, charged_micros,
    updated_at, levels FROM lapsed_holds;
  DROP TABLE ended_holds;
  DROP TABLE lapsed_holds;
  CREATE INDEX holds_finished ON holds (updated_at) WHERE state <> 'held';
  ALTER TABLE live_holds DROP COLUMN label;
  PRAGMA user_version = 7;`

describe('sqliteStore on disk', () => {
  it('upgrades a v4 file: a hold live before the upgrade still lapses at its own expiry', async () => {
    const path = newPath()
    const before = open(path)
    await before.createAgent(testAgentRecord('old', 1_000_000))
    await before.reserve({
      handle: 'old',
      holdId: 'h',
      amountMicros: 500,
      ttlMs: 5_000,
      now: 1_000,
    })
    for (const at of [1, 2, 3]) await before.recordActivity('old', { at } as never, 10)
    await before.close()
    // Back to what version 4 wrote: live holds among the finished ones, their indexes, no
    // expiry bound, activity numbered by one AUTOINCREMENT seq.
    raw(path, (db) =>
      db.exec(`${BACK_TO_V7}
        INSERT INTO holds (handle, hold_id, amount_micros, expires_at, state,
          charged_micros, updated_at, levels)
          SELECT handle, hold_id, amount_micros, expires_at, 'held', 0, updated_at, levels
          FROM live_holds;
        DROP TABLE live_holds;
        CREATE TABLE activity_v1 (seq INTEGER PRIMARY KEY AUTOINCREMENT,
          handle TEXT NOT NULL, event TEXT NOT NULL) STRICT;
        INSERT INTO activity_v1 (seq, handle, event) SELECT seq, handle, event FROM activity;
        DROP TABLE activity;
        ALTER TABLE activity_v1 RENAME TO activity;
        CREATE INDEX activity_by_agent ON activity (handle, seq);
        ALTER TABLE agents DROP COLUMN next_expiry;
        CREATE INDEX holds_live ON holds (handle, expires_at) WHERE state = 'held';
        CREATE INDEX holds_due ON holds (expires_at) WHERE state = 'held';
        PRAGMA user_version = 4;`),
    )
    const after = open(path)
    // The activity window carries over the table's rebuild (v7), in order.
    expect(
      (await after.recordActivity('old', { at: 4 } as never, 10)).map(
        (event) => (event as { at: number }).at,
      ),
    ).toEqual([1, 2, 3, 4])
    expect(await after.getAgent('old', 5_999)).toMatchObject({ heldMicros: 500, spentMicros: 0 })
    expect(await after.getAgent('old', 6_000)).toMatchObject({
      heldMicros: 0,
      spentMicros: 500,
      unreconciledMicros: 500,
    })
    raw(path, (db) => {
      expect(db.prepare('PRAGMA user_version').get()).toEqual({
        user_version: SQLITE_SCHEMA_VERSION,
      })
      expect(
        db
          .prepare("SELECT name FROM sqlite_schema WHERE name IN ('holds_due', 'holds_live')")
          .all(),
      ).toEqual([])
      // The hold lapsed, so it now sits among the lapsed ones, and no live one is left.
      expect(db.prepare('SELECT state FROM lapsed_holds').all()).toEqual([{ state: 'lapsed' }])
      expect(db.prepare('SELECT COUNT(*) AS n FROM live_holds').get()).toEqual({ n: 0 })
    })
  })

  it('upgrades a v7 file: finished holds keep answering for themselves from their new tables', async () => {
    const path = newPath()
    const before = open(path)
    await before.createAgent(testAgentRecord('v7', 1_000_000))
    const hold = (holdId: string, ttlMs = 60_000) =>
      before.reserve({ handle: 'v7', holdId, amountMicros: 100, ttlMs, now: 1_000 })
    await hold('settled')
    await before.settle({ handle: 'v7', holdId: 'settled', costMicros: 60, now: 2_000 })
    await hold('released')
    await before.release({ handle: 'v7', holdId: 'released', now: 2_000 })
    await hold('lapsed', 10)
    expect(await before.getAgent('v7', 3_000)).toMatchObject({ spentMicros: 160 })
    await before.close()
    raw(path, (db) => db.exec(BACK_TO_V7))
    const after = open(path)
    raw(path, (db) => {
      expect(db.prepare('PRAGMA user_version').get()).toEqual({
        user_version: SQLITE_SCHEMA_VERSION,
      })
      expect(
        db.prepare('SELECT gen, hold_id, state FROM ended_holds ORDER BY hold_id').all(),
      ).toEqual([
        { gen: 0, hold_id: 'released', state: 'released' },
        { gen: 0, hold_id: 'settled', state: 'settled' },
      ])
      expect(db.prepare('SELECT hold_id, state FROM lapsed_holds').all()).toEqual([
        { hold_id: 'lapsed', state: 'lapsed' },
      ])
      expect(
        db.prepare("SELECT name FROM sqlite_schema WHERE name = 'holds_finished'").all(),
      ).toEqual([])
    })
    const settle = (holdId: string, now: number) =>
      after.settle({ handle: 'v7', holdId, costMicros: 30, now })
    expect((await settle('settled', 4_000)).outcome).toBe('duplicate')
    expect((await settle('lapsed', 4_000)).outcome).toBe('corrected')
    // An ended id is never reused.
    await expect(
      after.reserve({
        handle: 'v7',
        holdId: 'released',
        amountMicros: 1,
        ttlMs: 1_000,
        now: 5_000,
      }),
    ).rejects.toMatchObject({ field: 'holdId' })
    expect(await after.getAgent('v7', 5_000)).toMatchObject({
      spentMicros: 90,
      unreconciledMicros: 0,
    })
  })

  it('moves a hold that ends again to the table and generation of its last end, one row', async () => {
    const path = newPath()
    const store = open(path)
    await store.createAgent(testAgentRecord('moves', 1_000_000))
    // The next generation, still within the default retention of 15 minutes.
    const later = ENDED_GENERATION_MS + 1_000
    await store.reserve({
      handle: 'moves',
      holdId: 'r',
      amountMicros: 50,
      ttlMs: 60_000,
      now: 1_000,
    })
    await store.release({ handle: 'moves', holdId: 'r', now: 1_000 })
    await store.reserve({ handle: 'moves', holdId: 'l', amountMicros: 70, ttlMs: 10, now: 1_000 })
    expect(await store.getAgent('moves', 2_000)).toMatchObject({ spentMicros: 70 })
    const places = () =>
      raw(path, (db) => ({
        live: db.prepare('SELECT hold_id FROM live_holds').all(),
        ended: db.prepare('SELECT gen, hold_id, state FROM ended_holds ORDER BY hold_id').all(),
        lapsed: db.prepare('SELECT hold_id FROM lapsed_holds').all(),
      }))
    expect(places()).toEqual({
      live: [],
      ended: [{ gen: 0, hold_id: 'r', state: 'released' }],
      lapsed: [{ hold_id: 'l' }],
    })
    // A late settle of the released hold (money reported spent) and the lapsed one's truth,
    // a generation on: each leaves its old row for one in the new generation.
    const gen = Math.floor(later / ENDED_GENERATION_MS)
    expect(
      (await store.settle({ handle: 'moves', holdId: 'r', costMicros: 5, now: later })).outcome,
    ).toBe('late')
    expect(
      (await store.settle({ handle: 'moves', holdId: 'l', costMicros: 7, now: later })).outcome,
    ).toBe('corrected')
    expect(places()).toEqual({
      live: [],
      ended: [
        { gen, hold_id: 'l', state: 'settled' },
        { gen, hold_id: 'r', state: 'settled' },
      ],
      lapsed: [],
    })
    // Found again where they now are: repeats (at no higher a cost) are no-ops.
    for (const holdId of ['l', 'r']) {
      expect(
        (await store.settle({ handle: 'moves', holdId, costMicros: 5, now: later + 1 })).outcome,
      ).toBe('duplicate')
    }
    expect(await store.getAgent('moves', later + 1)).toMatchObject({ spentMicros: 12 })
  })

  it('refuses a hold retention it could not look up cheaply (over 7 days), writing nothing', () => {
    const path = newPath()
    expect(() => sqliteStore(path, { holdRetentionMs: 7 * 24 * 3600_000 + 1 })).toThrow(
      expect.objectContaining({ field: 'holdRetentionMs' }),
    )
    expect(existsSync(path)).toBe(false)
  })

  it('keeps the expiry bound early, never late: a renewed hold lapses at its new expiry', async () => {
    const path = newPath()
    const store = open(path)
    await store.createAgent(testAgentRecord('lease', 1_000_000))
    await store.reserve({ handle: 'lease', holdId: 'a', amountMicros: 7, ttlMs: 5_000, now: 1_000 })
    await store.reserve({ handle: 'lease', holdId: 'b', amountMicros: 3, ttlMs: 9_000, now: 1_000 })
    await store.renew({ handle: 'lease', holdId: 'a', ttlMs: 20_000, now: 2_000 })
    const bound = () =>
      raw(path, (db) => db.prepare("SELECT next_expiry FROM agents WHERE handle = 'lease'").get())
    // The bound still says 6,000 (a renewal never writes it): early, so only a lookup is due.
    expect(bound()).toEqual({ next_expiry: 6_000 })
    expect(await store.getAgent('lease', 7_000)).toMatchObject({ heldMicros: 10, spentMicros: 0 })
    expect(bound()).toEqual({ next_expiry: 10_000 })
    expect(await store.getAgent('lease', 10_000)).toMatchObject({ heldMicros: 7, spentMicros: 3 })
    expect(bound()).toEqual({ next_expiry: 22_000 })
    expect(await store.getAgent('lease', 22_000)).toMatchObject({ heldMicros: 0, spentMicros: 10 })
    // No live hold left: nothing is looked up again.
    expect(bound()).toEqual({ next_expiry: Number.MAX_SAFE_INTEGER })
  })

  it('keeps a settled hold as a compact row, and a lapsed one with its windows', async () => {
    const path = newPath()
    const store = open(path)
    await store.createAgent({
      ...testAgentRecord('compact', 1_000_000),
      limits: [{ amountMicros: 100_000, per: 'hour' }],
    })
    const reserved = await store.reserve({
      handle: 'compact',
      holdId: 'settled',
      amountMicros: 40,
      ttlMs: 60_000,
      now: 1_000,
    })
    const levels = reserved.ok ? reserved.levels : []
    expect(levels).toHaveLength(1)
    await store.settle({ handle: 'compact', holdId: 'settled', costMicros: 30, now: 1_100 })
    await store.reserve({
      handle: 'compact',
      holdId: 'lapsed',
      amountMicros: 50,
      ttlMs: 1_000,
      now: 1_000,
    })
    expect(await store.getAgent('compact', 2_000)).toMatchObject({ spentMicros: 80 })
    const rows = raw(path, (db) => [
      ...db
        .prepare("SELECT hold_id, state, levels FROM lapsed_holds WHERE handle = 'compact'")
        .all(),
      ...db.prepare("SELECT hold_id, state, gen FROM ended_holds WHERE handle = 'compact'").all(),
    ])
    // The settled one keeps no window keys (no column for them); it sits in the generation of
    // its end.
    expect(rows).toEqual([
      { hold_id: 'lapsed', state: 'lapsed', levels: JSON.stringify(levels) },
      { hold_id: 'settled', state: 'settled', gen: Math.floor(1_100 / ENDED_GENERATION_MS) },
    ])
    // The compact row still makes a repeated settle a no-op...
    expect(
      (await store.settle({ handle: 'compact', holdId: 'settled', costMicros: 30, now: 2_100 }))
        .outcome,
    ).toBe('duplicate')
    // ...and the lapsed hold's late settlement corrects its window as well as the agent.
    expect(
      (await store.settle({ handle: 'compact', holdId: 'lapsed', costMicros: 20, now: 2_200 }))
        .outcome,
    ).toBe('corrected')
    expect(await store.getAgent('compact', 2_300)).toMatchObject({
      spentMicros: 50,
      unreconciledMicros: 0,
    })
    expect(await store.readUsage(levels)).toEqual([{ spentMicros: 50, heldMicros: 0 }])
  })

  it("reuses an agent's parsed JSON while it is unchanged, frozen, and rereads it once changed", async () => {
    const store = open(newPath())
    await store.createAgent(testAgentRecord('parsed', 1_000))
    const first = await store.getAgent('parsed', 1_000)
    const second = await store.getAgent('parsed', 1_000)
    expect(second?.policy).toBe(first?.policy)
    // Shared by every read: a change in place must fail loudly, never reach later reads.
    const limits = first?.limits ?? []
    expect(Object.isFrozen(limits)).toBe(true)
    expect(() => (limits as unknown[]).push({ amountMicros: 1, per: 'day' })).toThrow(TypeError)
    await store.updateAgent('parsed', { limits: [{ amountMicros: 500, per: 'day' }] }, 1_001)
    const third = await store.getAgent('parsed', 1_002)
    expect(third?.limits).toEqual([{ amountMicros: 500, per: 'day' }])
    expect(third?.policy).toEqual(first?.policy)
  })

  it('trims activity rows every 64 writes: windows stay exact, rows stay bounded', async () => {
    const path = newPath()
    const store = open(path)
    const peer = open(path)
    await store.createAgent(testAgentRecord('busy', 1_000))
    const event = (i: number) => ({ at: i, kind: 'model', key: `k${i}` }) as never
    const rows = () =>
      raw(path, (db) =>
        db.prepare("SELECT COUNT(*) AS n FROM activity WHERE handle = 'busy'").get(),
      )
    for (let i = 0; i < 500; i++) {
      const writer = i % 3 === 0 ? peer : store
      const window = await writer.recordActivity('busy', event(i), 10)
      expect(window.map((item) => (item as { at: number }).at)).toEqual(
        Array.from({ length: Math.min(10, i + 1) }, (_, k) => Math.max(0, i - 9) + k),
      )
      // Each of the two processes leaves at most 64 untrimmed rows past the window.
      expect((rows() as { n: number }).n).toBeLessThanOrEqual(10 + 2 * 64)
    }
  })
})
