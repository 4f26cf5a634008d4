import { describe, expect, it } from 'vitest'
import { capRefusalError } from './cap-refusal.js'
import { InvalidConfigError } from './errors.js'
import { createKillSwitch } from './kill-switch.js'

const T0 = Date.parse('2026-12-01T10:00:00Z')

describe('budgets API', () => {
  it('creates, lists, gets and updates a shared budget with live figures per window', async () => {
    let now = T0
    const ks = createKillSwitch({ now: () => now, runaway: false })
    await ks.budgets.create({
      id: 'team-research',
      limits: [
        { amount: 100, per: 'day' },
        { amount: 2000, per: 'month' },
      ],
    })
    await ks.agents.create({
      handle: 'researcher-7',
      spendingCap: 50,
      limits: [{ amount: 5, per: 'hour' }],
    })
    const updated = await ks.agents.update('researcher-7', { budgets: ['team-research'] })
    expect(updated.budgets).toEqual(['team-research'])
    expect(updated.limits).toEqual([
      {
        amount: 5,
        per: 'hour',
        spent: 0,
        held: 0,
        available: 5,
        resetsAt: '2026-12-01T11:00:00.000Z',
      },
    ])
    const agent = await ks.agents.create({
      handle: 'writer',
      spendingCap: 50,
      budgets: ['team-research'],
    })
    const guard = ks.guard(agent.credential)
    const ticket = await guard.reserveSpend({ amountUsd: 3, kind: 'tool', description: 'search' })
    await guard.settleSpend(ticket, { amountUsd: 2.5 })
    const budget = await ks.budgets.get('team-research')
    expect(budget).toMatchObject({
      id: 'team-research',
      agents: ['researcher-7', 'writer'],
      limits: [
        {
          amount: 100,
          per: 'day',
          spent: 2.5,
          held: 0,
          available: 97.5,
          resetsAt: '2026-12-02T00:00:00.000Z',
        },
        {
          amount: 2000,
          per: 'month',
          spent: 2.5,
          available: 1997.5,
          resetsAt: '2027-01-01T00:00:00.000Z',
        },
      ],
    })
    await ks.budgets.update('team-research', { limits: [{ amount: 150, per: 'day' }] })
    expect(
      (await ks.budgets.list()).map((b) => b.limits.map((l) => `${l.amount}/${l.per}`)),
    ).toEqual([['150/day']])
    now += 24 * 3_600_000
    expect((await ks.budgets.get('team-research')).limits[0]).toMatchObject({
      spent: 0,
      available: 150,
    })
  })

  it('refuses bad input with the field named, and writes nothing', async () => {
    const ks = createKillSwitch({ runaway: false })
    const field = async (run: () => Promise<unknown>) => {
      try {
        await run()
      } catch (error) {
        expect(error).toBeInstanceOf(InvalidConfigError)
        return (error as InvalidConfigError).field
      }
      throw new Error('expected an InvalidConfigError')
    }
    expect(
      await field(() => ks.budgets.create({ id: 'b', limits: [{ amount: -1, per: 'day' }] })),
    ).toBe('limits.0.amount')
    expect(
      await field(() =>
        ks.budgets.create({ id: 'b', limits: [{ amount: 1, per: 'fortnight' as 'day' }] }),
      ),
    ).toBe('limits.0.per')
    expect(
      await field(() =>
        ks.budgets.create({
          id: 'b',
          limits: [
            { amount: 1, per: 'day' },
            { amount: 2, per: 'day' },
          ],
        }),
      ),
    ).toBe('limits')
    expect(
      await field(() => ks.budgets.create({ id: 'b', limits: [], timeZone: 'Mars/Olympus' })),
    ).toBe('timeZone')
    expect(
      await field(() => ks.agents.create({ handle: 'a', spendingCap: 1, budgets: ['nope'] })),
    ).toBe('budgets.0')
    // Red team r20: a budget named twice, and a routing key nobody would page, were taken.
    await ks.budgets.create({ id: 'team', limits: [{ amount: 1, per: 'day' }] })
    expect(
      await field(() =>
        ks.agents.create({ handle: 'a', spendingCap: 1, budgets: ['team', 'team'] }),
      ),
    ).toBe('budgets')
    const alert = { thresholdPct: 0.8, webhookUrl: 'https://hooks.example.com/ks' }
    expect(
      await field(() =>
        ks.agents.create({
          handle: 'a',
          spendingCap: 1,
          alerts: [{ ...alert, format: 'json', routingKey: 'abc' }],
        }),
      ),
    ).toBe('alerts.0.routingKey')
    expect(await ks.agents.list()).toEqual([])
    expect((await ks.budgets.list()).map((budget) => budget.id)).toEqual(['team'])
  })

  it('says which level refused, and when it resets', async () => {
    const ks = createKillSwitch({ runaway: false, now: () => T0 })
    await ks.budgets.create({ id: 'customer-acme', limits: [{ amount: 1, per: 'day' }] })
    const agent = await ks.agents.create({
      handle: 'saas',
      spendingCap: 50,
      budgets: ['customer-acme'],
    })
    const guard = ks.guard(agent.credential)
    const error = await guard
      .reserveSpend({ amountUsd: 2, kind: 'tool', description: 'x' })
      .catch((e) => e)
    expect(error).toMatchObject({ code: 'spending_cap_exceeded' })
    const record = await ks.store.getAgent('saas', T0)
    const direct = capRefusalError(
      record as never,
      {
        level: 'budget',
        budgetId: 'customer-acme',
        per: 'day',
        resetsAt: T0 + 14 * 3_600_000,
        limitMicros: 1_000_000,
        spentMicros: 0,
        heldMicros: 0,
      },
      2_000_000,
    )
    expect(direct).toMatchObject({
      level: 'budget',
      budgetId: 'customer-acme',
      per: 'day',
      resetsAt: '2026-12-02T00:00:00.000Z',
      availableUsd: 1,
    })
    expect(direct.message).toContain('budget "customer-acme" ($1/day)')
    expect(direct.message).toContain('It resets at 2026-12-02T00:00:00.000Z')
  })
})
