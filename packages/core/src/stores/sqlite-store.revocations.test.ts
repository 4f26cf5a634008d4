// A revocation never waits for the ledger's write lock (sqlite-revocations.ts). A process
// frozen inside a write transaction (SIGSTOP, a debugger, `docker pause`) holds that lock
// until it resumes; red team rt30 saw `killswitch revoke` fail after 25 s behind one, the
// agent still active afterwards. Here the frozen process is a plain connection that began a
// write transaction and never ends it.
import { copyFileSync, existsSync, mkdtempSync, rmSync, statSync } from 'node:fs'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import { afterAll, describe, expect, it, vi } from 'vitest'
import { AgentRevokedError, StoreUnavailableError } from '../errors.js'
import { createKillSwitch } from '../kill-switch.js'
import { sqliteStoreFiles } from './sqlite-files.js'
import { sqliteStore } from './sqlite-store.js'

const root = mkdtempSync(join(tmpdir(), 'killswitch-sqlite-revocations-'))
afterAll(() => rmSync(root, { recursive: true, force: true }))
let files = 0

/** Runs `body` with a local webhook receiver's URL; the bodies it received. */
async function withReceiver(body: (url: string) => Promise<void>) {
  const bodies: { type: string; reason?: string }[] = []
  const receiver = createServer((request, response) => {
    let text = ''
    request.on('data', (chunk) => {
      text += chunk
    })
    request.on('end', () => {
      bodies.push(JSON.parse(text))
      response.end('ok')
    })
  })
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve))
  try {
    await body(`http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`)
  } finally {
    receiver.close()
  }
  return bodies
}

/** A kill switch on `path` whose lock waits are short, that may alert a local receiver. */
const openAlerting = (path: string) =>
  createKillSwitch({
    store: sqliteStore(path, { busyTimeoutMs: 200 }),
    runaway: false,
    allowPrivateWebhooks: true,
  })

/** openAlerting, with an agent `alerted` whose alert goes to `webhookUrl`. */
async function withAlertedAgent(path: string, webhookUrl: string) {
  const ks = openAlerting(path)
  await ks.agents.create({
    handle: 'alerted',
    spendingCap: 10,
    alerts: [{ thresholdPct: 0.8, webhookUrl }],
  })
  return ks
}

async function twoProcesses() {
  const path = join(root, `state-${files++}.db`)
  const options = { busyTimeoutMs: 200, pollIntervalMs: 5 }
  const operator = createKillSwitch({ store: sqliteStore(path, options), runaway: false })
  const { credential } = await operator.agents.create({ handle: 'looper', spendingCap: 5 })
  await operator.agents.create({ handle: 'bystander', spendingCap: 5 })
  const worker = createKillSwitch({ store: sqliteStore(path, options), runaway: false })
  const guard = worker.guard(credential)
  await guard.check()
  /** Another process, frozen inside a write transaction: it holds the ledger's lock. */
  const freeze = () => {
    const frozen = new DatabaseSync(path)
    frozen.exec('BEGIN IMMEDIATE')
    return () => {
      frozen.exec('ROLLBACK')
      frozen.close()
    }
  }
  return { path, operator, worker, guard, freeze }
}

