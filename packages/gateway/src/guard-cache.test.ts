import { createKillSwitch, KillSwitchError } from '@killswitch/core'
import { describe, expect, it } from 'vitest'
import { GuardCache } from './guard-cache.js'

describe('GuardCache', () => {
  it('keeps only admitted credentials: made-up keys cannot push a real guard out', async () => {
    const ks = createKillSwitch({ runaway: false })
    const { credential } = await ks.agents.create({ handle: 'real', spendingCap: 1 })
    const cache = new GuardCache(ks, 2)
    const first = await cache.admit(credential)
    expect(first.handle).toBe('real')
    for (let i = 0; i < 5; i++) {
      await expect(cache.admit(`ks_madeup${i}${'x'.repeat(40)}`)).rejects.toBeInstanceOf(
        KillSwitchError,
      )
    }
    expect(cache.size).toBe(1)
    expect((await cache.admit(credential)).guard).toBe(first.guard)
    await ks.close()
  })

  it('drops the least recently admitted guard past its bound', async () => {
    const ks = createKillSwitch({ runaway: false })
    const credentials = await Promise.all(
      ['a', 'b', 'c'].map(
        async (handle) => (await ks.agents.create({ handle, spendingCap: 1 })).credential,
      ),
    )
    const cache = new GuardCache(ks, 2)
    const [a, b, c] = credentials as [string, string, string]
    const first = await cache.admit(a)
    await cache.admit(b)
    await cache.admit(a) // a is now the most recent
    await cache.admit(c) // b goes
    expect(cache.size).toBe(2)
    expect((await cache.admit(a)).guard).toBe(first.guard)
    await ks.close()
  })
})
