// A create the store did not answer is tried again with the same record: the credential is
// shown once, by this call. Red team rt41b: a Redis stalled past its command timeout ran the
// create when it woke; the caller was told it failed, and its retry was refused as "exists".
import { afterEach, describe, expect, it, vi } from 'vitest'
import { StoreUnavailableError } from './errors.js'
import { createKillSwitch } from './kill-switch.js'
import { memoryStore } from './stores/memory-store.js'

afterEach(() => {
  vi.useRealTimers()
})

describe('agents.create when the store does not answer', () => {
  it('answers the agent a timed-out create made, with its credential', async () => {
    const store = memoryStore()
    const createAgent = store.createAgent.bind(store)
    let attempts = 0
    // The first create runs in the store, but its answer is lost (a timeout).
    store.createAgent = async (record) => {
      attempts++
      const created = await createAgent(record)
      if (attempts === 1)
        throw new StoreUnavailableError('could not create an agent (Command timed out)')
      return created
    }
    const ks = createKillSwitch({ store })

    const created = await ks.agents.create({ handle: 'stalled', spendingCap: 5 })

    expect(attempts).toBe(2)
    expect(created.handle).toBe('stalled')
    expect(await ks.verify(created.credential)).toMatchObject({ active: true })
    await ks.close()
  })

  it('gives up after a few seconds, saying the agent may still be created and what to do', async () => {
    vi.useFakeTimers()
    const store = memoryStore()
    store.createAgent = async () => {
      throw new StoreUnavailableError('could not create an agent (ECONNREFUSED)')
    }
    const ks = createKillSwitch({ store })

    const refused = ks.agents.create({ handle: 'down', spendingCap: 5 }).catch((e: unknown) => e)
    await vi.advanceTimersByTimeAsync(6_000)
    const error = await refused

    expect(error).toBeInstanceOf(StoreUnavailableError)
    expect((error as Error).message).toMatch(/may still be created once the store recovers/)
    expect((error as Error).message).toMatch(/revoke it and create/)
  })
})
