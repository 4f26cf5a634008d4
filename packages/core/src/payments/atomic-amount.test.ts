// Atomic token units: read only as written, counted on the ledger never below what is paid.
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { atomicToMicros, parseAtomic } from './atomic-amount.js'

describe('parseAtomic', () => {
  it('reads a string of digits, and nothing else', () => {
    expect(parseAtomic('10000')).toBe(10000n)
    expect(parseAtomic('0')).toBe(0n)
    for (const value of ['-1', '1.5', '1e3', ' 1', '', 10000, 10000n, null]) {
      expect(parseAtomic(value)).toBe(undefined)
    }
  })
})

describe('atomicToMicros', () => {
  it('never counts less than was paid, and at most one micro-dollar more', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 0n, max: 10n ** 30n }),
        fc.integer({ min: 0, max: 24 }),
        (atomic, decimals) => {
          const micros = atomicToMicros(atomic, decimals)
          if (!Number.isFinite(micros)) return
          // micros / 1e6 >= atomic / 10^decimals, i.e. micros * 10^decimals >= atomic * 1e6
          const paid = atomic * 1_000_000n
          const counted = BigInt(micros) * 10n ** BigInt(decimals)
          expect(counted >= paid).toBe(true)
          expect(counted - paid < 10n ** BigInt(decimals)).toBe(true)
        },
      ),
    )
  })

  it('reports an amount beyond exact numbers as infinite, which no cap allows', () => {
    expect(atomicToMicros(10n ** 30n, 6)).toBe(Number.POSITIVE_INFINITY)
  })
})
