// The audit log's bounds on Redis beyond the conformance suite: kept for good by default (no
// silent drop at a count: the old 100,000), and with auditRetentionMs pruned in small batches
// only, however long the log: a reserve deletes one batch of its own agent's aged entries, the
// background pass one batch of each other agent it visits.
import { randomUUID } from 'node:crypto'
import { InvalidConfigError, type Store } from '@killswitch/core'
import { testAgentRecord } from '@killswitch/core/conformance'
import { describe, expect, it } from 'vitest'
import { redisKeys } from './redis-keys.js'
import { redisStore } from './redis-store.js'
import { useRedisServer } from './test-support/redis-servers.js'

const server = useRedisServer()

/** Appends `count` entries at `at` to an agent's log on the server (fast: no client JSON). */
const SEED = `
local seq = tonumber(redis.call('HGET', KEYS[1], 'auditSeq') or '0')
local count, at, handle = tonumber(ARGV[1]), ARGV[2], ARGV[3]
for first = 1, count, 1000 do
  local batch = {}
  for i = first, math.min(count, first + 999) do
    batch[#batch + 1] = '{"at":' .. at .. ',"handle":"' .. handle ..
      '","type":"alert","summary":"seeded","data":{},"seq":' .. (seq + i) .. '}'
  end
  redis.call('RPUSH', KEYS[2], unpack(batch))
end
redis.call('HSET', KEYS[1], 'auditSeq', seq + count)
return count
`
async function seed(prefix: string, handle: string, count: number, at: number) {
  const [agent, , , , , audit] = redisKeys(prefix).ledger(handle)
  await server.admin.eval(SEED, 2, agent, audit, count, at, handle)
}
const length = (prefix: string, handle: string) =>
  server.admin.llen(redisKeys(prefix).audit(handle))

const reserve = (store: Store, handle: string, holdId: string, now: number) =>
  store.reserve({ handle, holdId, amountMicros: 1, ttlMs: 60_000, now })

describe('redisStore audit retention', () => {
  it('keeps every entry by default: nothing dropped past the old 100,000 count', async () => {
    const prefix = `audit-${randomUUID()}:`
    const store = redisStore({ url: server.redis.url, prefix, clock: 'caller' })
    await store.createAgent(testAgentRecord('kept', 1_000_000))
    await seed(prefix, 'kept', 100_000, 1)
    store.appendAudit({ at: 2, handle: 'kept', type: 'alert', summary: 'newest', data: {} })
    await reserve(store, 'kept', 'h', 10 ** 12)
    expect(await length(prefix, 'kept')).toBe(100_001)
    const [oldest] = await store.readAudit('kept', { before: 2, limit: 1 })
    expect(oldest?.summary).toBe('seeded')
    expect((await store.readAudit('kept', { limit: 1 }))[0]?.summary).toBe('newest')
    await store.close()
  })

  it('prunes aged entries in small batches: the reserving agent by its reserve, the others in the background', async () => {
    const prefix = `audit-${randomUUID()}:`
    const store = redisStore({
      url: server.redis.url,
      prefix,
      clock: 'caller',
      auditRetentionMs: 60_000,
    })
    await store.createAgent(testAgentRecord('busy', 1_000_000))
    await store.createAgent(testAgentRecord('idle', 1_000_000))
    await seed(prefix, 'busy', 100_000, 1_000)
    await seed(prefix, 'busy', 3, 500_000)
    await seed(prefix, 'idle', 10, 1_000)
    await seed(prefix, 'idle', 2, 500_000)
    await reserve(store, 'busy', 'h1', 500_000)
    // The pass started by the reserve has finished once close() returns.
    await store.close()
    const deleted = 100_003 - (await length(prefix, 'busy'))
    // One batch by the reserve, at most one more by the pass: never the whole log at once.
    expect(deleted).toBeGreaterThanOrEqual(64)
    expect(deleted).toBeLessThanOrEqual(128)
    // The idle agent, never called: its aged entries gone, the newer ones kept.
    const reader = redisStore({ url: server.redis.url, prefix, clock: 'caller' })
    expect((await reader.readAudit('idle')).map((entry) => entry.at)).toEqual([500_000, 500_000])
    // Reserve after reserve, the busy agent's aged entries all go; nothing newer ever does.
    const again = redisStore({
      url: server.redis.url,
      prefix,
      clock: 'caller',
      auditRetentionMs: 60_000,
    })
    for (let i = 0; (await length(prefix, 'busy')) > 3 && i < 2_000; i++) {
      await reserve(again, 'busy', `r${i}`, 500_000 + i)
    }
    await again.close()
    expect((await reader.readAudit('busy')).map((entry) => entry.at)).toEqual([
      500_000, 500_000, 500_000,
    ])
    await reader.close()
  })

  it('refuses an auditRetentionMs that is not a positive whole number of ms', () => {
    for (const value of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, '60000']) {
      expect(() =>
        redisStore({ url: server.redis.url, auditRetentionMs: value as number }),
      ).toThrow(expect.objectContaining({ field: 'auditRetentionMs' }))
      expect(() =>
        redisStore({ url: server.redis.url, auditRetentionMs: value as number }),
      ).toThrow(InvalidConfigError)
    }
  })
})
