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

  it('never goes back to an earlier window, and spends each at most once, however it jumps', async () => {
    // Clock readings anywhere within six hours, forward and back. The holds' windows (their
    // audit `levels`) never go back to an earlier hour, and no hour is spent past its limit.
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
          for (const offset of offsets) {
            clock = T0 + offset
            const ticket = await guard
              .reserveSpend({ amountUsd: 0.004, kind: 'tool', description: 'x' })
              .catch(() => undefined)
            if (ticket) await guard.settleSpend(ticket)
          }
          const starts = (await ks.audit('jumper'))
            .filter((entry) => entry.type === 'hold')
            .map((entry) => Number(String((entry.data.levels as string[])[0]).split('@')[1]))
          expect(starts).toEqual([...starts].sort((a, b) => a - b))
          const perHour = new Map<number, number>()
          for (const start of starts) perHour.set(start, (perHour.get(start) ?? 0) + 0.004)
          for (const spent of perHour.values()) expect(spent).toBeLessThanOrEqual(0.01 + 1e-9)
          await ks.close()
        },
      ),
      { numRuns: 60 },
    )
  })

  it('keeps time moving after a mistaken jump forward is corrected: a poller is not a loop', async () => {
    // The clock reads a day ahead once, then is corrected. The agent polls a job once a
    // minute with the same arguments, as honest pollers do: spread a minute apart in the
    // kill switch's time too, never read as five calls at one instant.
    let clock = T0
    const ks = createKillSwitch({ now: () => clock })
    const { credential } = await ks.agents.create({ handle: 'poller', spendingCap: 10 })
    const guard = ks.guard(credential)
    clock = T0 + 24 * HOUR
    await guard.check()
    for (let minute = 1; minute <= 8; minute++) {
      clock = T0 + minute * 60_000
      const ticket = await guard.beforeToolCall({ name: 'check_job', args: { job: 'build-42' } })
      await guard.afterToolCall(ticket, { ok: true })
    }
    expect((await ks.agents.get('poller')).status).toBe('active')
    await ks.close()
  })
})
