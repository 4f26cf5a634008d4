import { createHook } from 'node:async_hooks'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { andThen, drive, promised, type Steps } from './awaitable.js'
import { createKillSwitch } from './kill-switch.js'
import type { Store } from './store.js'
import { memoryStore } from './stores/memory-store.js'

/** Steps yielding each of `values` (a promise when `lazy` says so) and summing what comes back. */
function* sum(values: number[], lazy: boolean[]): Steps<number> {
  let total = 0
  for (const [i, value] of values.entries()) {
    total += (yield lazy[i] ? Promise.resolve(value) : value) as number
  }
  return total
}

describe('drive', () => {
  it('answers at once while every step is a value, with a promise from the first promise on', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.integer({ min: -1000, max: 1000 }), fc.boolean()), { maxLength: 8 }),
        async (steps) => {
          const values = steps.map(([value]) => value)
          const lazy = steps.map(([, isPromise]) => isPromise)
          const result = drive(sum(values, lazy))
          const expected = values.reduce((a, b) => a + b, 0)
          if (lazy.some(Boolean)) {
            expect(result).toBeInstanceOf(Promise)
            expect(await result).toBe(expected)
          } else {
            expect(result).toBe(expected)
          }
        },
      ),
    )
  })

  it('throws a rejected step into the steps, which may catch it, before or after going async', async () => {
    function* recovers(first: unknown): Steps<string> {
      yield first
      try {
        yield Promise.reject(new Error('store down'))
        return 'not reached'
      } catch (error) {
        return `caught: ${(error as Error).message}`
      }
    }
    expect(await drive(recovers(1))).toBe('caught: store down')
    expect(await drive(recovers(Promise.resolve(1)))).toBe('caught: store down')
  })

  it("rejects with the steps' own error once async, and throws it at once before", async () => {
    function* fails(async: boolean): Steps<never> {
      if (async) yield Promise.resolve()
      throw new Error('refused')
    }
    expect(() => drive(fails(false))).toThrow('refused')
    await expect(drive(fails(true))).rejects.toThrow('refused')
    // `promised` makes both a rejected promise.
    await expect(promised(() => fails(false))).rejects.toThrow('refused')
    await expect(promised(() => fails(true))).rejects.toThrow('refused')
  })

  it('andThen: maps a value at once and a promise after it', async () => {
    expect(andThen(2, (n) => n * 3)).toBe(6)
    const later = andThen(Promise.resolve(2), (n) => n * 3)
    expect(later).toBeInstanceOf(Promise)
    expect(await later).toBe(6)
  })
})

/** Promises created while `run` runs. */
async function promisesDuring(run: () => Promise<unknown>): Promise<number> {
  let promises = 0
  const hook = createHook({
    init(_id, type) {
      if (type === 'PROMISE') promises++
    },
  })
  hook.enable()
  await run()
  hook.disable()
  return promises
}

async function memoryAgent() {
  const ks = createKillSwitch({
    prices: { m: { inputPerMTok: 1, outputPerMTok: 1 } },
    toolPrices: { search: 0.01 },
    runaway: false,
  })
  const { credential } = await ks.agents.create({ handle: 'a', spendingCap: 10 })
  return { ks, guard: ks.guard(credential) }
}

