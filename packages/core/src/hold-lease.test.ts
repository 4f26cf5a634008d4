// One lease book per kill switch renews every live hold, whatever its TTL.
import { afterEach, describe, expect, it, vi } from 'vitest'
import { AgentRevokedError, StoreUnavailableError } from './errors.js'
import { createKillSwitch } from './kill-switch.js'
import type { Store } from './store.js'
import { memoryStore } from './stores/memory-store.js'

const prices = { m: { inputPerMTok: 1, outputPerMTok: 1 } }

describe('hold leases, one timer for all', () => {
  afterEach(() => {
    vi.useRealTimers()
  })

  it('renews holds of different TTLs started at different times, and stops at its next tick once the last ends (not on every call)', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] })
    let now = 1_000_000
    const ks = createKillSwitch({ prices, runaway: false, holdTtlMs: 60_000, now: () => now })
    const { credential } = await ks.agents.create({ handle: 'a', spendingCap: 1 })
    const guard = ks.guard(credential)
    const model = await guard.beforeModelCall({ model: 'm', input: 'x', maxOutputTokens: 100 })
    const advance = async (ms: number) => {
      for (let left = ms; left > 0; left -= 1_000) {
        now += 1_000
        vi.advanceTimersByTime(1_000)
        await new Promise((resolve) => setImmediate(resolve))
      }
    }
    await advance(10_000)
    // A shorter lease joins later: the book's timer speeds up, nothing lapses.
    const spend = await guard.reserveSpend({
      amountUsd: 0.01,
      kind: 'payment',
      description: 'x',
      ttlMs: 3_000,
    })
    await advance(120_000)
    const held = model.reservedUsd + 0.01
    expect((await ks.agents.get('a')).held).toBeCloseTo(held, 9)
    expect((await ks.agents.get('a')).unreconciled).toBe(0)
    await guard.settleSpend(spend)
    expect(vi.getTimerCount()).toBe(1)
    await guard.afterModelCall(model, { usage: { inputTokens: 1, outputTokens: 1 } })
    // Kept until its next tick: calls one after another do not stop and restart it.
    expect(vi.getTimerCount()).toBe(1)
    const next = await guard.beforeModelCall({ model: 'm', input: 'x', maxOutputTokens: 1 })
    await guard.afterModelCall(next, { usage: { inputTokens: 1, outputTokens: 1 } })
    expect(vi.getTimerCount()).toBe(1)
    await advance(1_000)
    expect(vi.getTimerCount()).toBe(0)
    expect(await ks.agents.get('a')).toMatchObject({ held: 0, unreconciled: 0 })
  })
})

/** A process's view of a shared store in which every revocation event is lost on the way. */
function deafTo(shared: Store): Store {
  return {
    ...shared,
    subscribe: (listener) =>
      shared.subscribe((event) => {
        if (event.type !== 'revoked') listener(event)
      }),
  }
}

describe('a lease renewal is the backstop of revocation', () => {
  afterEach(() => {
    vi.useRealTimers()
  })

  it("stops a call in flight in a process that never heard the revocation's event", async () => {
    const shared = memoryStore()
    const deaf = deafTo(shared)
    const operator = createKillSwitch({ store: shared, prices, runaway: false })
    const worker = createKillSwitch({ store: deaf, prices, runaway: false, holdTtlMs: 1_000 })
    const { credential } = await operator.agents.create({ handle: 'a', spendingCap: 1 })
    const guard = worker.guard(credential)
    const call = await guard.startModelCall({ model: 'm', input: 'x', maxOutputTokens: 100 })
    const stopped = new Promise<unknown>((resolve) => {
      call.signal.addEventListener('abort', () => resolve(call.signal.reason), { once: true })
    })
    await operator.agents.revoke('a', { reason: 'looping' })
    // No event reached the worker: its next renewal (every 333 ms here) stops the call.
    expect(await stopped).toBeInstanceOf(AgentRevokedError)
    expect(guard.signal.aborted).toBe(true)
    await call.fail(new Error('stopped'))
    expect((await operator.agents.get('a')).held).toBe(0)
    await worker.close()
    await operator.close()
  })

  it('hears a missed revocation within 10 s under the default 5-minute TTL (not at a third of it)', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] })
    const shared = memoryStore()
    const operator = createKillSwitch({ store: shared, prices, runaway: false })
    const worker = createKillSwitch({ store: deafTo(shared), prices, runaway: false })
    const { credential } = await operator.agents.create({ handle: 'a', spendingCap: 1 })
    const call = await worker.guard(credential).startModelCall({ model: 'm', input: 'x' })
    await operator.agents.revoke('a', { reason: 'looping' })
    for (let second = 0; second < 10; second++) {
      vi.advanceTimersByTime(1_000)
      await new Promise((resolve) => setImmediate(resolve))
    }
    expect(call.signal.reason).toBeInstanceOf(AgentRevokedError)
    await call.fail(new Error('stopped'))
    await worker.close()
    await operator.close()
  })
})

