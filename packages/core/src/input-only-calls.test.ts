// Input-only calls (embeddings) are not runaway activity: an ingestion is thousands of calls
// in one run, far past the call rate and a run's call limit that catch a looping model. A
// throttle the agent is under refuses them like any call; the cap holds them as usual.
import { describe, expect, it } from 'vitest'
import { RunawayDetectedError, SpendingCapExceededError } from './errors.js'
import { createKillSwitch } from './kill-switch.js'
import { inputTokenBound } from './pricing/cost.js'

const prices = {
  chat: { inputPerMTok: 1, outputPerMTok: 1 },
  embed: { inputPerMTok: 1, outputPerMTok: 0 },
}
const embedding = (runId: string, i: number) => ({
  model: 'embed',
  input: [`Section ${i}: revenue grew in every region.`],
  inputOnly: true,
  runId,
})

describe('input-only calls', () => {
  it('are held for their input bound and one output token, whatever maxOutputTokens says', async () => {
    const ks = createKillSwitch({ prices, runaway: false })
    const agent = await ks.agents.create({ handle: 'embedder', spendingCap: 1 })
    const guard = ks.guard(agent.credential)
    for (const maxOutputTokens of [undefined, 4_000]) {
      const call = embedding('r', 7)
      const ticket = await guard.beforeModelCall({ ...call, maxOutputTokens })
      expect(ticket.maxOutputTokens).toBe(1)
      expect(ticket.reservedUsd).toBeCloseTo(inputTokenBound(call.input) * 1e-6, 9)
      await guard.afterModelCall(ticket, { usage: { inputTokens: 12, outputTokens: 0 } })
    }
    await ks.close()
  })
})

describe('input-only calls and runaway detection', () => {
  it('lets an ingestion of 1,500 calls in one run through the default detectors', async () => {
    let clock = Date.parse('2026-12-01T12:00:00Z')
    const ks = createKillSwitch({ prices, now: () => clock })
    const agent = await ks.agents.create({ handle: 'ingest', spendingCap: 10 })
    const guard = ks.guard(agent.credential)
    // 1,500 calls in 3 s: past the call rate's 1,000 in 10 s and the run's 200 model calls.
    for (let i = 0; i < 1_500; i++) {
      clock += 2
      const ticket = await guard.beforeModelCall(embedding('ingest-job-42', i))
      await guard.afterModelCall(ticket, { usage: { inputTokens: 12, outputTokens: 0 } })
    }
    const state = await ks.agents.get('ingest')
    expect(state).toMatchObject({ status: 'active', held: 0 })
    expect(state.spent).toBeCloseTo(1_500 * 12e-6, 9)
    const audit = await ks.audit('ingest')
    expect(audit.filter((entry) => entry.type === 'runaway' || entry.type === 'denied')).toEqual([])
    await ks.close()
  })

  it('refuses them while the agent is throttled, and holds them to the cap', async () => {
    let clock = Date.parse('2026-12-01T12:00:00Z')
    const ks = createKillSwitch({ prices, now: () => clock })
    const agent = await ks.agents.create({ handle: 'looper', spendingCap: 1 })
    const guard = ks.guard(agent.credential)
    // A retry storm: ten model failures in a row, no success (error-streak throttles).
    let throttled = false
    for (let i = 0; i < 20 && !throttled; i++) {
      clock += 10
      try {
        const ticket = await guard.beforeModelCall({
          model: 'chat',
          input: 'hi',
          maxOutputTokens: 5,
        })
        await guard.failModelCall(ticket, new Error('503 from the provider'))
        await guard.onError(new Error('503 from the provider'), 'model')
      } catch (error) {
        if (!(error instanceof RunawayDetectedError)) throw error
        throttled = true
      }
    }
    expect(throttled).toBe(true)
    await expect(guard.beforeModelCall(embedding('r', 0))).rejects.toMatchObject({
      code: 'runaway_detected',
      action: 'block',
    })
    // The throttle over, the cap still holds them: 2 MB of text need more than is left.
    clock += 60_000
    await expect(
      guard.beforeModelCall({ ...embedding('r', 1), input: ['x y '.repeat(500_000)] }),
    ).rejects.toBeInstanceOf(SpendingCapExceededError)
    await ks.close()
  })
})
