// How revocations travel between processes sharing a sqlite file when the `events` log loses
// rows: pruned by a peer whose clock runs ahead, or unread by a process frozen or asleep
// (red team rt30 F3). Two stores on one file are two processes; a raw connection is a peer
// of another version, or a burst of more than EVENTS_KEPT events.
//
// Each revocation and the pruning that follows it run in one synchronous stretch (the store
// answers a free lock at once): the other store's poller, a timer, cannot read in between.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import { afterAll, describe, expect, it, vi } from 'vitest'
import { testAgentRecord } from '../conformance.js'
import { createKillSwitch, type KillSwitch } from '../kill-switch.js'
import type { Store } from '../store.js'
import { EVENTS_KEPT } from './sqlite-ledger.js'
import { sqliteStore } from './sqlite-store.js'

const root = mkdtempSync(join(tmpdir(), 'killswitch-sqlite-events-'))
const closing: (() => unknown)[] = []
afterAll(async () => {
  for (const close of closing) await close()
  rmSync(root, { recursive: true, force: true })
})
let files = 0
const newPath = () => join(root, `state-${files++}.db`)
function open(path: string): Store {
  const store = sqliteStore(path)
  closing.push(() => store.close())
  return store
}
/** A plain connection to an opened file: a peer of another version, or a burst of events. */
function rawPeer(path: string): DatabaseSync {
  const db = new DatabaseSync(path)
  closing.push(() => db.close())
  return db
}
const eventRows = (db: DatabaseSync) =>
  db.prepare('SELECT handle, type FROM events ORDER BY seq').all()
const HOUR = 3600_000

/** A kill switch on its own store of `path`, with guards on `handles`, each looked up. */
async function guardedProcess(path: string, handles: string[]) {
  const ks: KillSwitch = createKillSwitch({ store: open(path) })
  closing.unshift(() => ks.close())
  const heard: { handle: string; reason: string }[] = []
  ks.on('revoked', ({ handle, reason }) => heard.push({ handle, reason }))
  const guards = new Map<string, ReturnType<KillSwitch['guard']>>()
  for (const handle of handles) {
    const { credential } = await ks.agents.create({ handle, spendingCap: 1 })
    guards.set(handle, ks.guard(credential))
  }
  // Each guard looks its agent up as it is made, in a few microtasks: a timer later, done.
  await new Promise((resolve) => setTimeout(resolve, 20))
  for (const guard of guards.values()) expect(guard.signal.aborted).toBe(false)
  return { heard, signal: (handle: string) => guards.get(handle)?.signal as AbortSignal }
}

/** A reserve by `peer` at `now`: its store prunes the events log first. */
const reserveAt = (peer: Store, handle: string, holdId: string, now: number) =>
  peer.reserve({ handle, holdId, amountMicros: 1, ttlMs: 60_000, now })

describe('sqliteStore events pruned before a process read them', () => {
  it('a peer whose clock runs 2 h ahead prunes no fresh revocation: the guard signal aborts', async () => {
    const path = newPath()
    const process = await guardedProcess(path, ['frozen'])
    const peer = open(path)
    await peer.createAgent(testAgentRecord('busy', 1_000_000))
    const now = Date.now()
    const revoking = peer.revokeAgent('frozen', 'runaway', now)
    const reserving = reserveAt(peer, 'busy', 'h1', now + 2 * HOUR)
    await Promise.all([revoking, reserving])

    await vi.waitFor(() => expect(process.signal('frozen').aborted).toBe(true), {
      timeout: 2_000,
    })
    expect(eventRows(rawPeer(path))).toContainEqual({ handle: 'frozen', type: 'revoked' })
    expect(process.heard).toEqual([{ handle: 'frozen', reason: 'runaway' }])
  })

  it('a gap in the events read (all pruned, or some) reads its guards agents again, each heard once', async () => {
    const path = newPath()
    const process = await guardedProcess(path, ['g1', 'g2', 'g3'])
    const peer = open(path)
    const pruner = rawPeer(path)
    await peer.createAgent(testAgentRecord('other', 1_000))

    // Every event pruned: nothing newer is left to read.
    const first = peer.revokeAgent('g1', 'first', 10)
    pruner.exec('DELETE FROM events')
    await first
    await vi.waitFor(() => expect(process.signal('g1').aborted).toBe(true), { timeout: 2_000 })

    // The revocation pruned, a later event kept: the first one read is not the next.
    const second = peer.revokeAgent('g2', 'second', 20)
    pruner.exec('DELETE FROM events')
    const update = peer.updateAgent('other', { capMicros: 5 }, 21)
    await Promise.all([second, update])
    await vi.waitFor(() => expect(process.signal('g2').aborted).toBe(true), { timeout: 2_000 })

    // A later gap, an agent no guard here watches: g1 and g2 are not said again. Its own
    // revocation is heard all the same, once (from the revocations file, which is not pruned).
    const third = peer.revokeAgent('other', 'unwatched', 30)
    pruner.exec('DELETE FROM events')
    await third
    await new Promise((resolve) => setTimeout(resolve, 100))
    expect(process.heard).toEqual([
      { handle: 'g1', reason: 'first' },
      { handle: 'g2', reason: 'second' },
      { handle: 'other', reason: 'unwatched' },
    ])
    expect(process.signal('g3').aborted).toBe(false)
  })

  it(`still prunes events over an hour old in batches, once ${EVENTS_KEPT} newer ones follow`, async () => {
    const now = 10 * HOUR
    const prunedFrom = async (at: number) => {
      const path = newPath()
      const store = open(path)
      await store.createAgent(testAgentRecord('spender', 1_000_000))
      const peer = rawPeer(path)
      const insert = peer.prepare(
        "INSERT INTO events (origin, type, handle, reason, at) VALUES ('peer', 'updated', 'x', NULL, ?)",
      )
      peer.exec('BEGIN')
      for (let i = 0; i < EVENTS_KEPT + 300; i++) insert.run(at)
      peer.exec('COMMIT')
      const counts: number[] = []
      // A full batch: the next reserve prunes again at once; else a second later.
      for (const [i, later] of [0, 0, 1_000].entries()) {
        await reserveAt(store, 'spender', `p${i}`, now + later)
        counts.push(eventRows(peer).length)
      }
      return counts
    }
    expect(await prunedFrom(now - HOUR - 1)).toEqual([
      EVENTS_KEPT + 300 - 256,
      EVENTS_KEPT,
      EVENTS_KEPT,
    ])
    // Younger than an hour: kept, though more than EVENTS_KEPT follow them.
    expect(await prunedFrom(now - HOUR + 5_000)).toEqual(Array(3).fill(EVENTS_KEPT + 300))
  })
})
