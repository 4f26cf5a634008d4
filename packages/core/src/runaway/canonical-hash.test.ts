import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { canonicalHash, canonicalJson, hashString } from './canonical-hash.js'

/** The same object with its keys (at every level) in a random order. */
function shuffled(value: unknown, random: () => number): unknown {
  if (Array.isArray(value)) return value.map((item) => shuffled(item, random))
  if (value === null || typeof value !== 'object') return value
  const entries = Object.entries(value).sort(() => random() - 0.5)
  return Object.fromEntries(entries.map(([key, inner]) => [key, shuffled(inner, random)]))
}

describe('canonicalJson', () => {
  it('sorts keys at every level and keeps array order', () => {
    expect(canonicalJson({ b: [2, { d: 1, c: 0 }], a: 'x' })).toBe(
      '{"a":"x","b":[2,{"c":0,"d":1}]}',
    )
    expect(canonicalJson([2, 1])).not.toBe(canonicalJson([1, 2]))
  })

  it('is JSON: it parses back to the same value', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        expect(JSON.parse(canonicalJson(value))).toEqual(
          JSON.parse(JSON.stringify(value) ?? 'null'),
        )
      }),
    )
  })

  it('handles what JSON cannot: undefined, bigint, cycles, -0, NaN, dates, maps', () => {
    const cyclic: Record<string, unknown> = { a: 1 }
    cyclic.self = cyclic
    expect(canonicalJson({ a: undefined, b: () => 1, c: [undefined] })).toBe('{"c":[null]}')
    expect(canonicalJson({ n: 10n })).toBe('{"n":"10n"}')
    expect(canonicalJson(cyclic)).toBe('{"a":1,"self":"[Circular]"}')
    expect(canonicalJson([-0, Number.NaN, Number.POSITIVE_INFINITY])).toBe('[0,null,null]')
    expect(canonicalJson(new Date(0))).toBe('"1970-01-01T00:00:00.000Z"')
    expect(
      canonicalJson(
        new Map([
          ['b', 1],
          ['a', 2],
        ]),
      ),
    ).toBe('{"a":2,"b":1}')
    expect(canonicalJson(undefined)).toBe('null')
  })

  it('does not blow the stack on absurd nesting', () => {
    let deep: unknown = 'bottom'
    for (let i = 0; i < 10_000; i++) deep = { deep }
    expect(canonicalJson(deep)).toContain('[Too deep]')
  })
})

describe('canonicalHash', () => {
  it('never changes with key order (property)', () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.integer(), (value, seed) => {
        let state = seed
        const random = () => {
          state = (Math.imul(state, 1103515245) + 12345) | 0
          return (state >>> 0) / 2 ** 32
        }
        expect(canonicalHash(shuffled(value, random))).toBe(canonicalHash(value))
      }),
    )
  })

  it('is the same exactly when the canonical JSON is the same (property)', () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.jsonValue(), (a, b) => {
        expect(canonicalHash(a) === canonicalHash(b)).toBe(canonicalJson(a) === canonicalJson(b))
      }),
    )
    const near = [
      { a: 'b' },
      { ab: '' },
      ['a', 'b'],
      ['ab'],
      'ab',
      '["ab"]',
      1,
      '1',
      null,
      'null',
      [],
      {},
      [null],
      [undefined],
    ]
    const hashes = near.map(canonicalHash)
    expect(new Set(hashes).size).toBe(near.length - 1) // [null] and [undefined] are the same JSON
  })

  it('agrees with canonicalJson on what JSON drops or rewrites', () => {
    const pairs: Array<[unknown, unknown]> = [
      [{ a: undefined, b: 1 }, { b: 1 }],
      [{ d: new Date(0) }, { d: '1970-01-01T00:00:00.000Z' }],
      [{ x: { toJSON: () => undefined } }, {}],
      [
        new Map([
          ['b', 1],
          ['a', 2],
        ]),
        { a: 2, b: 1 },
      ],
      [new Set([1, 2]), [1, 2]],
      [-0, 0],
      [Number.NaN, null],
    ]
    for (const [a, b] of pairs) {
      expect(canonicalJson(a)).toBe(canonicalJson(b))
      expect(canonicalHash(a)).toBe(canonicalHash(b))
    }
  })

  it('is 16 hex digits, stable across calls and processes (a pure function of the text)', () => {
    expect(hashString('')).toMatch(/^[0-9a-f]{16}$/)
    expect(hashString('abc')).toBe(hashString('abc'))
    expect(hashString('abc')).not.toBe(hashString('abd'))
    expect(canonicalHash({ q: 'x' })).toMatch(/^[0-9a-f]{16}$/)
    const hashes = new Set(Array.from({ length: 10_000 }, (_, i) => canonicalHash({ page: i })))
    expect(hashes.size).toBe(10_000)
  })
})
