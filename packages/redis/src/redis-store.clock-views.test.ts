// Views of window spend on the server clock: reserves pick their windows on Redis's `TIME`,
// so every reading of a window (budgets.get, agents.get, verify, check({ requireBudget }))
// must too. A process whose clock is a day ahead or behind names tomorrow's or yesterday's
// window; it must still read the window a reserve made at the same moment holds against.
import { randomUUID } from 'node:crypto'
import { createKillSwitch, type Store, windowStart } from '@killswitch/core'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { redisStore } from './redis-store.js'
import { useRedisServers } from './test-support/redis-servers.js'

const servers = useRedisServers()
const DAY = 86_400_000
// The budget's days are Auckland's, the agent's own are UTC's: both zones are read.
const ZONE = 'Pacific/Auckland'

afterEach(() => {
  vi.restoreAllMocks()
})

/** Charges `micros` to the agent's windows of the day at `now` (that store's clock). */
async function spend(store: Store, micros: number, now: number): Promise<void> {
  const holdId = randomUUID()
  const held = await store.reserve({
    handle: 'views',
    holdId,
    amountMicros: micros,
    ttlMs: 60_000,
    now,
  })
  if (!held.ok) throw new Error(`the reserve of ${micros} must be granted`)
  const settled = await store.settle({ handle: 'views', holdId, costMicros: micros, now })
  expect(settled.outcome).toBe('settled')
}

/** What a reserve made now admits: one micro-dollar more is refused, that much is held. */
async function reserveAdmits(store: Store): Promise<number> {
  const reserve = (holdId: string, amountMicros: number) =>
    store.reserve({ handle: 'views', holdId, amountMicros, ttlMs: 60_000, now: Date.now() })
  const probe = await reserve(randomUUID(), 100_000_000)
  if (probe.ok || probe.availableMicros === undefined)
    throw new Error('the probe must be refused by a level')
  const available = probe.availableMicros
  expect((await reserve(randomUUID(), available + 1)).ok).toBe(false)
  if (available > 0) {
    const holdId = randomUUID()
    expect((await reserve(holdId, available)).ok).toBe(true)
    await store.release({ handle: 'views', holdId, now: Date.now() })
  }
  return available
}

const connections = {
  'one Redis': () => ({ url: servers.redis.url }),
  'a cluster': () => ({ cluster: { nodes: servers.cluster.nodes } }),
}

describe('redisStore views on the server clock', () => {
  it.each([
    ['one Redis', 'ahead', DAY],
    ['one Redis', 'behind', -DAY],
    ['a cluster', 'ahead', DAY],
    ['a cluster', 'behind', -DAY],
  ] as const)(
    'on %s, a process a day %s reads the windows the reserves use',
    {
      timeout: 30_000,
    },
    async (name, _direction, skew) => {
      const prefix = `views-${randomUUID()}:`
      // Redis runs on this machine: its TIME is this clock before it is skewed below.
      const realNow = Date.now.bind(Date)
      const stores: Store[] = []
      const open = (options: { clock?: 'caller' } = {}) => {
        const store = redisStore({ ...connections[name](), prefix, ...options })
        stores.push(store)
        return store
      }
      const store = open()
      // Writes yesterday's and tomorrow's windows (a caller clock puts spend on any day).
      const otherDays = open({ clock: 'caller' })
      const ks = createKillSwitch({ store })
      try {
        await ks.budgets.create({ id: 'team', limits: [{ amount: 1, per: 'day' }], timeZone: ZONE })
        const { credential } = await ks.agents.create({
          handle: 'views',
          spendingCap: 100,
          limits: [{ amount: 5, per: 'day' }],
          budgets: ['team'],
        })
        await spend(otherDays, 300_000, realNow() - DAY)
        await spend(otherDays, 500_000, realNow() + DAY)
        await spend(store, 800_000, realNow())
        // A key of any other window than this process's current one is read as named.
        const yesterday = `budget:team/day@${windowStart('day', realNow() - DAY, ZONE)}`
        expect(await store.readUsage([yesterday])).toEqual([
          { spentMicros: 300_000, heldMicros: 0 },
        ])

        // Another process, its clock a day off Redis's (set before its kill switch reads it).
        vi.spyOn(Date, 'now').mockImplementation(() => realNow() + skew)
        const other = createKillSwitch({ store: open() })
        // Today's $0.80 of the budget's $1.00 and of the agent's own $5.00, whatever day this
        // process thinks it is (not tomorrow's $0.50 nor yesterday's $0.30).
        const team = await other.budgets.get('team')
        expect(team.limits[0]).toMatchObject({ spent: 0.8, held: 0, available: 0.2 })
        const agent = await other.agents.get('views')
        expect(agent.limits[0]).toMatchObject({ spent: 0.8, held: 0, available: 4.2 })
        expect(agent).toMatchObject({ available: 0.2, limitedBy: 'budget', budgetId: 'team' })
        expect(await other.verify(credential)).toMatchObject({ active: true, available: 0.2 })
        // The view is what a reserve made now admits, to the micro-dollar.
        expect(await reserveAdmits(other.store)).toBe(200_000)
        await expect(other.guard(credential).check({ requireBudget: true })).resolves.toBe('views')

        // Today's budget spent out: the skewed checks refuse, as every reserve does.
        await spend(store, 200_000, realNow())
        expect((await other.budgets.get('team')).limits[0]).toMatchObject({
          spent: 1,
          available: 0,
        })
        expect(await other.verify(credential)).toMatchObject({ available: 0, budgetId: 'team' })
        await expect(other.guard(credential).check({ requireBudget: true })).rejects.toMatchObject({
          code: 'spending_cap_exceeded',
        })
        expect(await reserveAdmits(other.store)).toBe(0)
      } finally {
        vi.restoreAllMocks()
        await Promise.allSettled(stores.map((each) => each.close()))
      }
    },
  )
})
