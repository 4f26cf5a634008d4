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
})
