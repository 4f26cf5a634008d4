// The Lua ledger beyond the conformance suite: poisoned figures refused before anything is
// written (through the store and straight at the scripts), the lapse entry formatted exactly
// as core formats it, finished holds pruned in small batches, and the round trips.
import { randomUUID } from 'node:crypto'
import { InvalidConfigError, type Store, UNRECONCILED_RETENTION_MS } from '@killswitch/core'
import { testAgentRecord } from '@killswitch/core/conformance'
import fc from 'fast-check'
import { Redis } from 'ioredis'
import { afterEach, describe, expect, it } from 'vitest'
import { redisKeys } from './redis-keys.js'
import { LEDGER_LUA } from './redis-lua-ledger.js'
import { scriptCalls } from './redis-script-calls.js'
import { SCRIPTS } from './redis-scripts.js'
import { redisStore } from './redis-store.js'
import { useRedisServer } from './test-support/redis-servers.js'

const server = useRedisServer()

const opened: Store[] = []
afterEach(async () => {
  await Promise.allSettled(opened.splice(0).map((store) => store.close()))
})
const open = (options: Partial<Parameters<typeof redisStore>[0]> = {}) => {
  const store = redisStore({
    url: server.redis.url,
    prefix: newPrefix(),
    clock: 'caller',
    ...options,
  })
  opened.push(store)
  return store
}
const newPrefix = () => `killswitch-test-${randomUUID()}:`

/** Every key under the prefix with its exact serialised value: "nothing written" means equal. */
async function snapshot(prefix: string): Promise<Record<string, string>> {
  const keys = (await server.admin.keys(`${prefix}*`)).sort()
  const values = await Promise.all(keys.map((key) => server.admin.dumpBuffer(key)))
  return Object.fromEntries(keys.map((key, i) => [key, values[i]?.toString('hex') ?? '']))
}

const POISON = [Number.NaN, Number.POSITIVE_INFINITY, 1e21, -100, 0.5, -0.000001]

