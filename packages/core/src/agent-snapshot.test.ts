// An agent's snapshot says what it can really still spend: the tightest of its cap, its own
// windows and its shared budgets' windows, as `verify` answers, and names the level.
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { createKillSwitch } from './kill-switch.js'
import { memoryStore } from './stores/memory-store.js'

const T0 = Date.parse('2026-12-01T10:00:00Z')

async function spend(ks: ReturnType<typeof createKillSwitch>, credential: string, usd: number) {
  const guard = ks.guard(credential)
  const ticket = await guard.reserveSpend({ amountUsd: usd, kind: 'tool', description: 'x' })
  await guard.settleSpend(ticket, { amountUsd: usd })
}

describe('agent snapshots: available', () => {
  it('is 0, limited by the budget, once a shared budget the agent draws on is spent out', async () => {
    const ks = createKillSwitch({ now: () => T0, runaway: false })
    await ks.budgets.create({ id: 'team-a', limits: [{ amount: 2, per: 'day' }] })
    const teammate = await ks.agents.create({
      handle: 'mate',
      spendingCap: 50,
      budgets: ['team-a'],
    })
    await ks.agents.create({ handle: 'b', spendingCap: 50, budgets: ['team-a'] })
    await spend(ks, teammate.credential, 2)
    expect(await ks.agents.get('b')).toMatchObject({
      available: 0,
      limitedBy: 'budget',
      budgetId: 'team-a',
      per: 'day',
      resetsAt: '2026-12-02T00:00:00.000Z',
    })
    const listed = (await ks.agents.list()).find((agent) => agent.handle === 'b')
    expect(listed).toMatchObject({ available: 0, limitedBy: 'budget', budgetId: 'team-a' })
  })

  it("is its own window's room when that is tighter than the cap", async () => {
    const ks = createKillSwitch({ now: () => T0, runaway: false })
    const agent = await ks.agents.create({
      handle: 'w',
      spendingCap: 50,
      limits: [{ amount: 1, per: 'hour' }],
    })
    await spend(ks, agent.credential, 0.25)
    expect(await ks.agents.get('w')).toMatchObject({
      available: 0.75,
      limitedBy: 'agent',
      per: 'hour',
      resetsAt: '2026-12-01T11:00:00.000Z',
    })
  })

  it('is cap - spent - held for a plain agent, and 0 once it is revoked', async () => {
    const ks = createKillSwitch({ now: () => T0, runaway: false })
    const agent = await ks.agents.create({ handle: 'p', spendingCap: 5 })
    await spend(ks, agent.credential, 1.5)
    const snapshot = await ks.agents.get('p')
    expect(snapshot).toMatchObject({ available: 3.5, limitedBy: 'agent' })
    expect(snapshot).not.toHaveProperty('per')
    expect(await ks.agents.revoke('p')).toMatchObject({ available: 0 })
  })

  it('always equals what verify answers for an active agent (random windows, budgets, spends)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          cap: fc.integer({ min: 1, max: 20 }),
          window: fc.option(fc.integer({ min: 1, max: 20 }), { nil: undefined }),
          budget: fc.option(fc.integer({ min: 1, max: 20 }), { nil: undefined }),
          spends: fc.array(fc.integer({ min: 1, max: 400 }), { maxLength: 6 }),
        }),
        async ({ cap, window, budget, spends }) => {
          const ks = createKillSwitch({ now: () => T0, runaway: false })
          if (budget !== undefined) {
            await ks.budgets.create({ id: 'shared', limits: [{ amount: budget, per: 'day' }] })
          }
          const agent = await ks.agents.create({
            handle: 'a',
            spendingCap: cap,
            ...(window === undefined ? {} : { limits: [{ amount: window, per: 'hour' }] }),
            ...(budget === undefined ? {} : { budgets: ['shared'] }),
          })
          for (const cents of spends) {
            await spend(ks, agent.credential, cents / 100).catch(() => undefined)
          }
          const verified = await ks.verify(agent.credential)
          const snapshot = await ks.agents.get('a')
          expect(snapshot.available).toBe(verified.available)
          expect(snapshot.limitedBy).toBe(verified.limitedBy)
          expect(snapshot.budgetId).toBe(verified.budgetId)
          expect(snapshot.per).toBe(verified.per)
        },
      ),
      { numRuns: 60 },
    )
  })

  it('lists many windowed agents with a fixed number of usage reads, not one per agent', async () => {
    const store = memoryStore()
    let reads = 0
    const readUsage = store.readUsage.bind(store)
    store.readUsage = (keys) => {
      reads++
      return readUsage(keys)
    }
    const ks = createKillSwitch({ store, now: () => T0, runaway: false })
    await ks.budgets.create({ id: 'team', limits: [{ amount: 5, per: 'day' }] })
    for (let i = 0; i < 20; i++) {
      await ks.agents.create({
        handle: `w${i}`,
        spendingCap: 50,
        limits: [{ amount: 1, per: 'hour' }],
        budgets: ['team'],
      })
    }
    reads = 0
    const listed = await ks.agents.list()
    expect(listed).toHaveLength(20)
    expect(listed.every((agent) => agent.available === 1 && agent.per === 'hour')).toBe(true)
    // The windows' figures shown, and the tightest levels: one read each.
    expect(reads).toBe(2)
  })
})
