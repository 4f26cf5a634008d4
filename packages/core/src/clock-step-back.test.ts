// A clock stepped back (an NTP step, a VM restored from a snapshot) must not reopen a window
// the agent already spent: the kill switch holds its clock at the latest time it read.
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { SpendingCapExceededError } from './errors.js'
import { createKillSwitch } from './kill-switch.js'

const HOUR = 3_600_000
const T0 = Date.parse('2026-12-01T10:30:00.000Z')

describe('a clock that steps back', () => {
  it('does not find the earlier window again: an hour limit is spent once', async () => {
    let clock = T0
    const ks = createKillSwitch({ runaway: false, now: () => clock })
    const { credential } = await ks.agents.create({
      handle: 'stepper',
      spendingCap: 100,
      limits: [{ amount: 0.01, per: 'hour' }],
    })
    const guard = ks.guard(credential)
    const spend = async () => {
      const ticket = await guard.reserveSpend({ amountUsd: 0.01, kind: 'tool', description: 'x' })
      await guard.settleSpend(ticket)
    }
    await spend()
    await expect(spend()).rejects.toBeInstanceOf(SpendingCapExceededError)
    // The clock steps back past the hour's start: the 09:00 window had room left.
    clock = T0 - HOUR
    await expect(spend()).rejects.toBeInstanceOf(SpendingCapExceededError)
    expect((await ks.agents.get('stepper')).spent).toBe(0.01)
    // Once the real clock passes the next hour's start, the next window opens as usual.
    clock = T0 + HOUR
    await spend()
    expect((await ks.agents.get('stepper')).spent).toBe(0.02)
    await ks.close()
  })

  it('never spends an hour limit more than once per hour the clock reached, however it jumps', async () => {
    // Clock readings anywhere within six hours, forward and back: what is spent is at most
    // the limit once per hour window the latest reading passed through.
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: -3 * HOUR, max: 3 * HOUR }), { minLength: 1, maxLength: 40 }),
        async (offsets) => {
          let clock = T0
          const ks = createKillSwitch({ runaway: false, now: () => clock })
          const { credential } = await ks.agents.create({
            handle: 'jumper',
            spendingCap: 100,
            limits: [{ amount: 0.01, per: 'hour' }],
          })
          const guard = ks.guard(credential)
          const hours = new Set<number>()
          let latest = Number.NEGATIVE_INFINITY
          for (const offset of offsets) {
            clock = T0 + offset
            latest = Math.max(latest, clock)
            hours.add(Math.floor(latest / HOUR))
            const ticket = await guard
              .reserveSpend({ amountUsd: 0.004, kind: 'tool', description: 'x' })
              .catch(() => undefined)
            if (ticket) await guard.settleSpend(ticket)
          }
          const { spent } = await ks.agents.get('jumper')
          expect(spent).toBeLessThanOrEqual(0.01 * hours.size + 1e-9)
          await ks.close()
        },
      ),
      { numRuns: 60 },
    )
  })
})