describe('sqliteStore revocations behind a frozen lock holder', () => {
  it('revokes behind it: every process refuses the agent, then the ledger records it once', async () => {
    const { path, operator, worker, guard, freeze } = await twoProcesses()
    const thaw = freeze()
    // In force, and said so: not yet in the ledger, which processes of older releases read.
    await expect(
      operator.agents.revoke('looper', { reason: 'runaway loop' }),
    ).rejects.toMatchObject({
      code: 'revocation_unreplicated',
      alreadyRevoked: false,
      message: expect.stringMatching(/in force now .* older release reads only the ledger/),
    })
    expect(await operator.agents.get('looper')).toMatchObject({
      status: 'revoked',
      revokedReason: 'runaway loop',
    })
    // The other process hears it while the lock is still held, and refuses the agent.
    await vi.waitFor(() => expect(guard.signal.aborted).toBe(true), { timeout: 2_000 })
    await expect(guard.check({ fresh: true })).rejects.toBeInstanceOf(AgentRevokedError)
    expect(await worker.agents.get('looper')).toMatchObject({ status: 'revoked' })
    // Another agent is not touched.
    expect(await operator.agents.get('bystander')).toMatchObject({ status: 'active' })
    thaw()
    // Once the lock is free the ledger has it: a spend is refused, the log says it once.
    await expect(
      guard.reserveSpend({ amountUsd: 0.1, kind: 'tool', description: 'search' }),
    ).rejects.toBeInstanceOf(AgentRevokedError)
    await vi.waitFor(
      async () => {
        const raw = new DatabaseSync(path, { readOnly: true })
        try {
          const row = raw.prepare("SELECT status FROM agents WHERE handle = 'looper'").get()
          expect(row).toMatchObject({ status: 'revoked' })
        } finally {
          raw.close()
        }
      },
      { timeout: 2_000 },
    )
    const entries = await operator.audit('looper')
    expect(entries.filter((entry) => entry.type === 'revoked')).toHaveLength(1)
    // Its file is the owner's only, as the ledger's is.
    expect(statSync(`${path}-revocations`).mode & 0o077).toBe(0)
    await worker.close()
    await operator.close()
  })

  it('revokes behind it an agent whose frozen worker left a hold lapsed (red team rt35)', async () => {
    const { path, operator, guard, freeze } = await twoProcesses()
    // The frozen worker renews nothing: its hold's lease has run out when the operator revokes.
    const hold = { handle: 'looper', holdId: 'frozen-call', amountMicros: 300_000 }
    await operator.store.reserve({ ...hold, ttlMs: 1, now: Date.now() })
    await new Promise((resolve) => setTimeout(resolve, 5))
    const thaw = freeze()
    // Before: the read before the revocation charged the lapse first, a write that waited on
    // the frozen lock and failed: the revocation was never written.
    await expect(operator.agents.revoke('looper', { reason: 'frozen' })).rejects.toMatchObject({
      code: 'revocation_unreplicated',
      alreadyRevoked: false,
    })
    await expect(guard.check({ fresh: true })).rejects.toBeInstanceOf(AgentRevokedError)
    // Read behind the lock as the lapse's charge would leave it (red team rt36: read as held),
    // and so is the list, the console's revoke screen (it failed after 5 s).
    const charged = { status: 'revoked', held: 0, spent: 0.3, unreconciled: 0.3 }
    expect(await operator.agents.get('looper')).toMatchObject(charged)
    const listed = await operator.agents.list()
    expect(listed.find((agent) => agent.handle === 'looper')).toMatchObject(charged)
    expect(listed.find((agent) => agent.handle === 'bystander')).toMatchObject({ status: 'active' })
    thaw()
    // Then the lapse is charged in full, and the ledger has the revocation.
    await vi.waitFor(async () => {
      expect(await operator.agents.get('looper')).toMatchObject({
        status: 'revoked',
        held: 0,
        spent: 0.3,
        unreconciled: 0.3,
      })
    })
    const raw = new DatabaseSync(path, { readOnly: true })
    expect(raw.prepare("SELECT status FROM agents WHERE handle = 'looper'").get()).toMatchObject({
      status: 'revoked',
    })
    raw.close()
    await operator.close()
  })

  it('says a revocation is in force when closing behind it, though the alert it wrote cannot be (red team rt39)', async () => {
    const path = join(root, `state-${files++}.db`)
    await withReceiver(async (webhookUrl) => {
      const ks = await withAlertedAgent(path, webhookUrl)
      const frozen = new DatabaseSync(path)
      frozen.exec('BEGIN IMMEDIATE')
      try {
        await expect(ks.agents.revoke('alerted', { reason: 'lock' })).rejects.toMatchObject({
          code: 'revocation_unreplicated',
        })
        // Before: the alert's audit entries failed to flush first, and close() said
        // "could not write the audit log ... fail closed" (the CLI's exit 5).
        await expect(ks.close()).rejects.toMatchObject({ code: 'revocation_unreplicated' })
      } finally {
        frozen.exec('ROLLBACK')
        frozen.close()
      }
    })
  })

  it('a process that starts while the lock is held refuses the revoked credential', async () => {
    const { path, operator, worker, freeze } = await twoProcesses()
    const { credential } = await operator.agents.create({ handle: 'late', spendingCap: 1 })
    const thaw = freeze()
    await expect(operator.agents.revoke('late', { reason: 'stop' })).rejects.toMatchObject({
      code: 'revocation_unreplicated',
    })
    const restarted = createKillSwitch({ store: sqliteStore(path), runaway: false })
    await expect(restarted.guard(credential).check()).rejects.toBeInstanceOf(AgentRevokedError)
    thaw()
    await restarted.close()
    await worker.close()
    await operator.close()
  })

  it('fails closed once its revocations file is deleted or replaced under it (red team rt31)', async () => {
    const { path, operator, worker, guard } = await twoProcesses()
    rmSync(`${path}-revocations`)
    // The file's identity is looked at once a millisecond at most.
    await new Promise((resolve) => setTimeout(resolve, 5))
    // Reading a file no other process writes to would admit a revoked agent: refused.
    await expect(guard.check({ fresh: true })).rejects.toBeInstanceOf(StoreUnavailableError)
    await expect(worker.agents.get('looper')).rejects.toThrow(/-revocations file was deleted/)
    await worker.close().catch(() => undefined)
    await operator.close().catch(() => undefined)
  })

  it('alerts once for a revocation behind it, though the agent is revoked again after (red team rt31)', async () => {
    const path = join(root, `state-${files++}.db`)
    const open = () => openAlerting(path)
    const bodies = await withReceiver(async (webhookUrl) => {
      const first = await withAlertedAgent(path, webhookUrl)
      const frozen = new DatabaseSync(path)
      frozen.exec('BEGIN IMMEDIATE')
      await expect(first.agents.revoke('alerted', { reason: 'first' })).rejects.toMatchObject({
        code: 'revocation_unreplicated',
      })
      frozen.exec('ROLLBACK')
      frozen.close()
      // Another process revokes it again once the lock is free: already revoked, no new alert.
      const second = open()
      await second.agents.revoke('alerted', { reason: 'second' })
      await second.close()
      await first.close()
    })
    // Before: two webhooks, the second revoke's markOnce the first to land in the ledger.
    expect(bodies.filter((body) => body.type === 'revoked')).toEqual([
      expect.objectContaining({ reason: 'first' }),
    ])
  })

  it('revokes through the ledger when the revocations file is the one locked, and opens beside it (red team rt33)', async () => {
    const { path, operator, guard } = await twoProcesses()
    // A process frozen while it wrote a revocation holds the revocations file's lock.
    const frozen = new DatabaseSync(`${path}-revocations`)
    frozen.exec('BEGIN IMMEDIATE')
    // A process started now (a CLI revoke) opens the store: the open writes nothing there.
    const cli = createKillSwitch({
      store: sqliteStore(path, { busyTimeoutMs: 200 }),
      runaway: false,
    })
    // Before: StoreUnavailableError after the busy timeout, and the revocation was lost.
    expect(await cli.agents.revoke('looper', { reason: 'frozen file' })).toMatchObject({
      status: 'revoked',
    })
    // In the ledger: every process reads it, and the other process's guard hears it.
    await vi.waitFor(() => expect(guard.signal.aborted).toBe(true), { timeout: 2_000 })
    expect(await operator.agents.get('looper')).toMatchObject({ status: 'revoked' })
    frozen.exec('ROLLBACK')
    frozen.close()
    const entries = await operator.audit('looper')
    expect(entries.filter((entry) => entry.type === 'revoked')).toHaveLength(1)
    await cli.close()
  })

  it('fails closed, as before, when a write other than a revocation meets the frozen lock', async () => {
    const { operator, worker, freeze } = await twoProcesses()
    const thaw = freeze()
    await expect(operator.agents.create({ handle: 'new', spendingCap: 1 })).rejects.toBeInstanceOf(
      StoreUnavailableError,
    )
    thaw()
    await worker.close()
    await operator.close()
  })
})

