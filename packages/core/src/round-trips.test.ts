import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { createKillSwitch } from './kill-switch.js'
import type { Store } from './store.js'
import { memoryStore } from './stores/memory-store.js'
import { sqliteStore } from './stores/sqlite-store.js'

const root = mkdtempSync(join(tmpdir(), 'killswitch-trips-'))
afterAll(() => rmSync(root, { recursive: true, force: true }))
const LOCAL = new Set(['appendAudit', 'subscribe', 'kind'])

/** Counts the operations that reach a store (each one round trip, or one transaction). */
function counting(store: Store) {
  let ops: string[] = []
  const proxy = new Proxy(store, {
    get(target, key, receiver) {
      const value = Reflect.get(target, key, receiver)
      if (typeof value !== 'function') return value
      if (LOCAL.has(String(key))) return value.bind(target)
      return (...args: unknown[]) => {
        ops.push(String(key))
        return value.apply(target, args)
      }
    },
  })
  const take = () => {
    const taken = ops
    ops = []
    return taken
  }
  return { store: proxy, take }
}

describe.each([
  ['memory', () => memoryStore()],
  ['sqlite', () => sqliteStore(join(root, `${Math.random()}.db`))],
])('store round trips per guarded call, runaway detection on (%s)', (_name, open) => {
  it('a model call costs 2 (reserve, settle), a paid tool 2, a free tool 1: activity rides on them', async () => {
    const counted = counting(open())
    const ks = createKillSwitch({
      store: counted.store,
      prices: { m: { inputPerMTok: 1, outputPerMTok: 1 } },
    })
    const { credential } = await ks.agents.create({ handle: 'trips', spendingCap: 100 })
    const guard = ks.guard(credential)
    await guard.check()
    counted.take()
    for (let i = 0; i < 3; i++) {
      await guard.afterModelCall(
        await guard.beforeModelCall({ model: 'm', input: `question ${i}`, maxOutputTokens: 50 }),
        {
          usage: { inputTokens: 5, outputTokens: 5 },
          text: `answer ${i}`,
        },
      )
      expect(counted.take()).toEqual(['reserve', 'settle'])
      const paid = await guard.beforeToolCall({
        name: `paid-${i}`,
        args: { [`k${i}`]: i },
        priceUsd: 0.01,
      })
      await guard.afterToolCall(paid, { ok: true })
      expect(counted.take()).toEqual(['reserve', 'settle'])
      const free = await guard.beforeToolCall({ name: `free-${i}`, args: { [`f${i}`]: i } })
      await guard.afterToolCall(free, { ok: i !== 1 })
      expect(counted.take()).toEqual(['recordActivity'])
    }
    // Each result went with the next call's round trip; only the very last is still pending.
    const window = await counted.store.recordActivity('trips', [], 256)
    expect(window.map((event) => event.kind)).toEqual(
      [0, 1, 2]
        .flatMap(() => [
          'model_call',
          'model_result',
          'tool_call',
          'spend',
          'tool_result',
          'tool_call',
          'tool_result',
        ])
        .slice(0, -1),
    )
    await ks.close()
  })
})
