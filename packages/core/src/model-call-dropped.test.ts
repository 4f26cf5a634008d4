// A model call the adapter drops without an ending (no finish, no fail) must not be held
// forever: nothing but its lease would ever end it. Once its ticket is collected its lease
// stops, its provider is aborted, and its hold lapses at its TTL, charged like a crashed
// caller's. Revocation and the caller's signal must not keep a dropped call alive.
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { describe, expect, it } from 'vitest'
import { createKillSwitch } from './kill-switch.js'

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

describe('a model call dropped without an ending', () => {
  it('stops renewing, aborts its provider and lapses (charged) at its TTL', async () => {
    let now = 1_000_000
    const ks = createKillSwitch({
      prices: { m: { inputPerMTok: 1, outputPerMTok: 1 } },
      runaway: false,
      holdTtlMs: 1_000,
      now: () => now,
    })
    const { credential } = await ks.agents.create({ handle: 'a', spendingCap: 1 })
    const guard = ks.guard(credential)
    const callerSignal = new AbortController().signal
    // In a function of its own, so that nothing here keeps the call or its ticket.
    const start = async () => {
      const call = await guard.startModelCall({
        model: 'm',
        input: 'x',
        maxOutputTokens: 100,
        signal: callerSignal,
      })
      return { signal: call.signal, reserved: call.ticket.reservedUsd }
    }
    const { signal, reserved } = await start()
    expect((await ks.agents.get('a')).held).toBeCloseTo(reserved, 9)
    // The lease book's timer ticks every third of the TTL: held weakly from its first tick,
    // found collected at a later one.
    for (let tick = 0; tick < 4 && !signal.aborted; tick++) {
      await sleep(400)
      gc()
    }
    expect(signal.aborted).toBe(true)
    now += 1_001
    expect(await ks.agents.get('a')).toMatchObject({
      held: 0,
      spent: reserved,
      unreconciled: reserved,
    })
    await ks.close()
  })
})
