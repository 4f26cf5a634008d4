// The shared poll behind the console's live updates: only changed agents are pushed, and
// the spend-rate buckets hold what was spent when it was seen.
import { createKillSwitch } from '@killswitch/core'
import { afterEach, describe, expect, it } from 'vitest'
import { AgentWatch, RATE_BUCKET_MS, RATE_BUCKETS, type WatchUpdate } from './agent-watch.js'

const closers: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const close of closers.splice(0)) await close()
})

async function setup() {
  const ks = createKillSwitch({ runaway: false })
  closers.push(() => ks.close())
  let now = Date.now()
  const watch = new AgentWatch(ks, { intervalMs: 60_000, now: () => now })
  const updates: WatchUpdate[] = []
  const stop = watch.subscribe((update) => updates.push(update))
  closers.push(async () => stop())
  const spend = async (credential: string, usd: number) => {
    const guard = ks.guard(credential)
    await guard.settleSpend(
      await guard.reserveSpend({ amountUsd: usd, kind: 'tool', description: 'x' }),
    )
  }
  return { ks, watch, updates, spend, advance: (ms: number) => (now += ms) }
}

describe('AgentWatch', () => {
  it('pushes only the agents that changed since the last poll', async () => {
    const { ks, watch, updates, spend } = await setup()
    const a = await ks.agents.create({ handle: 'a', spendingCap: 10 })
    await ks.agents.create({ handle: 'b', spendingCap: 10 })
    await watch.poll()
    expect(updates.at(-1)?.changed.map((row) => row.handle)).toEqual(['a', 'b'])
    updates.length = 0
    await watch.poll()
    expect(updates).toEqual([])
    await spend(a.credential, 1.5)
    await watch.poll()
    expect(updates).toHaveLength(1)
    expect(updates[0]?.changed.map((row) => [row.handle, row.spentText])).toEqual([
      ['a', '$1.50 / $10.00'],
    ])
  })

  it('pushes an agent when another agent spends its shared budget: what it can spend changed', async () => {
    const { ks, watch, updates, spend } = await setup()
    await ks.budgets.create({ id: 'team-a', limits: [{ amount: 2, per: 'day' }] })
    const spender = await ks.agents.create({
      handle: 'spender',
      spendingCap: 5,
      budgets: ['team-a'],
    })
    await ks.agents.create({ handle: 'sibling', spendingCap: 50, budgets: ['team-a'] })
    await watch.poll()
    updates.length = 0
    await spend(spender.credential, 2)
    await watch.poll()
    const sibling = updates[0]?.changed.find((row) => row.handle === 'sibling')
    expect(sibling).toMatchObject({
      spentText: '$0.00 / $50.00',
      availableText: '$0.00',
      limitedByText: 'budget team-a, per day',
      budgets: [{ id: 'team-a', limits: [{ spentText: '$2.00 / $2.00' }] }],
    })
  })

  it('puts spend seen between polls in the bucket of when it was seen', async () => {
    const { ks, watch, spend, advance } = await setup()
    const a = await ks.agents.create({ handle: 'a', spendingCap: 100 })
    await watch.poll()
    await spend(a.credential, 2)
    advance(RATE_BUCKET_MS)
    await watch.poll()
    await spend(a.credential, 3)
    advance(RATE_BUCKET_MS)
    await watch.poll()
    const rate = watch.rate('a')
    expect(rate).toHaveLength(RATE_BUCKETS)
    expect(rate.slice(-2)).toEqual([2, 3])
    expect(rate.reduce((sum, value) => sum + value, 0)).toBe(5)
    // Once older than the sparkline's span, spend leaves it.
    advance(RATE_BUCKETS * RATE_BUCKET_MS)
    expect(watch.rate('a').every((value) => value === 0)).toBe(true)
  })

  it('seeds the sparkline from the audit log for spend made before it watched', async () => {
    const { ks, watch, spend, advance } = await setup()
    const a = await ks.agents.create({ handle: 'a', spendingCap: 100 })
    await spend(a.credential, 4)
    advance(RATE_BUCKET_MS * 1.5)
    await watch.poll()
    await watch.seed(['a'])
    // The $4 charged before the first poll, in the bucket of its settlement; counted once.
    expect(watch.rate('a').slice(-2)).toEqual([4, 0])
    await watch.seed(['a'])
    expect(watch.rate('a').reduce((sum, value) => sum + value, 0)).toBe(4)
  })
})
