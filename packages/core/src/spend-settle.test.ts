// What a spend's settlement records: never less than was paid, and never nothing for money
// reported spent, even after its hold was released.
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { createKillSwitch } from './kill-switch.js'
import { chargeMicros, MAX_CAP_USD } from './money.js'

describe('settleSpend', () => {
  it('rounds a charge up to the micro-dollar, as its hold is, never down', async () => {
    const ks = createKillSwitch({ runaway: false })
    const { credential } = await ks.agents.create({ handle: 'a', spendingCap: 1 })
    const guard = ks.guard(credential)
    for (let i = 0; i < 1_000; i++) {
      const ticket = await guard.reserveSpend({
        amountUsd: 0.0000014,
        kind: 'payment',
        description: 'tiny',
      })
      await guard.settleSpend(ticket, { amountUsd: 0.0000014 })
    }
    // The true bill is $0.0014: rounding to the nearest would record $0.001.
    expect((await ks.agents.get('a')).spent).toBeGreaterThanOrEqual(0.0014)
    const small = await guard.reserveSpend({
      amountUsd: 0.0000005,
      kind: 'payment',
      description: 'x',
    })
    await guard.settleSpend(small, { amountUsd: 0.0000004 })
    const entries = await ks.audit('a')
    expect(entries.at(-1)?.data.cost).toBe(0.000001)
    await ks.close()
  })

  it('chargeMicros never rounds a dollar amount down, nor float noise up', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 10 ** 12 }), fc.integer({ min: 1, max: 9 }), (m, d) => {
        // A whole number of micro-dollars, written as dollars, is charged as itself...
        expect(chargeMicros(m / 1_000_000)).toBe(m)
        // ...and a tenth of one more is one more, up to $1,000 (past it a float of dollars
        // no longer holds a tenth of a micro-dollar exactly enough to tell).
        if (m <= 1e9) expect(chargeMicros((m + d / 10) / 1_000_000)).toBe(m + 1)
      }),
    )
    expect(chargeMicros(0.1 + 0.2)).toBe(300_000)
  })

  it('chargeMicros charges whole micro-dollars as themselves up to the largest cap', () => {
    // Up to MAX_CAP_USD ($1e9 = 1e15 micros): a payment of 420,664,016.117807 was recorded
    // 4 micro-dollars short by a relative noise allowance (red team rt29).
    fc.assert(
      fc.property(fc.integer({ min: 10 ** 12, max: MAX_CAP_USD * 1_000_000 }), (m) => {
        expect(chargeMicros(m / 1_000_000)).toBe(m)
      }),
      { numRuns: 2_000 },
    )
    expect(chargeMicros(420_664_016.117807)).toBe(420_664_016_117_807)
  })

  it('records a settle after a release (a payment that went through after all), once', async () => {
    const ks = createKillSwitch({ runaway: false })
    const { credential } = await ks.agents.create({ handle: 'a', spendingCap: 1 })
    const guard = ks.guard(credential)
    const ticket = await guard.reserveSpend({ amountUsd: 0.4, kind: 'payment', description: 'p' })
    await guard.releaseSpend(ticket, { reason: 'thought not sent' })
    const late = await guard.settleSpend(ticket, { amountUsd: 0.4 })
    expect(late.costUsd).toBe(0.4)
    expect(late.availableUsd).toBeCloseTo(0.6, 9)
    // Once: a retried settle is the same settlement, not a second charge.
    expect(await guard.settleSpend(ticket, { amountUsd: 0.4 })).toEqual(late)
    const agent = await ks.agents.get('a')
    expect(agent).toMatchObject({ spent: 0.4, held: 0 })
    const types = (await ks.audit('a')).map((entry) => entry.type)
    expect(types.filter((type) => type !== 'created')).toEqual(['hold', 'released', 'settled'])
    await ks.close()
  })
})
