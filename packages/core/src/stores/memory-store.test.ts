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
})