describe('sqliteStore revocations file of another ledger', () => {
  const newPath = () => join(root, `own-${files++}.db`)
  const openKillSwitch = (path: string) =>
    createKillSwitch({ store: sqliteStore(path), runaway: false })
  /** A ledger where `looper` was created and revoked, closed. */
  async function revokedLooper(path: string) {
    const ks = openKillSwitch(path)
    await ks.agents.create({ handle: 'looper', spendingCap: 5 })
    await ks.agents.revoke('looper', { reason: 'loop' })
    await ks.close()
  }
  const deleteLedger = (path: string) => {
    // The database and its -wal and -shm; its revocations file kept.
    for (const suffix of ['', '-wal', '-shm']) rmSync(`${path}${suffix}`, { force: true })
  }
  /** Copies a ledger's revocations file, with its -wal and -shm, to be another ledger's. */
  const copyRevocations = (from: string, to: string) => {
    for (const suffix of ['-revocations', '-revocations-wal', '-revocations-shm']) {
      rmSync(`${to}${suffix}`, { force: true })
      if (existsSync(`${from}${suffix}`)) copyFileSync(`${from}${suffix}`, `${to}${suffix}`)
    }
  }
  /** The ledger and its revocations file name the same identity. */
  const expectOneIdentity = (path: string) => {
    const db = new DatabaseSync(path, { readOnly: true })
    const file = new DatabaseSync(`${path}-revocations`, { readOnly: true })
    expect(file.prepare('SELECT id FROM ledger').get()).toEqual(
      db.prepare('SELECT id FROM ledger_identity').get(),
    )
    db.close()
    file.close()
  }
  const raw = (file: string, sql: string) => {
    const db = new DatabaseSync(file)
    db.exec(sql)
    db.close()
  }

  it('refuses the file kept when its ledger was deleted to start afresh (the demo did)', async () => {
    const path = newPath()
    await revokedLooper(path)
    deleteLedger(path)
    // Before: the store opened, and a new agent named `looper` was revoked from birth.
    expect(() => openKillSwitch(path)).toThrow(StoreUnavailableError)
    expect(() => openKillSwitch(path)).toThrow(
      /belongs to another ledger .* delete every file of the store .*-revocations-wal/,
    )
    // Deleted with it, the ledger starts afresh.
    for (const file of sqliteStoreFiles(path)) rmSync(file, { force: true })
    const fresh = openKillSwitch(path)
    await fresh.agents.create({ handle: 'looper', spendingCap: 5 })
    expect(await fresh.agents.get('looper')).toMatchObject({ status: 'active' })
    await fresh.close()
  })

  it("refuses another deployment's file copied beside the ledger", async () => {
    const [here, there] = [newPath(), newPath()]
    const ks = openKillSwitch(here)
    await ks.agents.create({ handle: 'looper', spendingCap: 5 })
    await ks.close()
    await revokedLooper(there)
    copyRevocations(there, here)
    expect(() => openKillSwitch(here)).toThrow(/belongs to another ledger/)
  })

  it("takes a previous release's file (no identity yet) and keeps its revocations", async () => {
    const path = newPath()
    await revokedLooper(path)
    raw(`${path}-revocations`, 'DROP TABLE ledger; ALTER TABLE revocations DROP COLUMN alerted')
    const ks = openKillSwitch(path)
    expect(await ks.agents.get('looper')).toMatchObject({ status: 'revoked' })
    await ks.close()
    // Now stamped with this ledger's identity: opens again, another ledger's is refused.
    await openKillSwitch(path).close()
    copyRevocations(path, `${path}-other`)
    expect(() => openKillSwitch(`${path}-other`)).toThrow(/belongs to another ledger/)
  })

  it('opens a new ledger whose first open was cut short after stamping its file (red team rt34)', async () => {
    const path = newPath()
    await openKillSwitch(path).close()
    // As a process killed between the file's stamp and the ledger's leaves them.
    raw(path, 'DELETE FROM ledger_identity')
    const ks = openKillSwitch(path)
    await ks.agents.create({ handle: 'first', spendingCap: 1 })
    expect(await ks.agents.get('first')).toMatchObject({ status: 'active' })
    await ks.close()
  })

  // Red team rt34 (the file's mark unset), rt35 (the ledger's lock held at that moment).
  it.each([
    ["the file's mark unset", false, 0],
    ["the file's mark unset, behind another process's write of 100 ms", false, 100],
    ["an earlier release's file, upgraded, behind a frozen ledger writer", true, 5_000],
  ])(
    'alerts once for a revocation an earlier release alerted (its mark in the ledger): %s',
    async (_, upgrade, lockedMs) => {
      const path = newPath()
      const bodies = await withReceiver(async (webhookUrl) => {
        const open = () =>
          createKillSwitch({ store: sqliteStore(path), runaway: false, allowPrivateWebhooks: true })
        const ks = open()
        await ks.agents.create({
          handle: 'old',
          spendingCap: 5,
          alerts: [{ thresholdPct: 0.8, webhookUrl }],
        })
        await ks.agents.revoke('old', { reason: 'before the upgrade' })
        await ks.close()
        // The release before alert marks in the file: the alert is marked in the ledger only.
        if (upgrade)
          raw(
            `${path}-revocations`,
            'DROP TABLE ledger; ALTER TABLE revocations DROP COLUMN alerted',
          )
        else raw(`${path}-revocations`, 'UPDATE revocations SET alerted = 0')
        const again = open()
        await again.agents.get('old')
        const writer = new DatabaseSync(path)
        // Another process's write of `lockedMs`: one of 5 s is a frozen one.
        if (lockedMs > 0) writer.exec('BEGIN IMMEDIATE')
        const done = setTimeout(() => writer.isTransaction && writer.exec('ROLLBACK'), lockedMs)
        await again.agents.revoke('old', { reason: 'again' }).catch(() => undefined)
        clearTimeout(done)
        if (writer.isTransaction) writer.exec('ROLLBACK')
        writer.close()
        await again.close()
      })
      expect(bodies.filter((body) => body.type === 'revoked')).toHaveLength(1)
    },
  )

  it('never reuses a handle revoked in the file, though a restored ledger lacks the agent (red team rt34)', async () => {
    const path = newPath()
    await openKillSwitch(path).close()
    // A backup of the ledger alone (its -wal and -shm with it).
    const ledgerFiles = ['', '-wal', '-shm'].filter((end) => existsSync(`${path}${end}`))
    for (const end of ledgerFiles) copyFileSync(`${path}${end}`, `${path}-backup${end}`)
    // After the backup: an agent created and revoked.
    await revokedLooper(path)
    // The ledger alone restored, the newer revocations file kept.
    deleteLedger(path)
    for (const end of ledgerFiles) copyFileSync(`${path}-backup${end}`, `${path}${end}`)
    const ks = openKillSwitch(path)
    expect(await ks.agents.list()).toEqual([])
    // Before: created, and revoked at birth with the old agent's reason, no `revoked` entry.
    await expect(ks.agents.create({ handle: 'looper', spendingCap: 5 })).rejects.toMatchObject({
      code: 'agent_exists',
      message: expect.stringMatching(/was revoked in this store .* never reused/),
    })
    await ks.agents.create({ handle: 'looper-2', spendingCap: 5 })
    expect(await ks.agents.get('looper-2')).toMatchObject({ status: 'active' })
    await ks.close()
  })

  it("opens an earlier release's file with its lock held, and revokes through the ledger (red team rt34)", async () => {
    const path = newPath()
    await revokedLooper(path)
    raw(path, 'DELETE FROM ledger_identity')
    // The file of the release before identities and alert marks, its lock held by a frozen
    // process: this open cannot stamp it. Before: refused after 5 s, and so was the revoke.
    raw(`${path}-revocations`, 'DROP TABLE ledger; ALTER TABLE revocations DROP COLUMN alerted')
    const frozen = new DatabaseSync(`${path}-revocations`)
    frozen.exec('BEGIN IMMEDIATE')
    try {
      const ks = createKillSwitch({
        store: sqliteStore(path, { busyTimeoutMs: 200 }),
        runaway: false,
      })
      expect(await ks.agents.get('looper')).toMatchObject({ status: 'revoked' })
      await ks.agents.create({ handle: 'other', spendingCap: 1 })
      expect(await ks.agents.revoke('other', { reason: 'upgrade window' })).toMatchObject({
        status: 'revoked',
      })
      await ks.close()
    } finally {
      frozen.exec('ROLLBACK')
      frozen.close()
    }
    // The next open stamps it with the ledger's identity.
    await openKillSwitch(path).close()
    expectOneIdentity(path)
  })

  it.each([
    [
      'of the release before identities (schema 9)',
      'DROP TABLE ledger_identity; PRAGMA user_version = 9',
    ],
    ['whose identity a first open cut short never wrote', 'DELETE FROM ledger_identity'],
  ])(
    'opens a ledger %s with its lock held, and the revoke is in force (red team rt35)',
    async (_, downgrade) => {
      const path = newPath()
      const ks0 = openKillSwitch(path)
      await ks0.agents.create({ handle: 'looper', spendingCap: 5 })
      await ks0.close()
      raw(path, downgrade)
      raw(`${path}-revocations`, 'DROP TABLE ledger; ALTER TABLE revocations DROP COLUMN alerted')
      // A process of the earlier release, frozen inside a write: the ledger's lock is held.
      const frozen = new DatabaseSync(path)
      frozen.exec('BEGIN IMMEDIATE')
      const thaw = () => {
        if (!frozen.isOpen) return
        frozen.exec('ROLLBACK')
        frozen.close()
      }
      try {
        // Before: the open waited on the migration (or the identity) and refused after 5 s.
        const ks = createKillSwitch({
          store: sqliteStore(path, { busyTimeoutMs: 200 }),
          runaway: false,
        })
        await expect(
          ks.agents.revoke('looper', { reason: 'upgrade window' }),
        ).rejects.toMatchObject({ code: 'revocation_unreplicated' })
        expect(await ks.agents.get('looper')).toMatchObject({ status: 'revoked' })
        // Resumed: the ledger takes the revocation before this process closes.
        thaw()
        await ks.close()
      } finally {
        thaw()
      }
      // The next open migrates and stamps both files with one identity; the revocation stands.
      const ks = openKillSwitch(path)
      expect(await ks.agents.get('looper')).toMatchObject({ status: 'revoked' })
      await ks.close()
      expectOneIdentity(path)
    },
  )

  it('a ledger without an identity (a backup from before it) takes the file beside it', async () => {
    const path = newPath()
    await revokedLooper(path)
    raw(path, 'DELETE FROM ledger_identity')
    const ks = openKillSwitch(path)
    expect(await ks.agents.get('looper')).toMatchObject({ status: 'revoked' })
    await ks.close()
    expectOneIdentity(path)
  })
})
