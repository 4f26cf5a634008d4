// Conformance cases for the ledger: reserve at the cap boundary, settle, release, expiry,
// idempotency and concurrency.
import { expect, it } from 'vitest'
import { type SuiteContext, testAgentRecord, uniqueHandle } from './support.js'

export function ledgerCases(context: SuiteContext): void {
  it('admits a reserve up to exactly the cap and refuses the micro-dollar past it', async () => {
    const store = await context.open()
    const handle = uniqueHandle('boundary')
    await store.createAgent(testAgentRecord(handle, 1_000))
    const past = await store.reserve({
      handle,
      holdId: 'a',
      amountMicros: 1_001,
      expiresAt: 10_000,
      now: 1_000,
    })
    expect(past).toMatchObject({ ok: false, reason: 'cap' })
    const exact = await store.reserve({
      handle,
      holdId: 'b',
      amountMicros: 1_000,
      expiresAt: 10_000,
      now: 1_000,
    })
    expect(exact.ok).toBe(true)
    const zero = await store.reserve({
      handle,
      holdId: 'c',
      amountMicros: 0,
      expiresAt: 10_000,
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
      expiresAt: 10_000,
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
      expiresAt: 99_000,
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

  it('releases a hold once; a settle after the release changes nothing', async () => {
    const store = await context.open()
    const handle = uniqueHandle('release')
    await store.createAgent(testAgentRecord(handle, 10_000))
    await store.reserve({
      handle,
      holdId: 'r',
      amountMicros: 3_000,
      expiresAt: 99_000,
      now: 1_000,
    })
    expect((await store.release({ handle, holdId: 'r', now: 1_500 })).outcome).toBe('released')
    expect((await store.release({ handle, holdId: 'r', now: 1_500 })).outcome).toBe('none')
    const settle = await store.settle({ handle, holdId: 'r', costMicros: 3_000, now: 1_600 })
    expect(settle.outcome).toBe('duplicate')
    expect(settle.agent).toMatchObject({ spentMicros: 0, heldMicros: 0 })
  })

  it('lets holds expire so a crashed caller cannot lock the budget; a late settle still counts', async () => {
    const store = await context.open()
    const handle = uniqueHandle('expiry')
    await store.createAgent(testAgentRecord(handle, 1_000))
    await store.reserve({
      handle,
      holdId: 'x',
      amountMicros: 1_000,
      expiresAt: 5_000,
      now: 1_000,
    })
    expect(
      (
        await store.reserve({
          handle,
          holdId: 'y',
          amountMicros: 1,
          expiresAt: 9_000,
          now: 4_999,
        })
      ).ok,
    ).toBe(false)
    expect(await store.getAgent(handle, 5_000)).toMatchObject({ heldMicros: 0, spentMicros: 0 })
    const late = await store.settle({ handle, holdId: 'x', costMicros: 400, now: 6_000 })
    expect(late.outcome).toBe('late')
    expect(late.agent).toMatchObject({ spentMicros: 400, heldMicros: 0 })
    expect((await store.settle({ handle, holdId: 'x', costMicros: 400, now: 6_000 })).outcome).toBe(
      'duplicate',
    )
    expect(
      (
        await store.reserve({
          handle,
          holdId: 'y',
          amountMicros: 600,
          expiresAt: 9_000,
          now: 6_000,
        })
      ).ok,
    ).toBe(true)
  })

  it('audits a hold that lapsed at its expiry, once, when it is swept', async () => {
    const store = await context.open()
    const handle = uniqueHandle('lapse')
    await store.createAgent(testAgentRecord(handle, 10_000))
    await store.reserve({
      handle,
      holdId: 'crashed',
      amountMicros: 2_500,
      expiresAt: 5_000,
      now: 1_000,
    })
    await store.reserve({
      handle,
      holdId: 'next',
      amountMicros: 1,
      expiresAt: 90_000,
      now: 6_000,
    })
    await store.reserve({
      handle,
      holdId: 'later',
      amountMicros: 1,
      expiresAt: 90_000,
      now: 7_000,
    })
    const lapsed = (await store.readAudit(handle)).filter((item) => item.type === 'released')
    expect(lapsed).toHaveLength(1)
    expect(lapsed[0]).toMatchObject({
      handle,
      data: { holdId: 'crashed', reason: 'expired', amount: 0.0025, expiredAt: 5_000 },
    })
    expect(lapsed[0]?.summary).toContain('lapsed')
  })

  it('refuses every further call once the cap is lowered below what is spent', async () => {
    const store = await context.open()
    const handle = uniqueHandle('lower')
    await store.createAgent(testAgentRecord(handle, 10_000))
    await store.reserve({
      handle,
      holdId: 'a',
      amountMicros: 6_000,
      expiresAt: 99_000,
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
          expiresAt: 99_000,
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
          expiresAt: 99_000,
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
    const request = { handle, holdId: 'same', amountMicros: 4_000, expiresAt: 99_000, now: 1_000 }
    expect((await store.reserve(request)).ok).toBe(true)
    expect((await store.reserve(request)).ok).toBe(true)
    expect((await store.getAgent(handle, 1_000))?.heldMicros).toBe(4_000)
    const settled = await store.settle({ handle, holdId: 'same', costMicros: 1_000, now: 1_001 })
    expect(settled.agent).toMatchObject({ heldMicros: 0, spentMicros: 1_000 })
  })
}