describe('a guarded call on the memory store', () => {
  it('creates no promise of its own between the hooks and the ledger', async () => {
    const { ks, guard } = await memoryAgent()
    const call = async () => {
      const ticket = await guard.beforeModelCall({ model: 'm', input: 'hello' })
      await guard.afterModelCall(ticket, { usage: { inputTokens: 1, outputTokens: 1 } })
    }
    await call() // the agent and the price are resolved once, by the first call
    // The two promises the API returns, and this test's own async functions and awaits;
    // before the generators, 17 more (a promise and a microtask per layer).
    expect(await promisesDuring(call)).toBeLessThanOrEqual(7)
    expect((await ks.agents.get('a')).spent).toBeCloseTo(0.000004, 9)
    await ks.close()
  })

  it('a call ended again from inside its own settlement is ended once', async () => {
    const { ks, guard } = await memoryAgent()
    const ticket = await guard.beforeModelCall({ model: 'm', input: 'hello' })
    let again: Promise<unknown> | undefined
    // The memory store settles at once: this listener runs before the first ending returns.
    ks.on('settled', () => {
      again ??= guard.afterModelCall(ticket, { usage: { inputTokens: 1_000, outputTokens: 1 } })
    })
    const first = await guard.afterModelCall(ticket, { usage: { inputTokens: 1, outputTokens: 1 } })
    expect(again).toBeDefined()
    expect(await again).toEqual(first)
    const audit = await ks.audit('a')
    expect(audit.filter((entry) => entry.type === 'settled')).toHaveLength(1)
    expect((await ks.agents.get('a')).spent).toBeCloseTo(0.000002, 9)
    await ks.close()
  })

  it('with runaway detection on too: the result is judged in the same steps', async () => {
    const ks = createKillSwitch({ prices: { m: { inputPerMTok: 1, outputPerMTok: 1 } } })
    const { credential } = await ks.agents.create({
      handle: 'a',
      spendingCap: 10,
      runaway: { callRate: { enabled: false } },
    })
    const guard = ks.guard(credential)
    const call = async () => {
      const ticket = await guard.beforeModelCall({ model: 'm', input: 'hello' })
      await guard.afterModelCall(ticket, { usage: { inputTokens: 1, outputTokens: 1 } })
    }
    await call()
    // As many as with detection off: its activity rides on the reserve, the result is
    // deferred to the next call, and neither waits on a promise.
    expect(await promisesDuring(call)).toBeLessThanOrEqual(7)
    await ks.close()
  })

  it('a paid tool call is held and settled without a promise of its own', async () => {
    const { ks, guard } = await memoryAgent()
    const call = async () => {
      const ticket = await guard.beforeToolCall({ name: 'search', args: { q: 'x' } })
      await guard.afterToolCall(ticket, { ok: true })
    }
    await call()
    // The settle still hops once (the ticket's settlement is a promise); 25 more before.
    expect(await promisesDuring(call)).toBeLessThanOrEqual(11)
    expect((await ks.agents.get('a')).spent).toBeCloseTo(0.02, 9)
    await ks.close()
  })

  it('a spend settled again from inside its own settlement is settled once', async () => {
    const { ks, guard } = await memoryAgent()
    const ticket = await guard.reserveSpend({ amountUsd: 1, kind: 'payment', description: 'x' })
    let again: Promise<unknown> | undefined
    ks.on('settled', () => {
      again ??= guard.settleSpend(ticket, { amountUsd: 0.9 })
    })
    const first = await guard.settleSpend(ticket, { amountUsd: 0.5 })
    expect(again).toBeDefined()
    expect(await again).toEqual(first)
    expect((await ks.audit('a')).filter((entry) => entry.type === 'settled')).toHaveLength(1)
    expect((await ks.agents.get('a')).spent).toBeCloseTo(0.5, 9)
    await ks.close()
  })

  it('a release from inside a settle that has begun releases nothing', async () => {
    const store = memoryStore()
    let releases = 0
    const counted: Store = {
      ...store,
      release: (request) => {
        releases++
        return store.release(request)
      },
    }
    const ks = createKillSwitch({ store: counted, runaway: false })
    const { credential } = await ks.agents.create({ handle: 'a', spendingCap: 10 })
    const guard = ks.guard(credential)
    const ticket = await guard.reserveSpend({ amountUsd: 1, kind: 'payment', description: 'x' })
    ks.on('settled', () => {
      void guard.releaseSpend(ticket, { reason: 'from a listener' })
    })
    const settled = await guard.settleSpend(ticket, { amountUsd: 0.5 })
    expect(settled.costUsd).toBe(0.5)
    // The settle won: the release neither reached the store nor replaced the settlement.
    expect(releases).toBe(0)
    expect(await guard.settleSpend(ticket)).toEqual(settled)
    expect((await ks.agents.get('a')).spent).toBeCloseTo(0.5, 9)
    await ks.close()
  })
})