describe('redisStore ledger', () => {
  it('refuses poisoned amounts (NaN, Infinity, 1e21, -100, fractions) with a typed error, writing nothing', async () => {
    const prefix = newPrefix()
    const store = open({ prefix })
    await store.createAgent(testAgentRecord('poison', 1_000_000))
    await store.reserve({
      handle: 'poison',
      holdId: 'ok',
      amountMicros: 5_000,
      ttlMs: 60_000,
      now: 1_000,
    })
    const before = await snapshot(prefix)
    // A store may answer a ledger write at once (store.ts): the answer is awaited either way.
    const field = (run: () => unknown) =>
      Promise.resolve()
        .then(run)
        .then(
          () => 'accepted',
          (error: unknown) =>
            InvalidConfigError.isInstance(error)
              ? (error as InvalidConfigError).field
              : String(error),
        )
    for (const bad of POISON) {
      expect(
        await field(() =>
          store.settle({ handle: 'poison', holdId: 'ok', costMicros: bad, now: 1_000 }),
        ),
      ).toBe('costMicros')
      expect(
        await field(() =>
          store.reserve({ handle: 'poison', holdId: 'p', amountMicros: bad, ttlMs: 9, now: 1_000 }),
        ),
      ).toBe('amountMicros')
      expect(await field(() => store.updateAgent('poison', { capMicros: bad }, 1_000))).toBe(
        'capMicros',
      )
      expect(
        await field(() =>
          store.reserve({ handle: 'poison', holdId: 'p', amountMicros: 1, ttlMs: bad, now: 1_000 }),
        ),
      ).toBe('ttlMs')
      expect(
        await field(() => store.renew({ handle: 'poison', holdId: 'ok', ttlMs: bad, now: 1_000 })),
      ).toBe('ttlMs')
      expect(await field(() => store.release({ handle: 'poison', holdId: 'ok', now: bad }))).toBe(
        'now',
      )
    }
    // A figure that is not a number at all (from untyped JavaScript) is refused the same way.
    expect(
      await field(() =>
        store.settle({
          handle: 'poison',
          holdId: 'ok',
          costMicros: '100' as unknown as number,
          now: 1,
        }),
      ),
    ).toBe('costMicros')
    expect(await snapshot(prefix)).toEqual(before)
    // And the hold is still there to be settled at its real cost.
    const settled = await store.settle({
      handle: 'poison',
      holdId: 'ok',
      costMicros: 4_000,
      now: 1_000,
    })
    expect(settled.agent).toMatchObject({ spentMicros: 4_000, heldMicros: 0 })
  })

  it('the scripts themselves refuse poisoned arguments before any write (no client check in between)', async () => {
    const prefix = newPrefix()
    const store = open({ prefix })
    await store.createAgent(testAgentRecord('raw', 1_000_000))
    await store.reserve({
      handle: 'raw',
      holdId: 'live',
      amountMicros: 5_000,
      ttlMs: 60_000,
      now: 1_000,
    })
    store.appendAudit({ at: 1, handle: 'raw', type: 'alert', summary: 'written', data: {} })
    await store.flush()
    const client = new Redis(server.redis.url)
    for (const [name, definition] of Object.entries(SCRIPTS)) client.defineCommand(name, definition)
    const calls = scriptCalls({
      keys: redisKeys(prefix),
      origin: 'test',
      clock: 'caller',
      holdRetentionMs: 3_600_000,
      maxAuditEntriesPerAgent: 100,
    })
    const send = (call: { name: string; keys: string[]; args: (string | number)[] }) =>
      (client as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>)[call.name]?.(
        ...call.keys,
        ...call.args,
      )
    const before = await snapshot(prefix)
    // Position 5 on is each script's own arguments (after clock, now, retention, maxAudit).
    for (const text of [
      'NaN',
      'Infinity',
      '-Infinity',
      '1e+21',
      '-100',
      '0.5',
      '',
      ' 1',
      '0x10',
      '1000000000000001',
    ]) {
      const settle = calls.settle({ handle: 'raw', holdId: 'live', costMicros: 1, now: 1_000 })
      settle.args[5] = text
      // A buffered entry rides along: it must not be written either.
      settle.args.push(
        JSON.stringify({ at: 2, handle: 'raw', type: 'alert', summary: 'x', data: {} }),
      )
      expect(await send(settle)).toEqual(['invalid', 'costMicros'])
      const reserve = calls.reserve(
        { handle: 'raw', holdId: 'n', amountMicros: 1, ttlMs: 9, now: 1_000 },
        '{}',
      )
      reserve.args[5] = text
      expect(await send(reserve)).toEqual(['invalid', 'amountMicros'])
      const ttl = calls.reserve(
        { handle: 'raw', holdId: 'n', amountMicros: 1, ttlMs: 9, now: 1_000 },
        '{}',
      )
      ttl.args[6] = text
      expect(await send(ttl)).toEqual(['invalid', 'ttlMs'])
      // (An empty cap means "unchanged", and 1e15 + 1 ms is a valid time: both are no poison.)
      if (text !== '') {
        const cap = calls.update('raw', { capMicros: 1 }, 1_000, undefined)
        cap.args[4] = text
        expect(await send(cap)).toEqual(['invalid', 'capMicros'])
      }
      if (text !== '1000000000000001') {
        const now = calls.release({ handle: 'raw', holdId: 'live', now: 1_000 })
        now.args[1] = text
        expect(await send(now)).toEqual(['invalid', 'now'])
      }
    }
    expect(await snapshot(prefix)).toEqual(before)
    client.disconnect()
  })

  it('writes the lapse entry exactly as core does: dollars and ISO dates formatted by JavaScript', async () => {
    const format = `${LEDGER_LUA}
return {dollars(tonumber(ARGV[5])), iso(tonumber(ARGV[6]))}`
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.integer({ min: 0, max: 1_000_000_000_000_000 }),
          fc.integer({ min: 0, max: 10_000_000 }),
          fc.constantFrom(0, 1, 10, 100_000, 1_000_000, 999_999_999_999_999, 123_456_789_012_345),
        ),
        fc.oneof(
          fc.integer({ min: 0, max: 8_640_000_000_000_000 }),
          fc.integer({ min: 0, max: 4_102_444_800_000 }),
          fc.constantFrom(0, 951_782_400_000, 253_402_300_799_999, 253_402_300_800_000),
        ),
        async (micros, ms) => {
          const reply = await server.admin.eval(
            format,
            0,
            'caller',
            '0',
            '1',
            '1',
            String(micros),
            String(ms),
          )
          expect(reply).toEqual([String(micros / 1_000_000), new Date(ms).toISOString()])
        },
      ),
      { numRuns: 300 },
    )
  })

  it('forgets finished holds past their retention in small batches, lapsed ones 35 days later', async () => {
    const prefix = newPrefix()
    const retention = 10_000
    const store = open({ prefix, holdRetentionMs: retention })
    await store.createAgent(testAgentRecord('prune', 1_000_000_000))
    for (let i = 0; i < 40; i++) {
      await store.reserve({
        handle: 'prune',
        holdId: `s${i}`,
        amountMicros: 10,
        ttlMs: 60_000,
        now: 1_000,
      })
      await store.settle({ handle: 'prune', holdId: `s${i}`, costMicros: 10, now: 1_000 })
    }
    await store.reserve({
      handle: 'prune',
      holdId: 'crash',
      amountMicros: 10,
      ttlMs: 1,
      now: 1_000,
    })
    expect(await store.getAgent('prune', 1_001)).toMatchObject({ unreconciledMicros: 10 })
    const done = `${prefix}holddone:prune`
    expect(await server.admin.hlen(done)).toBe(41)
    // An unreconciled charge keeps the idempotency state (no expiry) until it is corrected or
    // written off: an idle agent's keys must not forget it with the charge still unreconciled.
    expect(await server.admin.pttl(done)).toBe(-1)
    expect(await server.admin.pttl(`${prefix}holdprune:prune`)).toBe(-1)
    // Within the retention a repeated settle is still a duplicate.
    expect(
      (
        await store.settle({
          handle: 'prune',
          holdId: 's0',
          costMicros: 10,
          now: 1_000 + retention - 1,
        })
      ).outcome,
    ).toBe('duplicate')
    // Past it, each operation forgets at most 16: never one long pause.
    const later = 1_000 + retention + 1
    await store.reserve({ handle: 'prune', holdId: 'n1', amountMicros: 1, ttlMs: 9, now: later })
    expect(await server.admin.hlen(done)).toBe(41 - 16)
    await store.reserve({ handle: 'prune', holdId: 'n2', amountMicros: 1, ttlMs: 9, now: later })
    await store.reserve({ handle: 'prune', holdId: 'n3', amountMicros: 1, ttlMs: 9, now: later })
    // 40 settled gone; the lapsed one (kept 35 days) can still be corrected.
    expect(await server.admin.hexists(done, 's5')).toBe(0)
    expect(await server.admin.hexists(done, 'crash')).toBe(1)
    const corrected = await store.settle({
      handle: 'prune',
      holdId: 'crash',
      costMicros: 4,
      now: later,
    })
    expect(corrected.outcome).toBe('corrected')
    expect(corrected.agent).toMatchObject({ unreconciledMicros: 0 })
    // Nothing unreconciled: the state expires again with an agent left idle past the retention.
    expect(await server.admin.pttl(done)).toBeGreaterThan(7 * retention)
  })

  it("keeps an idle agent's unreconciled charge past every key expiry, writes it off at its next operation, then lets its state expire", async () => {
    const prefix = newPrefix()
    const retention = 10_000
    const store = open({ prefix, holdRetentionMs: retention })
    await store.createAgent(testAgentRecord('idle', 1_000_000))
    const call = { handle: 'idle', holdId: 'bound', now: 1_000 }
    await store.reserve({ ...call, amountMicros: 50, ttlMs: 60_000 })
    await store.settle({ ...call, costMicros: 40, unreconciled: true })
    const done = `${prefix}holddone:idle`
    // No expiry (an idle agent's keys would expire after 8 retentions): the hold is kept.
    expect(await server.admin.pttl(done)).toBe(-1)
    expect(await server.admin.hexists(done, 'bound')).toBe(1)
    const later = 1_000 + UNRECONCILED_RETENTION_MS + 1
    await store.reserve({ handle: 'idle', holdId: 'n', amountMicros: 1, ttlMs: 9, now: later })
    expect(await store.getAgent('idle', later)).toMatchObject({
      spentMicros: 40,
      unreconciledMicros: 0,
    })
    expect(await server.admin.hexists(done, 'bound')).toBe(0)
    expect((await store.readAudit('idle')).at(-1)?.data).toMatchObject({
      holdId: 'bound',
      outcome: 'written_off',
      cost: 0.00004,
      replaces: 0.00004,
    })
    // Nothing unreconciled any more: the idempotency state expires again when left idle.
    await store.settle({ handle: 'idle', holdId: 'n', costMicros: 1, now: later })
    expect(await server.admin.pttl(done)).toBeGreaterThan(0)
  })

  it('costs one round trip per reserve, settle, renew and release, and one for listAgents', async () => {
    const client = new Redis(server.redis.url)
    let sent = 0
    const send = client.sendCommand.bind(client)
    client.sendCommand = ((...args: Parameters<Redis['sendCommand']>) => {
      sent++
      return send(...args)
    }) as Redis['sendCommand']
    const store = redisStore({ client, prefix: newPrefix(), clock: 'caller' })
    opened.push(store)
    for (let i = 0; i < 30; i++) await store.createAgent(testAgentRecord(`rt-${i}`, 1_000_000))
    // Warm up: the durability check (INFO, once per connection) and each script's first load.
    for (let i = 0; i < 2; i++) {
      const holdId = `warm-${i}`
      await store.reserve({ handle: 'rt-0', holdId, amountMicros: 5, ttlMs: 60_000, now: 1_000 })
      await store.renew({ handle: 'rt-0', holdId, ttlMs: 60_000, now: 1_000 })
      await store.settle({ handle: 'rt-0', holdId, costMicros: 3, now: 1_000 })
      await store.release({ handle: 'rt-0', holdId: `never-${i}`, now: 1_000 })
      await store.listAgents(1_000)
    }
    const count = async (run: () => unknown) => {
      const start = sent
      await run()
      return sent - start
    }
    expect(
      await count(() =>
        store.reserve({ handle: 'rt-1', holdId: 'h', amountMicros: 5, ttlMs: 60_000, now: 1_000 }),
      ),
    ).toBe(1)
    expect(
      await count(() => store.renew({ handle: 'rt-1', holdId: 'h', ttlMs: 60_000, now: 1_000 })),
    ).toBe(1)
    expect(
      await count(() => store.settle({ handle: 'rt-1', holdId: 'h', costMicros: 3, now: 1_000 })),
    ).toBe(1)
    expect(await count(() => store.release({ handle: 'rt-1', holdId: 'x', now: 1_000 }))).toBe(1)
    let listed: unknown[] = []
    expect(
      await count(async () => {
        listed = await store.listAgents(1_000)
      }),
    ).toBe(1)
    expect(listed).toHaveLength(30)
    expect(await count(() => store.findAgentByCredentialHash('hash-of-rt-3', 1_000))).toBe(1)
    await store.close()
    client.disconnect()
  })
})
