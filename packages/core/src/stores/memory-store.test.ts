import { describe, expect, it } from 'vitest'
import { describeStoreConformance, testAgentRecord } from '../conformance.js'
import { InvalidConfigError } from '../errors.js'
import { memoryStore } from './memory-store.js'

describeStoreConformance('memory', (options) => memoryStore(options))

describe('memoryStore', () => {
  it('rejects invalid options with InvalidConfigError naming the field', () => {
    for (const value of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => memoryStore({ auditRetentionMs: value })).toThrow(
        expect.objectContaining({ field: 'auditRetentionMs' }),
      )
      expect(() => memoryStore({ maxAuditEntriesPerAgent: value })).toThrow(InvalidConfigError)
    }
  })

  it('prunes aged audit entries in batches of at most 256 per reserve', async () => {
    const store = memoryStore({ auditRetentionMs: 10_000 })
    await store.createAgent(testAgentRecord('aged', 1_000_000))
    for (let i = 0; i < 300; i++) {
      store.appendAudit({ at: 1_000 + i, handle: 'aged', type: 'alert', summary: 'old', data: {} })
    }
    store.appendAudit({ at: 50_000, handle: 'aged', type: 'alert', summary: 'new', data: {} })
    const reserve = (holdId: string, now: number) =>
      store.reserve({ handle: 'aged', holdId, amountMicros: 1, ttlMs: 60_000, now })
    await reserve('a', 55_000)
    expect(await store.readAudit('aged')).toHaveLength(301 - 256)
    await reserve('b', 55_001)
    expect((await store.readAudit('aged')).map((item) => item.at)).toEqual([50_000])
  })

  it('answers a reserve with its own window array and bounds, not a copy a call', async () => {
    // A copy of the 256-event window per call was a fifth of what detection cost this store.
    const store = memoryStore()
    await store.createAgent(testAgentRecord('busy', 1_000_000))
    const reserve = (i: number) =>
      store.reserve({
        handle: 'busy',
        holdId: `h${i}`,
        amountMicros: 1,
        ttlMs: 60_000,
        now: 1_000,
        activity: { events: [{ at: 1_000 + i, kind: 'model_call' }], keep: 4 },
      })
    const first = await reserve(0)
    const second = await reserve(1)
    if (!first.ok || !second.ok) throw new Error('refused')
    expect(second.activity).toBe(first.activity)
    expect([first.activityStart, first.activityEnd]).toEqual([0, 1])
    expect([second.activityStart, second.activityEnd]).toEqual([0, 2])
  })

  it('keeps a lapsed hold for its late settle however many holds finish meanwhile', async () => {
    const store = memoryStore()
    await store.createAgent(testAgentRecord('late', 1_000_000_000))
    const hold = { handle: 'late', holdId: 'slow', amountMicros: 5_000, ttlMs: 1_000 }
    await store.reserve({ ...hold, now: 1_000 })
    // 25,000 calls after its lease ended (more than any count of finished holds kept): the
    // lapse charges it whole; the others turn over.
    for (let i = 0; i < 25_000; i++) {
      const call = { handle: 'late', holdId: `h${i}`, now: 10_000 + i }
      await store.reserve({ ...call, amountMicros: 10, ttlMs: 60_000 })
      await store.settle({ ...call, costMicros: 10 })
    }
    expect(await store.getAgent('late', 40_000)).toMatchObject({ unreconciledMicros: 5_000 })
    const late = await store.settle({ ...hold, costMicros: 2_000, now: 40_000 })
    expect(late.outcome).toBe('corrected')
    expect(late.agent).toMatchObject({ spentMicros: 25_000 * 10 + 2_000, unreconciledMicros: 0 })
    // A settle repeated soon after is known: not charged again.
    const again = await store.settle({
      handle: 'late',
      holdId: 'h24999',
      costMicros: 10,
      now: 40_001,
    })
    expect(again.outcome).toBe('duplicate')
  })

  it('writes off its oldest unreconciled charges past the 10,000 it keeps per agent, never forgetting one silently', async () => {
    const store = memoryStore()
    await store.createAgent(testAgentRecord('many', 1_000_000_000))
    // 10,005 calls charged at a bound (unreconciled), a few reserves apart.
    for (let i = 0; i < 10_005; i++) {
      const call = { handle: 'many', holdId: `u${i}`, now: 1_000 + i }
      await store.reserve({ ...call, amountMicros: 10, ttlMs: 60_000 })
      await store.settle({ ...call, costMicros: 7, unreconciled: true })
    }
    await store.reserve({
      handle: 'many',
      holdId: 'next',
      amountMicros: 1,
      ttlMs: 60_000,
      now: 20_000,
    })
    const agent = await store.getAgent('many', 20_000)
    // Spent keeps all of it; unreconciled keeps exactly what can still be reconciled.
    expect(agent).toMatchObject({ spentMicros: 10_005 * 7, unreconciledMicros: 10_000 * 7 })
    const log = await store.readAudit('many', { limit: 20 })
    const writtenOff = log.filter((item) => item.data.outcome === 'written_off')
    expect(writtenOff.map((item) => item.data.holdId)).toEqual(['u0', 'u1', 'u2', 'u3', 'u4'])
    // The oldest kept is still open to a reconcile; a written-off one is not.
    const reconcile = (holdId: string) =>
      store.settle({ handle: 'many', holdId, costMicros: 1, now: 20_001, onlyIfLapsed: true })
    expect((await reconcile('u4')).outcome).toBe('not_lapsed')
    expect((await reconcile('u5')).outcome).toBe('corrected')
  })
})
