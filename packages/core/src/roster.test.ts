import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { Roster } from './roster.js'

describe('Roster', () => {
  it('holds exactly what joined and has not left, whatever the order (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.boolean(), fc.nat(19)), { maxLength: 200 }), (ops) => {
        const roster = new Roster<{ slot: number; id: number }>()
        const items = Array.from({ length: 20 }, (_, id) => ({ slot: -1, id }))
        const model = new Set<number>()
        for (const [join, id] of ops) {
          const item = items[id] as { slot: number; id: number }
          if (join && !model.has(id)) {
            roster.add(item)
            model.add(id)
          } else if (!join) {
            expect(roster.delete(item)).toBe(model.delete(id))
          }
        }
        expect(roster.size).toBe(model.size)
        expect(new Set(roster.members().map((item) => item.id))).toEqual(model)
      }),
    )
  })

  it('can be walked while members leave', () => {
    const roster = new Roster<{ slot: number }>()
    const items = [{ slot: -1 }, { slot: -1 }, { slot: -1 }]
    for (const item of items) roster.add(item)
    for (const item of roster.members()) roster.delete(item)
    expect(roster.size).toBe(0)
    expect(items.every((item) => item.slot === -1)).toBe(true)
  })
})
