// agents.reconcile: a lapsed hold's real cost delivered after its process died, from another.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { InvalidConfigError } from './errors.js'
import { createKillSwitch } from './kill-switch.js'
import { sqliteStore } from './stores/sqlite-store.js'

const root = mkdtempSync(join(tmpdir(), 'killswitch-reconcile-'))
afterAll(() => rmSync(root, { recursive: true, force: true }))

/** A process pays, its payment's answer never comes, it dies; the hold lapses. */
async function crashedPayment() {
  const path = join(root, `reconcile-${Math.random().toString(36).slice(2)}.db`)
  let now = 1_000_000
  const first = createKillSwitch({ store: sqliteStore(path), runaway: false, now: () => now })
  const agent = await first.agents.create({ handle: 'payer', spendingCap: 5 })
  const guard = first.guard(agent.credential)
  await guard.reserveSpend({ amountUsd: 0.3, kind: 'payment', description: 'render' })
  await guard.reserveSpend({ amountUsd: 0.2, kind: 'tool', description: 'search' })
  // Killed: nothing settles, nothing renews. The next process starts past the lease.
  now += 301_000
  const next = createKillSwitch({ store: sqliteStore(path), runaway: false, now: () => now })
  const lapsed = (await next.audit('payer')).filter((entry) => entry.type === 'lapsed')
  return { ks: next, lapsed, first }
}

const refusal = (promise: Promise<unknown>) =>
  promise.then(
    () => undefined,
    (error: unknown) => (error instanceof InvalidConfigError ? error.field : error),
  )

describe('agents.reconcile', () => {
  it('replaces a lapse charge with the real cost, from another process, once', async () => {
    const { ks, lapsed } = await crashedPayment()
    expect(lapsed.map((entry) => entry.data.amount).sort()).toEqual([0.2, 0.3])
    const payment = lapsed.find((entry) => entry.data.amount === 0.3)
    const holdId = String(payment?.data.holdId)
    expect(await ks.agents.get('payer')).toMatchObject({ spent: 0.5, unreconciled: 0.5 })
    const done = await ks.agents.reconcile('payer', {
      holdId,
      amountUsd: 0.1,
      note: 'receipt 42',
      by: 'alice',
    })
    expect(done.outcome).toBe('corrected')
    expect(done.agent).toMatchObject({ spent: 0.3, unreconciled: 0.2 })
    const entry = (await ks.audit('payer')).at(-1)
    expect(entry).toMatchObject({
      type: 'settled',
      data: { holdId, cost: 0.1, reconciled: true, by: 'alice', note: 'receipt 42' },
    })
    expect(entry?.summary).toBe(
      `settled $0.1 for unreconciled hold ${holdId}: reconciled by alice (receipt 42): replaces the $0.3 charged before (spend -$0.2)`,
    )
    const again = await ks.agents.reconcile('payer', { holdId, amountUsd: 0.1 })
    expect(again).toMatchObject({ outcome: 'duplicate', agent: { spent: 0.3 } })
  })

  it("corrects a model call charged its bound (nothing known of its usage) from the provider's bill", async () => {
    const ks = createKillSwitch({
      runaway: false,
      prices: { m: { inputPerMTok: 1, outputPerMTok: 1 } },
    })
    const { credential } = await ks.agents.create({ handle: 'caller', spendingCap: 5 })
    const guard = ks.guard(credential)
    const ticket = await guard.beforeModelCall({ model: 'm', input: 'hi', maxOutputTokens: 1000 })
    // It left; no usage came and nothing streamed (a 502 after it was sent): its whole bound.
    await guard.failModelCall(ticket, new Error('bad gateway'), { sent: true })
    const charged = await ks.agents.get('caller')
    expect(charged.spent).toBeGreaterThan(0.001)
    expect(charged).toMatchObject({ held: 0, unreconciled: charged.spent })
    // The provider's bill says what it really cost: corrected, once.
    const done = await ks.agents.reconcile('caller', { holdId: ticket.id, amountUsd: 0.000002 })
    expect(done).toMatchObject({
      outcome: 'corrected',
      agent: { spent: 0.000002, unreconciled: 0 },
    })
    await ks.close()
  })

  it('refuses a cost above the whole hold the lapse charged unless told it is right', async () => {
    const { ks, lapsed } = await crashedPayment()
    const holdId = String(lapsed.find((entry) => entry.data.amount === 0.2)?.data.holdId)
    const before = await ks.audit('payer')
    // Typed $5 for a $0.20 hold: refused, naming the figure and the way through, nothing written.
    const typo = ks.agents.reconcile('payer', { holdId, amountUsd: 5 })
    await expect(typo).rejects.toMatchObject({
      field: 'amountUsd',
      message: expect.stringContaining('more than the $0.2 hold'),
    })
    await expect(typo).rejects.toThrow(/aboveHold: true/)
    expect(await ks.audit('payer')).toEqual(before)
    expect(await ks.agents.get('payer')).toMatchObject({ spent: 0.5, unreconciled: 0.5 })
    // The hold itself is accepted, and with aboveHold a bill that really is higher.
    const higher = await ks.agents.reconcile('payer', { holdId, amountUsd: 0.25, aboveHold: true })
    expect(higher).toMatchObject({
      outcome: 'corrected',
      agent: { spent: 0.55, unreconciled: 0.3 },
    })
  })

  it('refuses a live, unknown or malformed hold, or a bad amount, writing nothing', async () => {
    const { ks, first, lapsed } = await crashedPayment()
    const holdId = String(lapsed[0]?.data.holdId)
    // A live call of another agent: its hold is its own process's to settle.
    const revived = await first.guard(
      (await first.agents.create({ handle: 'live-agent', spendingCap: 1 })).credential,
    )
    const held = await revived.reserveSpend({ amountUsd: 0.4, kind: 'tool', description: 'x' })
    const before = await ks.audit('payer')
    expect(
      await refusal(ks.agents.reconcile('live-agent', { holdId: held.id, amountUsd: 0 })),
    ).toBe('holdId')
    expect(await refusal(ks.agents.reconcile('payer', { holdId: 'never', amountUsd: 0.1 }))).toBe(
      'holdId',
    )
    for (const amountUsd of [Number.NaN, -1, Number.POSITIVE_INFINITY, '0.1']) {
      expect(await refusal(ks.agents.reconcile('payer', { holdId, amountUsd } as never))).toBe(
        'amountUsd',
      )
    }
    // Each refusal says what is wrong with the figure (rt32: all said "is required").
    const said = async (amountUsd: unknown) =>
      (await ks.agents.reconcile('payer', { holdId, amountUsd } as never).catch((e) => e)).message
    expect(await said(-1)).toMatch(/at least 0 dollars/)
    expect(await said(1e12)).toMatch(/at most .* dollars/)
    expect(await said(Number.POSITIVE_INFINITY)).toMatch(/a finite number of dollars/)
    expect(await said('0.1')).toMatch(/a number of dollars is required/)
    expect(await refusal(ks.agents.reconcile('payer', { holdId: '', amountUsd: 0 }))).toBe('holdId')
    expect(
      await refusal(ks.agents.reconcile('payer', { holdId, amountUsd: 0, x: 1 } as never)),
    ).toBe('x')
    expect(await ks.audit('payer')).toEqual(before)
    expect(await ks.agents.get('live-agent')).toMatchObject({ held: 0.4, spent: 0 })
    expect(await ks.agents.get('payer')).toMatchObject({ spent: 0.5, unreconciled: 0.5 })
  })
})
