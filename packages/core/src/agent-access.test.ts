import { afterEach, describe, expect, it, vi } from 'vitest'
import { StoreUnavailableError } from './errors.js'
import { createKillSwitch } from './kill-switch.js'
import { createRunawayMonitor } from './runaway/create-runaway-monitor.js'
import type { Observation, RunawayMonitor } from './runaway/types.js'
import type { ActivityEvent, Store } from './store.js'
import { memoryStore } from './stores/memory-store.js'

const prices = { m: { inputPerMTok: 1, outputPerMTok: 1 } }
const call = { model: 'm', input: 'question', maxOutputTokens: 20 }
const usage = { usage: { inputTokens: 5, outputTokens: 5 }, text: 'answer' }

async function setup(store: Store, runaway?: RunawayMonitor) {
  const ks = createKillSwitch({ store, prices, ...(runaway ? { runaway } : {}) })
  const { credential } = await ks.agents.create({ handle: 'agent', spendingCap: 10 })
  return { ks, guard: ks.guard(credential) }
}

const kinds = async (store: Store) =>
  (await store.recordActivity('agent', [], 256)).map((event) => event.kind)

afterEach(() => {
  vi.useRealTimers()
})

describe('AgentAccess: results ride on the next call', () => {
  it('writes a result no call came to carry on its own, after it waited for one', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] })
    const store = memoryStore()
    const { ks, guard } = await setup(store)
    await guard.afterModelCall(await guard.beforeModelCall(call), usage)
    expect(await kinds(store)).toEqual(['model_call'])
    await vi.advanceTimersByTimeAsync(1_000)
    expect(await kinds(store)).toEqual(['model_call', 'model_result'])
    await ks.close()
  })

  it('gives a result that came after a call took the earlier ones its own wait', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] })
    const store = memoryStore()
    const { ks, guard } = await setup(store)
    await guard.afterModelCall(await guard.beforeModelCall(call), usage) // a result waits
    await vi.advanceTimersByTimeAsync(500)
    const ticket = await guard.beforeModelCall(call) // carries it
    await guard.afterModelCall(ticket, usage) // a new result waits
    await vi.advanceTimersByTimeAsync(500)
    // The first wait is over, but the result pending now came 500 ms ago: not written yet.
    expect(await kinds(store)).toEqual(['model_call', 'model_result', 'model_call'])
    await vi.advanceTimersByTimeAsync(1_000)
    expect(await kinds(store)).toEqual(['model_call', 'model_result', 'model_call', 'model_result'])
    expect(vi.getTimerCount()).toBe(0)
    await ks.close()
  })
})

describe('AgentAccess: judging what a reserve recorded', () => {
  it('judges each result, then the call, against the window as it stood at its event', async () => {
    const store = memoryStore()
    const seen: Array<{ kind: Observation['kind']; last: ActivityEvent['kind'] | undefined }> = []
    const builtIn = createRunawayMonitor(store)
    // A monitor of its own without `judge`: the guard gives `observe` the window cut at each
    // event (a copy); the built-in one reads it in place.
    const monitor: RunawayMonitor = {
      activity: (agent, observation, now) => builtIn.activity?.(agent, observation, now),
      observe: async (agent, observation, now, recorded) => {
        seen.push({ kind: observation.kind, last: recorded?.at(-1)?.kind })
        return builtIn.observe(agent, observation, now, recorded)
      },
    }
    const { ks, guard } = await setup(store, monitor)
    // Two calls in flight, two results pending, then one call carries both.
    const [a, b] = await Promise.all([guard.beforeModelCall(call), guard.beforeModelCall(call)])
    seen.length = 0
    await guard.afterModelCall(a as never, usage)
    await guard.afterModelCall(b as never, usage)
    await guard.beforeModelCall(call)
    expect(seen).toEqual([
      { kind: 'model_result', last: 'model_result' },
      { kind: 'model_result', last: 'model_result' },
      { kind: 'model_call', last: 'model_call' },
    ])
    await ks.close()
  })

  it('refuses the call, failing closed, when the monitor fails', async () => {
    const store = memoryStore()
    const builtIn = createRunawayMonitor(store)
    const monitor: RunawayMonitor = {
      activity: (agent, observation, now) => builtIn.activity?.(agent, observation, now),
      observe: (agent, observation, now, recorded) =>
        builtIn.observe(agent, observation, now, recorded),
      judge: () => {
        throw new Error('detector bug')
      },
    }
    const { ks, guard } = await setup(store, monitor)
    await expect(guard.beforeModelCall(call)).rejects.toBeInstanceOf(StoreUnavailableError)
    // The call never left: its hold was released.
    expect(await ks.agents.get('agent')).toMatchObject({ held: 0, spent: 0 })
    await ks.close()
  })
})
