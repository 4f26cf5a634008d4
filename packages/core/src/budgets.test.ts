import { describe, expect, it } from 'vitest'
import { capRefusalError } from './cap-refusal.js'
import { InvalidConfigError } from './errors.js'
import { createKillSwitch } from './kill-switch.js'

const T0 = Date.parse('2026-12-01T10:00:00Z')

/** A `team` budget of `perDay` a day, an agent drawing on it, and a paid lookup of its. */
async function teamOnADay(clock: { now: number }, perDay: number) {
  const ks = createKillSwitch({ runaway: false, now: () => clock.now })
  await ks.budgets.create({ id: 'team', limits: [{ amount: perDay, per: 'day' }] })
  const agent = await ks.agents.create({ handle: 'a', spendingCap: 100, budgets: ['team'] })
  const guard = ks.guard(agent.credential)
  const spend = (amountUsd: number) =>
    guard
      .reserveSpend({ amountUsd, kind: 'tool', description: 'lookup' })
      .then((ticket) => guard.settleSpend(ticket, { amountUsd }))
  return { ks, spend }
}

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
      await field(() =>
        ks.budgets.create({
          id: 'b',
          limits: [{ amount: 1, per: 'day' }],
          timeZone: 'Mars/Olympus',
        }),
      ),
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

  // Red team r22: a budget with no limit admitted everything charged to it ($2.40 past a
  // $0.20 day), and a new time zone started the day afresh ($0.96 in one day of $0.20).
  it('refuses a budget with no limit, and an update that changes nothing', async () => {
    const ks = createKillSwitch({ runaway: false })
    await ks.budgets.create({ id: 'team', limits: [{ amount: 0.2, per: 'day' }] })
    const refused = async (run: () => Promise<unknown>) => {
      const error = await run().catch((e: unknown) => e)
      expect(error).toBeInstanceOf(InvalidConfigError)
      return error as InvalidConfigError
    }
    const empty = await refused(() => ks.budgets.create({ id: 'open', limits: [] }))
    expect(empty.field).toBe('limits')
    expect(empty.message).toContain('at least one limit')
    expect((await refused(() => ks.budgets.update('team', { limits: [] }))).field).toBe('limits')
    const nothing = await refused(() => ks.budgets.update('team', {}))
    expect(nothing.field).toBe('limits')
    expect(nothing.message).toContain('Nothing to change')
    expect((await ks.budgets.list()).map(({ id, limits }) => [id, limits.length])).toEqual([
      ['team', 1],
    ])
  })

  it("keeps a budget's zone while a new one would start its current window afresh", async () => {
    const clock = { now: T0 } // 10:00 UTC
    const { ks, spend } = await teamOnADay(clock, 0.2)
    await spend(0.2)
    await expect(spend(0.01)).rejects.toMatchObject({ code: 'spending_cap_exceeded' })
    // Kiritimati (UTC+14) is already on 2 Dec: its day would be a new window.
    const error = await ks.budgets
      .update('team', { timeZone: 'Pacific/Kiritimati' })
      .catch((e: unknown) => e)
    expect(error).toBeInstanceOf(InvalidConfigError)
    expect(error).toMatchObject({ field: 'timeZone' })
    expect((error as Error).message).toContain('budgets.create')
    expect((await ks.budgets.get('team')).timeZone).toBeUndefined()
    await expect(spend(0.01)).rejects.toMatchObject({ code: 'spending_cap_exceeded' })
    // A zone whose day starts where UTC's does changes nothing now, and is taken.
    expect((await ks.budgets.update('team', { timeZone: 'Etc/UTC' })).timeZone).toBe('Etc/UTC')
    await ks.budgets.create({
      id: 'paris',
      limits: [{ amount: 1, per: 'week' }],
      timeZone: 'Europe/Paris',
    })
    expect((await ks.budgets.update('paris', { timeZone: 'Europe/Berlin' })).timeZone).toBe(
      'Europe/Berlin',
    )
    // Lifetime limits have no window to start afresh.
    await ks.budgets.create({ id: 'total', limits: [{ amount: 5, per: 'lifetime' }] })
    expect((await ks.budgets.update('total', { timeZone: 'Asia/Kolkata' })).timeZone).toBe(
      'Asia/Kolkata',
    )
    clock.now += 24 * 3_600_000
    await spend(0.2) // the next UTC day admits its own limit
  })

  // Red team rt40: a spent $1/day team budget changed to $1/week started the week at $0 and
  // let another $1 through the same day.
  it('refuses a new window whose spend so far is not known; amounts change freely', async () => {
    const clock = { now: T0 } // Tuesday 10:00 UTC; the week began on Monday
    const { ks, spend } = await teamOnADay(clock, 1)
    await spend(1)
    const refusedBy = (update: Promise<unknown>) => update.catch((e: unknown) => e)
    for (const limits of [
      [{ amount: 1, per: 'week' as const }],
      [
        { amount: 1, per: 'day' as const },
        { amount: 5, per: 'lifetime' as const },
      ],
    ]) {
      const error = await refusedBy(ks.budgets.update('team', { limits }))
      expect(error).toBeInstanceOf(InvalidConfigError)
      expect(error).toMatchObject({ field: 'limits' })
      expect((error as Error).message).toContain('budgets.create')
    }
    // Nothing written: the day still counts, and admits nothing more.
    expect((await ks.budgets.get('team')).limits).toEqual([
      expect.objectContaining({ per: 'day', amount: 1, spent: 1 }),
    ])
    await expect(spend(0.01)).rejects.toMatchObject({ code: 'spending_cap_exceeded' })
    // An amount changes with its window's spend kept.
    await ks.budgets.update('team', { limits: [{ amount: 1.5, per: 'day' }] })
    await spend(0.5)
    await expect(spend(0.01)).rejects.toMatchObject({ code: 'spending_cap_exceeded' })
    // A window is added where it is known empty: nothing spent since the window began.
    await ks.budgets.create({ id: 'fresh', limits: [{ amount: 1, per: 'day' }] })
    const fresh = await ks.budgets.update('fresh', {
      limits: [
        { amount: 1, per: 'day' },
        { amount: 3, per: 'week' },
      ],
    })
    expect(fresh.limits.map((limit) => limit.per)).toEqual(['day', 'week'])
    // Tuesday's spend is in the week, not in Wednesday's empty day: still refused.
    clock.now += 24 * 3_600_000
    await expect(
      ks.budgets.update('team', { limits: [{ amount: 5, per: 'week' }] }),
    ).rejects.toMatchObject({ field: 'limits' })
  })

  it('shows the holds a crash left as spent once their lease lapsed, on the first read', async () => {
    let now = T0
    const ks = createKillSwitch({ runaway: false, now: () => now })
    await ks.budgets.create({ id: 'team', limits: [{ amount: 1, per: 'lifetime' }] })
    const agent = await ks.agents.create({ handle: 'a', spendingCap: 10, budgets: ['team'] })
    // Held, never settled: the process that held it is gone.
    await ks.store.reserve({
      handle: 'a',
      holdId: 'crashed',
      amountMicros: 300_000,
      ttlMs: 1_000,
      now,
      budgets: ['team'],
    })
    expect((await ks.budgets.get('team')).limits[0]).toMatchObject({ held: 0.3, spent: 0 })
    now += 2_000
    expect((await ks.budgets.get('team')).limits[0]).toMatchObject({ held: 0, spent: 0.3 })
    expect(agent.handle).toBe('a')
  })

  it('tells a call naming no budget to create it, not to raise it', async () => {
    const ks = createKillSwitch({ runaway: false })
    const agent = await ks.agents.create({ handle: 'a', spendingCap: 10 })
    const error = await ks
      .guard(agent.credential)
      .reserveSpend({ amountUsd: 0.01, kind: 'tool', description: 'x', budgets: ['nope'] })
      .catch((e: unknown) => e)
    expect(error).toMatchObject({ code: 'spending_cap_exceeded', budgetId: 'nope' })
    expect((error as Error).message).toContain(
      'If no budget has the id "nope", create it (budgets.create)',
    )
  })
})
