// Conformance cases for the ledger: reserve at the cap boundary, settle, release, expiry,
// idempotency and concurrency.
import { expect, it } from 'vitest'
import { auditCharge } from '../audit-charge.js'
import { InvalidConfigError } from '../errors.js'
import { UNRECONCILED_RETENTION_MS } from '../ledger/ledger.js'
import { MAX_MICROS, MAX_TOTAL_MICROS } from '../ledger/ledger-input.js'
import type { SettleRequest } from '../store.js'
import { entry, refusedField, type SuiteContext, testAgentRecord, uniqueHandle } from './support.js'

export function ledgerCases(context: SuiteContext): void {
  it('admits a reserve up to exactly the cap and refuses the micro-dollar past it', async () => {
    const store = await context.open()
    const handle = uniqueHandle('boundary')
    await store.createAgent(testAgentRecord(handle, 1_000))
    const past = await store.reserve({
      handle,
      holdId: 'a',
      amountMicros: 1_001,
      ttlMs: 9000,
      now: 1_000,
    })
    expect(past).toMatchObject({ ok: false, reason: 'cap' })
    const exact = await store.reserve({
      handle,
      holdId: 'b',
      amountMicros: 1_000,
      ttlMs: 9000,
      now: 1_000,
    })
    expect(exact.ok).toBe(true)
    const zero = await store.reserve({
      handle,
      holdId: 'c',
      amountMicros: 0,
      ttlMs: 9000,
      now: 1_000,
    })
    expect(zero).toMatchObject({ ok: false, reason: 'cap' })
  })

  it('denies everything, even a free call, on a $0 cap', async () => {
    const store = await context.open()
    const handle = uniqueHandle('zero')
    await store.createAgent(testAgentRecord(handle, 0))
    const result = await store.reserve({
      handle,
      holdId: 'z',
      amountMicros: 0,
      ttlMs: 9000,
      now: 1_000,
    })
    expect(result).toMatchObject({ ok: false, reason: 'cap' })
  })

  it('settles a hold at its real cost and releases the rest, idempotently', async () => {
    const store = await context.open()
    const handle = uniqueHandle('settle')
    await store.createAgent(testAgentRecord(handle, 10_000))
    await store.reserve({
      handle,
      holdId: 'h',
      amountMicros: 4_000,
      ttlMs: 98_000,
      now: 1_000,
    })
    const first = await store.settle({ handle, holdId: 'h', costMicros: 1_500, now: 2_000 })
    expect(first.outcome).toBe('settled')
    expect(first.agent).toMatchObject({ spentMicros: 1_500, heldMicros: 0 })
    const again = await store.settle({ handle, holdId: 'h', costMicros: 1_500, now: 2_000 })
    expect(again.outcome).toBe('duplicate')
    expect(again.agent).toMatchObject({ spentMicros: 1_500, heldMicros: 0 })
    const releaseAfter = await store.release({ handle, holdId: 'h', now: 2_000 })
    expect(releaseAfter.outcome).toBe('none')
    expect(releaseAfter.agent.spentMicros).toBe(1_500)
  })

  it('releases a hold once; a settle after the release is still recorded (money reported spent)', async () => {
    const store = await context.open()
    const handle = uniqueHandle('release')
    await store.createAgent(testAgentRecord(handle, 10_000))
    await store.reserve({ handle, holdId: 'r', amountMicros: 3_000, ttlMs: 98_000, now: 1_000 })
    expect((await store.release({ handle, holdId: 'r', now: 1_500 })).outcome).toBe('released')
    expect((await store.release({ handle, holdId: 'r', now: 1_500 })).outcome).toBe('none')
    const settle = await store.settle({ handle, holdId: 'r', costMicros: 3_000, now: 1_600 })
    expect(settle.outcome).toBe('late')
    expect(settle.agent).toMatchObject({ spentMicros: 3_000, heldMicros: 0 })
    const again = await store.settle({ handle, holdId: 'r', costMicros: 3_000, now: 1_700 })
    expect(again.outcome).toBe('duplicate')
  })

  // A reserve whose answer never came (a timeout, a dropped connection) refused its call, so
  // nothing was sent; the guard releases its id, and the store must end it whichever of the
  // two lands first.
  it('refuses a reserve that lands after its release, holding and charging nothing', async () => {
    const store = await context.open()
    const handle = uniqueHandle('release-first')
    await store.createAgent(testAgentRecord(handle, 10_000))
    const released = await store.release({ handle, holdId: 'late', now: 1_000 })
    expect(released.outcome).toBe('none')
    expect(released.agent).toMatchObject({ heldMicros: 0, spentMicros: 0 })
    const late = { handle, holdId: 'late', amountMicros: 4_000, ttlMs: 5_000, now: 1_100 }
    expect(await refusedField(() => store.reserve(late))).toBe('holdId')
    expect(await store.getAgent(handle, 1_100)).toMatchObject({ heldMicros: 0, spentMicros: 0 })
    // Past the lease it would have had: nothing lapses, nothing is charged.
    expect(await store.getAgent(handle, 20_000)).toMatchObject({
      heldMicros: 0,
      spentMicros: 0,
      unreconciledMicros: 0,
    })
    const types = (await store.readAudit(handle)).map((item) => item.type)
    expect(types.filter((type) => type === 'hold' || type === 'lapsed')).toEqual([])
    // The ended id stays ended; a fresh id holds.
    expect(await refusedField(() => store.reserve({ ...late, now: 20_000 }))).toBe('holdId')
    expect((await store.reserve({ ...late, holdId: 'fresh', now: 20_000 })).ok).toBe(true)
  })

  it('releases a reserve whose answer was lost, once, so its lease never charges it', async () => {
    const store = await context.open()
    const handle = uniqueHandle('release-lost')
    await store.createAgent(testAgentRecord(handle, 10_000))
    // The store ran it; its caller timed out and never heard.
    await store.reserve({ handle, holdId: 'lost', amountMicros: 4_000, ttlMs: 5_000, now: 1_000 })
    const release = {
      handle,
      holdId: 'lost',
      now: 1_500,
      audit: entry(handle, 'released', 1_500),
    }
    const released = await store.release(release)
    expect(released.outcome).toBe('released')
    expect(released.agent).toMatchObject({ heldMicros: 0, spentMicros: 0 })
    // The outbox's retry of the same release changes nothing.
    expect((await store.release({ ...release, now: 1_600 })).outcome).toBe('none')
    expect(await store.getAgent(handle, 20_000)).toMatchObject({
      heldMicros: 0,
      spentMicros: 0,
      unreconciledMicros: 0,
    })
    const audit = await store.readAudit(handle)
    expect(audit.filter((item) => item.type === 'lapsed')).toEqual([])
    const releases = audit.filter((item) => item.type === 'released')
    expect(releases).toHaveLength(1)
    expect(releases[0]?.data).toMatchObject({ outcome: 'released' })
    // Its id has ended: the same reserve, arriving again, holds nothing.
    const again = { handle, holdId: 'lost', amountMicros: 4_000, ttlMs: 5_000, now: 20_000 }
    expect(await refusedField(() => store.reserve(again))).toBe('holdId')
    expect(await store.getAgent(handle, 20_000)).toMatchObject({ heldMicros: 0, spentMicros: 0 })
  })

  it('settles only a lapsed hold when asked to (a reconciliation), and nothing else', async () => {
    const store = await context.open()
    const handle = uniqueHandle('only-lapsed')
    await store.createAgent(testAgentRecord(handle, 1_000_000))
    await store.reserve({ handle, holdId: 'lost', amountMicros: 300_000, ttlMs: 1_000, now: 1_000 })
    await store.reserve({ handle, holdId: 'gone', amountMicros: 50_000, ttlMs: 1_000, now: 1_000 })
    await store.release({ handle, holdId: 'gone', now: 1_100 })
    await store.reserve({
      handle,
      holdId: 'live',
      amountMicros: 200_000,
      ttlMs: 60_000,
      now: 1_000,
    })
    const reconcile = (holdId: string, costMicros: number) =>
      store.settle({ handle, holdId, costMicros, now: 5_000, onlyIfLapsed: true })
    // A live hold is its owner's; a released or unknown one is not corrected by guesswork.
    for (const holdId of ['live', 'gone', 'never-held']) {
      const answer = await reconcile(holdId, 10_000)
      expect(answer.outcome).toBe('not_lapsed')
      expect(answer.agent).toMatchObject({ spentMicros: 300_000, heldMicros: 200_000 })
    }
    // Past what the lapse charged, only when told it may be: nothing changes otherwise.
    const above = { handle, holdId: 'lost', costMicros: 300_001, now: 5_000, onlyIfLapsed: true }
    expect(await store.settle({ ...above, atMostCharged: true })).toMatchObject({
      outcome: 'above_charge',
      chargedMicros: 300_000,
      agent: { spentMicros: 300_000, unreconciledMicros: 300_000, heldMicros: 200_000 },
    })
    expect(await reconcile('lost', 100_000)).toMatchObject({
      outcome: 'corrected',
      agent: { spentMicros: 100_000, unreconciledMicros: 0, heldMicros: 200_000 },
    })
    expect((await reconcile('lost', 100_000)).outcome).toBe('duplicate')
    // The live call still ends as its own: settled at its cost.
    const own = await store.settle({ handle, holdId: 'live', costMicros: 150_000, now: 6_000 })
    expect(own).toMatchObject({
      outcome: 'settled',
      agent: { spentMicros: 250_000, heldMicros: 0 },
    })
  })

  it('charges a bound as unreconciled, correctable as a lapse is (a payment outcome unknown)', async () => {
    const store = await context.open()
    const handle = uniqueHandle('unreconciled')
    await store.createAgent(testAgentRecord(handle, 1_000_000))
    const hold = (holdId: string) =>
      store.reserve({ handle, holdId, amountMicros: 10_000, ttlMs: 60_000, now: 1_000 })
    const bound = (holdId: string, now: number) =>
      store.settle({
        handle,
        holdId,
        costMicros: 8_000,
        now,
        unreconciled: true,
        audit: { ...entry(handle, 'settled', now), data: { cost: 0.008 } },
      })
    for (const holdId of ['reconciled', 'settled-late', 'withdrawn']) await hold(holdId)
    expect(await bound('reconciled', 2_000)).toMatchObject({
      outcome: 'unreconciled',
      agent: { spentMicros: 8_000, unreconciledMicros: 8_000, heldMicros: 20_000 },
    })
    // The outbox's retry of it changes nothing.
    expect((await bound('reconciled', 2_100)).outcome).toBe('duplicate')
    await bound('settled-late', 2_000)
    await bound('withdrawn', 2_000)
    expect(await store.getAgent(handle, 3_000)).toMatchObject({
      spentMicros: 24_000,
      unreconciledMicros: 24_000,
      heldMicros: 0,
    })
    // The truth, three ways: an operator's figure, the call's own late word, proof of nothing.
    const truth = { handle, now: 4_000 }
    expect(
      await store.settle({ ...truth, holdId: 'reconciled', costMicros: 0, onlyIfLapsed: true }),
    ).toMatchObject({ outcome: 'corrected' })
    expect(
      await store.settle({ ...truth, holdId: 'settled-late', costMicros: 3_000 }),
    ).toMatchObject({ outcome: 'corrected' })
    expect((await store.release({ ...truth, holdId: 'withdrawn' })).outcome).toBe('released')
    expect(await store.getAgent(handle, 5_000)).toMatchObject({
      spentMicros: 3_000,
      unreconciledMicros: 0,
      heldMicros: 0,
    })
    const settles = (await store.readAudit(handle)).filter((item) => item.type === 'settled')
    expect(settles.map((item) => item.data.outcome)).toEqual([
      'unreconciled',
      'unreconciled',
      'unreconciled',
    ])
  })

  it("raises a settled charge to a higher figure, audited: a reconcile, then the owner's settle", async () => {
    const store = await context.open()
    const handle = uniqueHandle('raised')
    await store.createAgent(testAgentRecord(handle, 1_000_000))
    // A window beside the cap: the raise counts there too (red team rt31: a day limit passed).
    const window = `agent:${handle}/lifetime@0`
    await store.updateAgent(handle, { limits: [{ amountMicros: 500_000, per: 'lifetime' }] }, 1_000)
    await store.reserve({ handle, holdId: 'h', amountMicros: 10_000, ttlMs: 1_000, now: 1_000 })
    const settle = (costMicros: number, more: Partial<SettleRequest> = {}) =>
      store.settle({
        handle,
        holdId: 'h',
        costMicros,
        now: 5_000,
        audit: { ...entry(handle, 'settled', 5_000), data: { cost: costMicros / 1e6 } },
        ...more,
      })
    // Lapsed; an operator reconciles it at 2,000 while its owner is only frozen.
    expect((await settle(2_000, { onlyIfLapsed: true })).outcome).toBe('corrected')
    // The owner resumes and settles the truth, higher: raised, never dropped.
    expect(await settle(3_000)).toMatchObject({
      outcome: 'raised',
      agent: { spentMicros: 3_000, unreconciledMicros: 0, heldMicros: 0 },
    })
    expect(await store.readUsage([window])).toEqual([{ spentMicros: 3_000, heldMicros: 0 }])
    // Its retry, a lower figure, another reconcile and a bound change nothing.
    for (const [cost, more] of [
      [3_000, {}],
      [1_000, {}],
      [9_000, { onlyIfLapsed: true }],
      [9_000, { unreconciled: true }],
    ] as const) {
      expect(await settle(cost, more)).toMatchObject({
        outcome: 'duplicate',
        agent: { spentMicros: 3_000 },
      })
    }
    const settles = (await store.readAudit(handle)).filter((item) => item.type === 'settled')
    expect(settles.map((item) => item.data)).toEqual([
      expect.objectContaining({ outcome: 'corrected', replaces: 0.01 }),
      expect.objectContaining({ outcome: 'raised', replaces: 0.002, cost: 0.003 }),
    ])
  })

  it('says which lapse charge an ending replaces, so the log sums to the spend', async () => {
    const store = await context.open()
    const handle = uniqueHandle('replaces')
    await store.createAgent(testAgentRecord(handle, 1_000_000))
    const hold = (holdId: string, amountMicros: number) =>
      store.reserve({ handle, holdId, amountMicros, ttlMs: 1_000, now: 1_000 })
    await hold('kept', 300_000)
    await hold('settled-late', 300_000)
    await hold('withdrawn', 250_000)
    await store.settle({
      handle,
      holdId: 'kept',
      costMicros: 120_000,
      now: 1_500,
      audit: {
        ...entry(handle, 'settled', 1_500),
        data: { cost: 0.12 },
      },
    })
    // Their owner vanished: both lapse, charged in full. Then it came back with the truth.
    expect(await store.getAgent(handle, 5_000)).toMatchObject({ spentMicros: 670_000 })
    const late = await store.settle({
      handle,
      holdId: 'settled-late',
      costMicros: 100_000,
      now: 6_000,
      audit: { ...entry(handle, 'settled', 6_000), data: { cost: 0.1 } },
    })
    expect(late.outcome).toBe('corrected')
    const back = await store.release({
      handle,
      holdId: 'withdrawn',
      now: 6_000,
      audit: entry(handle, 'released', 6_000),
    })
    expect(back.agent).toMatchObject({ spentMicros: 220_000, unreconciledMicros: 0 })
    const log = await store.readAudit(handle)
    const ending = (type: string) => log.find((item) => item.type === type)?.data
    expect(ending('released')).toMatchObject({ outcome: 'lapse_withdrawn', replaces: 0.25 })
    const settled = log.filter((item) => item.type === 'settled').map((item) => item.data)
    expect(settled).toEqual([
      { cost: 0.12, outcome: 'settled' },
      { cost: 0.1, outcome: 'corrected', replaces: 0.3 },
    ])
    // What an auditor sums without joining entries: costs and lapses, less what was replaced.
    const micros = (value: unknown) => Math.round(Number(value ?? 0) * 1_000_000)
    const total = log.reduce(
      (sum, item) =>
        sum +
        (item.type === 'settled' ? micros(item.data.cost) : 0) +
        (item.type === 'lapsed' ? micros(item.data.amount) : 0) -
        micros(item.data.replaces),
      0,
    )
    expect(total).toBe(220_000)
  })

  it('writes off an unreconciled charge nothing corrected in 35 days: spent stays, unreconciled drops, audited', async () => {
    const store = await context.open()
    const handle = uniqueHandle('write-off')
    await store.createAgent(testAgentRecord(handle, 1_000_000))
    await store.reserve({ handle, holdId: 'lapse', amountMicros: 5_000, ttlMs: 1_000, now: 1_000 })
    await store.reserve({
      handle,
      holdId: 'bound',
      amountMicros: 10_000,
      ttlMs: 60_000,
      now: 1_000,
    })
    // A settle at a bound, whose sweep also lapses the other hold: both unreconciled at 2_000.
    await store.settle({
      handle,
      holdId: 'bound',
      costMicros: 8_000,
      now: 2_000,
      unreconciled: true,
      audit: { ...entry(handle, 'settled', 2_000), data: { holdId: 'bound', cost: 0.008 } },
    })
    const open = { spentMicros: 13_000, unreconciledMicros: 13_000 }
    // Until the retention ends, both can still be reconciled: an operation changes nothing.
    const last = 2_000 + UNRECONCILED_RETENTION_MS
    const probe = (holdId: string, now: number) =>
      store.reserve({ handle, holdId, amountMicros: 1, ttlMs: 60_000, now })
    // At exactly 35 days too (red team rt36: Redis alone wrote off then).
    await probe('before', last)
    expect(await store.getAgent(handle, last)).toMatchObject(open)
    // Past it, the store forgets both at the agent's next reserve, and writes their charges off.
    const after = last + 5_000
    await probe('after', after)
    expect(await store.getAgent(handle, after)).toMatchObject({
      spentMicros: 13_000,
      unreconciledMicros: 0,
      heldMicros: 2,
    })
    const log = await store.readAudit(handle)
    const writtenOff = log.filter((item) => item.data.outcome === 'written_off')
    expect(writtenOff.map((item) => [item.type, item.data.holdId, item.data.cost]).sort()).toEqual([
      ['settled', 'bound', 0.008],
      ['settled', 'lapse', 0.005],
    ])
    expect(writtenOff.every((item) => item.data.replaces === item.data.cost)).toBe(true)
    expect(writtenOff[0]?.summary).toMatch(/written off after 35 days/)
    // The log still sums to the spend: a write-off replaces the charge it makes final.
    const sum = log.reduce((total, item) => total + auditCharge(item), 0)
    expect(Math.round(sum * 1_000_000)).toBe(13_000)
    // Final: a reconcile no longer finds the hold, and nothing changes.
    const reconcile = await store.settle({
      handle,
      holdId: 'bound',
      costMicros: 1_000,
      now: after,
      onlyIfLapsed: true,
    })
    expect(reconcile).toMatchObject({ outcome: 'not_lapsed', agent: { spentMicros: 13_000 } })
  })

  it('corrects a charge settled just past 35 days with no reserve between: only a reserve writes off (red team rt36)', async () => {
    const store = await context.open()
    const handle = uniqueHandle('write-off-settle')
    await store.createAgent(testAgentRecord(handle, 1_000_000))
    for (const holdId of ['late', 'reconciled']) {
      await store.reserve({ handle, holdId, amountMicros: 5_000, ttlMs: 1_000, now: 1_000 })
    }
    expect(await store.getAgent(handle, 2_000)).toMatchObject({ unreconciledMicros: 10_000 })
    const past = 2_000 + UNRECONCILED_RETENTION_MS + 1
    // The call's own settle, and an operator's reconcile, each still correct their lapse.
    const late = await store.settle({ handle, holdId: 'late', costMicros: 2_000, now: past })
    expect(late).toMatchObject({ outcome: 'corrected', agent: { spentMicros: 7_000 } })
    const reconciled = await store.settle({
      handle,
      holdId: 'reconciled',
      costMicros: 1_000,
      now: past,
      onlyIfLapsed: true,
      atMostCharged: true,
    })
    expect(reconciled).toMatchObject({
      outcome: 'corrected',
      agent: { spentMicros: 3_000, unreconciledMicros: 0 },
    })
    expect(
      (await store.readAudit(handle)).some((item) => item.data.outcome === 'written_off'),
    ).toBe(false)
    // Another agent's reserve writes off none of them (red team rt39: sqlite did, and the
    // late settle was then charged on top).
    const other = uniqueHandle('write-off-other')
    await store.createAgent(testAgentRecord(other, 1_000_000))
    await store.reserve({ handle, holdId: 'third', amountMicros: 5_000, ttlMs: 1_000, now: past })
    // Lapsed by this reserve's sweep (its own hold is released: nothing else of it lives on).
    await store.reserve({
      handle,
      holdId: 'sweep',
      amountMicros: 1,
      ttlMs: 60_000,
      now: past + 2_000,
    })
    await store.release({ handle, holdId: 'sweep', now: past + 2_000 })
    const later = past + UNRECONCILED_RETENTION_MS + 5_000
    await store.reserve({ handle: other, holdId: 'b', amountMicros: 1, ttlMs: 60_000, now: later })
    expect(await store.getAgent(handle, later)).toMatchObject({ unreconciledMicros: 5_000 })
    expect(
      (await store.readAudit(handle)).some(
        (item) => item.data.holdId === 'third' && item.data.outcome === 'written_off',
      ),
    ).toBe(false)
    const third = await store.settle({ handle, holdId: 'third', costMicros: 100, now: later })
    expect(third).toMatchObject({ outcome: 'corrected', agent: { unreconciledMicros: 0 } })
  })

  it('charges a lapsed hold in full as unreconciled; a late settle corrects it once', async () => {
    const store = await context.open()
    const handle = uniqueHandle('expiry')
    await store.createAgent(testAgentRecord(handle, 1_000))
    await store.reserve({ handle, holdId: 'x', amountMicros: 1_000, ttlMs: 4_000, now: 1_000 })
    const blocked = await store.reserve({
      handle,
      holdId: 'y',
      amountMicros: 1,
      ttlMs: 4_000,
      now: 4_999,
    })
    expect(blocked.ok).toBe(false)
    // The owner vanished: money may have left, so the lapse charges, never frees.
    expect(await store.getAgent(handle, 5_000)).toMatchObject({
      heldMicros: 0,
      spentMicros: 1_000,
      unreconciledMicros: 1_000,
    })
    expect(
      (await store.reserve({ handle, holdId: 'y', amountMicros: 1, ttlMs: 4_000, now: 5_000 })).ok,
    ).toBe(false)
    const late = await store.settle({ handle, holdId: 'x', costMicros: 400, now: 6_000 })
    expect(late.outcome).toBe('corrected')
    expect(late.agent).toMatchObject({ spentMicros: 400, heldMicros: 0, unreconciledMicros: 0 })
    const again = await store.settle({ handle, holdId: 'x', costMicros: 400, now: 6_000 })
    expect(again.outcome).toBe('duplicate')
    expect(again.agent).toMatchObject({ spentMicros: 400, unreconciledMicros: 0 })
    expect(
      (await store.reserve({ handle, holdId: 'y', amountMicros: 600, ttlMs: 3_000, now: 6_000 }))
        .ok,
    ).toBe(true)
  })

  it('withdraws a lapsed charge when its owner releases it (the request never left)', async () => {
    const store = await context.open()
    const handle = uniqueHandle('withdraw')
    await store.createAgent(testAgentRecord(handle, 1_000))
    await store.reserve({ handle, holdId: 'x', amountMicros: 700, ttlMs: 10, now: 1_000 })
    expect(await store.getAgent(handle, 2_000)).toMatchObject({
      spentMicros: 700,
      unreconciledMicros: 700,
    })
    const released = await store.release({ handle, holdId: 'x', now: 2_000 })
    expect(released.outcome).toBe('released')
    expect(released.agent).toMatchObject({ spentMicros: 0, unreconciledMicros: 0, heldMicros: 0 })
  })

  it('audits a hold that lapsed, once, as charged', async () => {
    const store = await context.open()
    const handle = uniqueHandle('lapse')
    await store.createAgent(testAgentRecord(handle, 10_000))
    await store.reserve({
      handle,
      holdId: 'crashed',
      amountMicros: 2_500,
      ttlMs: 4_000,
      now: 1_000,
    })
    await store.reserve({ handle, holdId: 'next', amountMicros: 1, ttlMs: 84_000, now: 6_000 })
    await store.reserve({ handle, holdId: 'later', amountMicros: 1, ttlMs: 83_000, now: 7_000 })
    const lapsed = (await store.readAudit(handle)).filter((item) => item.type === 'lapsed')
    expect(lapsed).toHaveLength(1)
    expect(lapsed[0]).toMatchObject({
      handle,
      data: { holdId: 'crashed', amount: 0.0025, expiredAt: 5_000, unreconciled: 0.0025 },
    })
    expect(lapsed[0]?.summary).toContain('charged in full')
    expect(lapsed[0]?.data).not.toHaveProperty('for')
  })

  it('names what a lapsed hold was for, when its reserve said, through a renewal', async () => {
    const store = await context.open()
    const handle = uniqueHandle('lapse-label')
    await store.createAgent(testAgentRecord(handle, 10_000))
    const label = 'claude-sonnet-4-5'
    await store.reserve({
      handle,
      holdId: 'a',
      amountMicros: 2_500,
      ttlMs: 4_000,
      now: 1_000,
      label,
    })
    await store.renew({ handle, holdId: 'a', ttlMs: 4_000, now: 3_000 })
    await store.reserve({ handle, holdId: 'next', amountMicros: 1, ttlMs: 84_000, now: 8_000 })
    const lapsed = (await store.readAudit(handle)).filter((item) => item.type === 'lapsed')
    expect(lapsed).toHaveLength(1)
    expect(lapsed[0]).toMatchObject({ data: { holdId: 'a', for: label, expiredAt: 7_000 } })
    expect(lapsed[0]?.summary).toContain(`hold of $0.0025 for ${label} lapsed at`)
  })

  it("tells a revoked agent's lease holder it is revoked, with the revocation's reason and time", async () => {
    const store = await context.open()
    const handle = uniqueHandle('renew-revoked')
    await store.createAgent(testAgentRecord(handle, 1_000))
    await store.reserve({ handle, holdId: 'live', amountMicros: 600, ttlMs: 1_000, now: 1_000 })
    await store.revokeAgent(handle, 'looping', 1_200)
    // The hold is still its call's (money that left is paid for): renewed, and the holder told.
    expect(await store.renew({ handle, holdId: 'live', ttlMs: 1_000, now: 1_500 })).toEqual({
      renewed: true,
      expiresAt: 2_500,
      revoked: { reason: 'looping', at: 1_200 },
    })
    expect(await store.renew({ handle, holdId: 'gone', ttlMs: 1_000, now: 1_500 })).toEqual({
      renewed: false,
      revoked: { reason: 'looping', at: 1_200 },
    })
  })

  it('renews a live hold so a long call keeps it; a lapsed hold cannot be renewed', async () => {
    const store = await context.open()
    const handle = uniqueHandle('renew')
    await store.createAgent(testAgentRecord(handle, 1_000))
    await store.reserve({ handle, holdId: 'long', amountMicros: 600, ttlMs: 1_000, now: 1_000 })
    for (let now = 1_500; now <= 10_000; now += 500) {
      expect(await store.renew({ handle, holdId: 'long', ttlMs: 1_000, now })).toEqual({
        renewed: true,
        expiresAt: now + 1_000,
      })
    }
    // Still live at 10,900: no one else can take its money.
    expect(
      (
        await store.reserve({
          handle,
          holdId: 'other',
          amountMicros: 500,
          ttlMs: 1_000,
          now: 10_900,
        })
      ).ok,
    ).toBe(false)
    expect(await store.getAgent(handle, 10_900)).toMatchObject({ heldMicros: 600, spentMicros: 0 })
    expect(await store.renew({ handle, holdId: 'long', ttlMs: 1_000, now: 12_000 })).toEqual({
      renewed: false,
    })
    expect(await store.getAgent(handle, 12_000)).toMatchObject({
      heldMicros: 0,
      spentMicros: 600,
      unreconciledMicros: 600,
    })
  })

  it('refuses poisoned amounts with a typed error and writes nothing', async () => {
    const store = await context.open()
    const handle = uniqueHandle('poison')
    await store.createAgent(testAgentRecord(handle, 1_000_000))
    await store.reserve({ handle, holdId: 'ok', amountMicros: 1_000, ttlMs: 60_000, now: 1_000 })
    const before = await store.getAgent(handle, 1_000)
    // A store may answer at once (store.ts): the answer is awaited, whatever it is.
    const rejects = async (run: () => unknown, field: string) => {
      await expect(Promise.resolve().then(run)).rejects.toSatisfy(
        (error: Error) =>
          InvalidConfigError.isInstance(error) && (error as InvalidConfigError).field === field,
      )
    }
    for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, -100_000_000, 0.5, 1e21]) {
      await rejects(
        () => store.settle({ handle, holdId: 'ok', costMicros: bad, now: 1_000 }),
        'costMicros',
      )
      await rejects(
        () =>
          store.reserve({
            handle,
            holdId: `b${bad}`,
            amountMicros: bad,
            ttlMs: 60_000,
            now: 1_000,
          }),
        'amountMicros',
      )
      await rejects(() => store.updateAgent(handle, { capMicros: bad }, 1_000), 'capMicros')
    }
    for (const bad of [0, -1, Number.NaN, 1e12]) {
      await rejects(
        () => store.reserve({ handle, holdId: 'ttl', amountMicros: 1, ttlMs: bad, now: 1_000 }),
        'ttlMs',
      )
    }
    expect(await store.getAgent(handle, 1_000)).toEqual(before)
    expect(
      (await store.settle({ handle, holdId: 'ok', costMicros: 900, now: 1_000 })).agent,
    ).toMatchObject({
      spentMicros: 900,
      heldMicros: 0,
    })
  })

  it('refuses a hold id that is empty, not a string or longer than 200 characters, writing nothing', async () => {
    const store = await context.open()
    const handle = uniqueHandle('holdid')
    await store.createAgent(testAgentRecord(handle, 1_000_000))
    const before = await store.getAgent(handle, 1_000)
    for (const bad of ['', 'h'.repeat(201), 5, null] as unknown as string[]) {
      const hold = { handle, holdId: bad, now: 1_000 }
      expect(
        await refusedField(() => store.reserve({ ...hold, amountMicros: 1, ttlMs: 60_000 })),
      ).toBe('holdId')
      expect(await refusedField(() => store.settle({ ...hold, costMicros: 1 }))).toBe('holdId')
      expect(await refusedField(() => store.release(hold))).toBe('holdId')
      expect(await refusedField(() => store.renew({ ...hold, ttlMs: 60_000 }))).toBe('holdId')
    }
    expect(await store.getAgent(handle, 1_000)).toEqual(before)
    // 200 characters is the longest id, on every store.
    const longest = 'h'.repeat(200)
    const held = await store.reserve({
      handle,
      holdId: longest,
      amountMicros: 1,
      ttlMs: 60_000,
      now: 1_000,
    })
    expect(held.ok).toBe(true)
  })

  it('refuses every further call once the cap is lowered below what is spent', async () => {
    const store = await context.open()
    const handle = uniqueHandle('lower')
    await store.createAgent(testAgentRecord(handle, 10_000))
    await store.reserve({
      handle,
      holdId: 'a',
      amountMicros: 6_000,
      ttlMs: 98_000,
      now: 1_000,
    })
    await store.settle({ handle, holdId: 'a', costMicros: 6_000, now: 1_000 })
    const updated = await store.updateAgent(handle, { capMicros: 5_000 }, 2_000)
    expect(updated.capMicros).toBe(5_000)
    expect(
      (
        await store.reserve({
          handle,
          holdId: 'b',
          amountMicros: 1,
          ttlMs: 97_000,
          now: 2_000,
        })
      ).ok,
    ).toBe(false)
  })

  it('never lets concurrent reserves overspend the cap', async () => {
    const store = await context.open()
    const handle = uniqueHandle('burst')
    await store.createAgent(testAgentRecord(handle, 1_000_000))
    const results = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        store.reserve({
          handle,
          holdId: `c${i}`,
          amountMicros: 7_000,
          ttlMs: 98_000,
          now: 1_000,
        }),
      ),
    )
    const admitted = results.filter((result) => result.ok).length
    expect(admitted).toBe(Math.floor(1_000_000 / 7_000))
    await Promise.all(
      results.map((result, i) =>
        result.ok
          ? store.settle({ handle, holdId: `c${i}`, costMicros: 7_000, now: 1_001 })
          : undefined,
      ),
    )
    const agent = await store.getAgent(handle, 1_002)
    expect(agent?.spentMicros).toBe(admitted * 7_000)
    expect(agent?.spentMicros).toBeLessThanOrEqual(1_000_000)
    expect(agent?.heldMicros).toBe(0)
  })

  it('holds once when a reserve is retried with the same hold id', async () => {
    const store = await context.open()
    const handle = uniqueHandle('retry')
    await store.createAgent(testAgentRecord(handle, 10_000))
    const request = { handle, holdId: 'same', amountMicros: 4_000, ttlMs: 98_000, now: 1_000 }
    expect((await store.reserve(request)).ok).toBe(true)
    expect((await store.reserve(request)).ok).toBe(true)
    expect((await store.getAgent(handle, 1_000))?.heldMicros).toBe(4_000)
    const settled = await store.settle({ handle, holdId: 'same', costMicros: 1_000, now: 1_001 })
    expect(settled.agent).toMatchObject({ heldMicros: 0, spentMicros: 1_000 })
  })

  // Each settle is bounded, their number is not: ten settles of $1 billion take an agent's
  // spend past 2^53 micro-dollars, which sqlite cannot read back (every listing of the store
  // failed with it). Every running total saturates at MAX_TOTAL_MICROS instead, on every store.
  it('saturates a spend past 2^53 at MAX_TOTAL_MICROS: every settle recorded, the store still readable', async () => {
    const store = await context.open()
    const handle = uniqueHandle('whale')
    const bystander = uniqueHandle('bystander')
    await store.createAgent(testAgentRecord(handle, 100_000_000))
    await store.createAgent(testAgentRecord(bystander, 100_000_000))
    for (let i = 0; i < 11; i++) {
      const held = await store.reserve({
        handle,
        holdId: `h${i}`,
        amountMicros: 1_000_000,
        ttlMs: i === 10 ? 1_000 : 60_000,
        now: 1_000,
      })
      expect(held.ok).toBe(true)
    }
    for (let i = 0; i < 10; i++) {
      const settled = await store.settle({
        handle,
        holdId: `h${i}`,
        costMicros: MAX_MICROS,
        now: 1_500,
      })
      expect(settled.outcome).toBe('settled')
      expect(settled.agent.spentMicros).toBe(Math.min(MAX_TOTAL_MICROS, (i + 1) * MAX_MICROS))
    }
    // A late settle and a lapse land on the saturated figure: recorded, never past it.
    const late = await store.settle({ handle, holdId: 'never', costMicros: MAX_MICROS, now: 1_600 })
    expect(late).toMatchObject({ outcome: 'late', agent: { spentMicros: MAX_TOTAL_MICROS } })
    expect(await store.getAgent(handle, 3_000)).toMatchObject({
      spentMicros: MAX_TOTAL_MICROS,
      heldMicros: 0,
      unreconciledMicros: 1_000_000,
    })
    // Its settlement arrives: the charge is replaced by the cost, from the saturated figure.
    const corrected = await store.settle({ handle, holdId: 'h10', costMicros: 0, now: 3_000 })
    expect(corrected).toMatchObject({
      outcome: 'corrected',
      agent: { spentMicros: MAX_TOTAL_MICROS - 1_000_000, unreconciledMicros: 0 },
    })
    // Above every cap: refused, and the refusal's figures are the stored ones.
    const refused = await store.reserve({
      handle,
      holdId: 'more',
      amountMicros: 1,
      ttlMs: 60_000,
      now: 3_000,
    })
    expect(refused).toMatchObject({
      ok: false,
      reason: 'cap',
      availableMicros: 0,
      refusal: { level: 'agent', spentMicros: MAX_TOTAL_MICROS - 1_000_000 },
    })
    // The store reads and writes as before, for this agent and every other.
    expect(await store.findAgentByCredentialHash(`hash-of-${handle}`, 3_000)).toMatchObject({
      handle,
      spentMicros: MAX_TOTAL_MICROS - 1_000_000,
    })
    expect(
      (
        await store.reserve({
          handle: bystander,
          holdId: 'b',
          amountMicros: 1,
          ttlMs: 60_000,
          now: 3_000,
        })
      ).ok,
    ).toBe(true)
    expect(await store.revokeAgent(handle, 'overspent', 3_100)).toMatchObject({
      alreadyRevoked: false,
      agent: { status: 'revoked' },
    })
    expect(await store.getAgent(handle, 3_200)).toMatchObject({ status: 'revoked' })
    const listed = (await store.listAgents(3_200)).filter((agent) =>
      [handle, bystander].includes(agent.handle),
    )
    expect(listed.map((agent) => agent.handle).sort()).toEqual([bystander, handle].sort())
    for (const agent of listed) {
      for (const figure of [agent.spentMicros, agent.heldMicros, agent.unreconciledMicros]) {
        expect(Number.isSafeInteger(figure)).toBe(true)
      }
    }
  })

  it("saturates a window's, a budget's and a run's spend at MAX_TOTAL_MICROS", async () => {
    const store = await context.open()
    const handle = uniqueHandle('whale-windows')
    const team = uniqueHandle('team')
    const other = uniqueHandle('other')
    await store.createBudget({
      id: team,
      limits: [
        { amountMicros: 100_000_000, per: 'day' },
        { amountMicros: 100_000_000, per: 'lifetime' },
      ],
      createdAt: 1_000,
      updatedAt: 1_000,
    })
    await store.createAgent(testAgentRecord(handle, MAX_MICROS))
    await store.updateAgent(
      handle,
      { limits: [{ amountMicros: 100_000_000, per: 'day' }], budgets: [team] },
      1_000,
    )
    await store.createAgent(testAgentRecord(other, MAX_MICROS))
    await store.updateAgent(other, { budgets: [team] }, 1_000)
    const run = { id: uniqueHandle('run'), capMicros: 100_000_000 }
    let keys: readonly string[] = []
    for (let i = 0; i < 10; i++) {
      const held = await store.reserve({
        handle,
        holdId: `h${i}`,
        amountMicros: 1_000_000,
        ttlMs: 60_000,
        now: 1_000,
        run,
      })
      expect(held.ok).toBe(true)
      if (held.ok) keys = held.levels ?? []
    }
    expect(keys).toHaveLength(4)
    for (let i = 0; i < 10; i++) {
      await store.settle({ handle, holdId: `h${i}`, costMicros: MAX_MICROS, now: 1_500 })
    }
    const saturatedUsage = { spentMicros: MAX_TOTAL_MICROS, heldMicros: 0 }
    expect(await store.readUsage(keys)).toEqual(keys.map(() => saturatedUsage))
    expect(await store.getAgent(handle, 2_000)).toMatchObject({ spentMicros: MAX_TOTAL_MICROS })
    // The budget refuses every agent drawing on it, naming the stored figure.
    expect(
      await store.reserve({
        handle: other,
        holdId: 'o',
        amountMicros: 1,
        ttlMs: 60_000,
        now: 2_000,
      }),
    ).toMatchObject({
      ok: false,
      reason: 'cap',
      availableMicros: 0,
      refusal: { level: 'budget', budgetId: team, spentMicros: MAX_TOTAL_MICROS, heldMicros: 0 },
    })
    expect((await store.listBudgets()).some((budget) => budget.id === team)).toBe(true)
    const next = uniqueHandle('next')
    await store.createBudget({ id: next, limits: [], createdAt: 2_000, updatedAt: 2_000 })
    expect(await store.getBudget(next)).toMatchObject({ id: next })
  })

  // Grants are many: an effective cap past 2^53 would let held pass it. It stops at the bound.
  it('bounds the effective cap, grants included, at MAX_TOTAL_MICROS, so held never passes it', async () => {
    const store = await context.open()
    const handle = uniqueHandle('granted')
    await store.createAgent(testAgentRecord(handle, MAX_MICROS))
    for (let i = 0; i < 9; i++) {
      const { approval } = await store.openApproval({
        id: `${handle}-a${i}`,
        handle,
        requestedMicros: MAX_MICROS,
        reason: 'more',
        ttlMs: 60_000,
        now: 1_000,
      })
      await store.decideApproval({
        id: approval.id,
        status: 'approved',
        by: 'ops',
        grant: { amountMicros: MAX_MICROS, ttlMs: 60_000 },
        now: 1_000,
      })
    }
    const results = []
    for (let i = 0; i < 10; i++) {
      results.push(
        await store.reserve({
          handle,
          holdId: `h${i}`,
          amountMicros: MAX_MICROS,
          ttlMs: 60_000,
          now: 1_000,
        }),
      )
    }
    expect(results.map((result) => result.ok)).toEqual([...Array(8).fill(true), false, false])
    expect(results[8]).toMatchObject({
      reason: 'cap',
      refusal: { level: 'agent', limitMicros: MAX_TOTAL_MICROS, heldMicros: MAX_TOTAL_MICROS },
    })
    expect(await store.getAgent(handle, 1_000)).toMatchObject({ heldMicros: MAX_TOTAL_MICROS })
    expect((await store.listAgents(1_000)).some((agent) => agent.handle === handle)).toBe(true)
  })
}
