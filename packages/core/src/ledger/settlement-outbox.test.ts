import { describe, expect, it } from 'vitest'
import { StoreUnavailableError } from '../errors.js'
import { createKillSwitch } from '../kill-switch.js'
import type { Store } from '../store.js'
import { memoryStore } from '../stores/memory-store.js'

/** A memory store whose settles and releases fail while `down` is set, as in an outage. */
function flakyStore(): { store: Store; setDown(down: boolean): void; attempts: () => number } {
  const inner = memoryStore()
  let down = false
  let attempts = 0
  const outage = () => {
    attempts++
    if (down) throw new StoreUnavailableError('The test store is down')
  }
  const store: Store = Object.assign(Object.create(inner) as Store, {
    async settle(request: Parameters<Store['settle']>[0]) {
      outage()
      return inner.settle(request)
    },
    async release(request: Parameters<Store['release']>[0]) {
      outage()
      return inner.release(request)
    },
  })
  return { store, setDown: (value) => (down = value), attempts: () => attempts }
}

describe('settlement delivery', () => {
  it('keeps a settle that failed during an outage and lands it when the store is back', async () => {
    const flaky = flakyStore()
    const ks = createKillSwitch({ store: flaky.store, runaway: false })
    const agent = await ks.agents.create({ handle: 'outage', spendingCap: 1 })
    const guard = ks.guard(agent.credential)
    const ticket = await guard.reserveSpend({ amountUsd: 0.4, kind: 'tool', description: 'search' })
    flaky.setDown(true)
    await expect(guard.settleSpend(ticket, { amountUsd: 0.35 })).rejects.toSatisfy(
      StoreUnavailableError.isInstance,
    )
    // While the store is down the hold still counts: nothing is freed.
    expect(await ks.agents.get('outage')).toMatchObject({ held: 0.4, spent: 0 })
    await new Promise((resolve) => setTimeout(resolve, 300))
    expect(flaky.attempts()).toBeGreaterThan(2)
    flaky.setDown(false)
    await ks.close()
    expect(await ks.agents.get('outage')).toMatchObject({ held: 0, spent: 0.35 })
  })

  it("charges a crashed caller's hold in full when it lapses, and corrects it on a late settle", async () => {
    let now = 1_000_000
    const store = memoryStore()
    const ks = createKillSwitch({ store, runaway: false, holdTtlMs: 60_000, now: () => now })
    const agent = await ks.agents.create({ handle: 'crash', spendingCap: 1 })
    const guard = ks.guard(agent.credential)
    const ticket = await guard.reserveSpend({
      amountUsd: 0.3,
      kind: 'payment',
      description: 'paid api',
    })
    // The caller vanishes (no settle, no renewal): at the lease's end the hold is charged.
    now += 60_001
    expect(await ks.agents.get('crash')).toMatchObject({ spent: 0.3, unreconciled: 0.3, held: 0 })
    const lapsed = (await ks.audit('crash')).filter((entry) => entry.type === 'lapsed')
    expect(lapsed).toHaveLength(1)
    // The truth arrives later (the caller's outbox, or an operator's reconciliation).
    await guard.settleSpend(ticket, { amountUsd: 0.12 })
    expect(await ks.agents.get('crash')).toMatchObject({ spent: 0.12, unreconciled: 0, held: 0 })
    await guard.settleSpend(ticket, { amountUsd: 0.12 })
    expect(await ks.agents.get('crash')).toMatchObject({ spent: 0.12 })
    await ks.close()
  })
})