describe('a lease the store cannot renew', () => {
  afterEach(() => {
    vi.useRealTimers()
  })

  /** A worker whose store stops answering renewals while `cut` (a partition). */
  async function partitioned(holdTtlMs = 1_500) {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] })
    let now = 1_000_000
    const shared = memoryStore()
    const link = { cut: false }
    const store: Store = {
      ...shared,
      renew: (request) => {
        if (link.cut) throw new Error('connect ETIMEDOUT')
        return shared.renew(request)
      },
    }
    const ks = createKillSwitch({ store, prices, runaway: false, holdTtlMs, now: () => now })
    const { credential } = await ks.agents.create({ handle: 'a', spendingCap: 1 })
    const call = await ks.guard(credential).startModelCall({ model: 'm', input: 'x' })
    // One renewal period (a third of the TTL, 10 s at most) at a time, in tenths.
    const period = Math.min(holdTtlMs / 3, 10_000)
    const renewal = async () => {
      for (let step = 0; step < 10; step++) {
        now += period / 10
        vi.advanceTimersByTime(period / 10)
        await new Promise((resolve) => setImmediate(resolve))
      }
    }
    return { ks, call, link, renewal }
  }

  it.each([
    [1_500, 1],
    // Not two thirds of the TTL (200 s blind): leases are renewed at least every 10 s.
    [300_000, 20],
  ])(
    'stops its call, fail closed, after two renewals in a row go unanswered, before the hold can lapse (TTL %i ms: %i s)',
    async (holdTtlMs, seconds) => {
      const { ks, call, link, renewal } = await partitioned(holdTtlMs)
      link.cut = true
      await renewal()
      expect(call.signal.aborted).toBe(false)
      await renewal()
      expect(call.signal.aborted).toBe(true)
      expect(call.signal.reason).toBeInstanceOf(StoreUnavailableError)
      expect(String(call.signal.reason.message)).toContain(
        `for ${seconds} s: the call was stopped before its hold could lapse`,
      )
      // Back again: the call's ending is paid for as any other (sent, stopped before the
      // provider's usage came: its bound, unreconciled until the provider's bill says).
      link.cut = false
      await call.fail(call.signal.reason)
      const after = await ks.agents.get('a')
      expect(after).toMatchObject({ held: 0, unreconciled: after.spent })
      expect(after.spent).toBeGreaterThan(0)
      await ks.close()
    },
  )

  it('keeps its call through one unanswered renewal at a time (a blip is not a partition)', async () => {
    const { ks, call, link, renewal } = await partitioned()
    for (let blip = 0; blip < 3; blip++) {
      link.cut = true
      await renewal()
      link.cut = false
      await renewal()
    }
    expect(call.signal.aborted).toBe(false)
    expect((await ks.agents.get('a')).unreconciled).toBe(0)
    await call.finish({ usage: { inputTokens: 1, outputTokens: 1 } })
    await ks.close()
  })
})
