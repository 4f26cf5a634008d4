import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { SpendHistory } from './spend-history.js'

const T0 = 1_700_000_000_000

describe('SpendHistory', () => {
  it('reads the same whether or not the reading was kept from a read in the same ms', () => {
    // Two histories fed alike; one is read after every step (its readings kept and reused
    // within a ms), the other only where compared.
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            dt: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 120_000 })),
            micros: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 5_000_000 })),
            readTwice: fc.boolean(),
          }),
          { minLength: 1, maxLength: 50 },
        ),
        (steps) => {
          const read = new SpendHistory(60_000, 1_800_000)
          const fresh = new SpendHistory(60_000, 1_800_000)
          let now = T0
          for (const { dt, micros, readTwice } of steps) {
            now += dt
            read.read(now)
            if (micros > 0) {
              read.add(now, micros)
              fresh.add(now, micros)
            }
            if (readTwice) read.read(now)
            const version = read.version
            expect(read.read(now)).toEqual(fresh.read(now))
            expect(read.version).toBe(version)
          }
        },
      ),
    )
  })

  it('a charge changes the version and the reading within the same ms', () => {
    const history = new SpendHistory(60_000, 1_800_000)
    const before = history.read(T0)
    const version = history.version
    history.add(T0, 250_000)
    expect(history.version).toBe(version + 1)
    expect(history.read(T0).recentMicros).toBe(before.recentMicros + 250_000)
  })
})
