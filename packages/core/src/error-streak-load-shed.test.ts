// Red team r23: 30 calls started together through the gateway met a 1.5 s provider rate
// limit; the SDK's retries started between the 429s, so each 429 counted as a failure of its
// own and error-streak throttled the agent (and kept refusing it after the provider
// recovered). A provider shedding load says nothing of the agent: not counted.
import { describe, expect, it } from 'vitest'
import { createKillSwitch } from './kill-switch.js'

const prices = { chat: { inputPerMTok: 1, outputPerMTok: 1 } }
const failure = (status: number) =>
  Object.assign(new Error(`provider answered ${status}`), { status })

/** 30 calls made together, each failing and retried twice, its retry made before the next fails. */
async function batchMeetingAFailure(status: number) {
  let clock = Date.parse('2026-12-04T12:00:00Z')
  const ks = createKillSwitch({ prices, now: () => clock })
  const { credential } = await ks.agents.create({ handle: 'batch', spendingCap: 10 })
  const guard = ks.guard(credential)
  const start = () =>
    guard.startModelCall({ model: 'chat', input: 'classify this', maxOutputTokens: 5 })
  let refusal: unknown
  try {
    let calls = await Promise.all(Array.from({ length: 30 }, start))
    for (let attempt = 0; attempt < 3; attempt++) {
      const retries = []
      for (const call of calls) {
        clock += 20
        await call.run(() => Promise.reject(failure(status))).catch(() => {})
        // The SDK's retry starts before the next call of the batch fails.
        if (attempt < 2) retries.push(await start())
      }
      calls = retries
    }
    // The provider recovered: the agent's next calls go through.
    clock += 2_000
    const next = await start()
    await next.run(async () => ({}))
    await next.finish({ usage: { inputTokens: 3, outputTokens: 1 }, text: 'ok' })
  } catch (error) {
    refusal = error
  }
  await ks.close()
  return refusal
}

describe('error-streak and a provider shedding load', () => {
  it('does not throttle an honest batch that met a rate limit (429) or an overload (503, 529)', async () => {
    for (const status of [429, 503, 529]) expect(await batchMeetingAFailure(status)).toBeUndefined()
  })

  it('still throttles the same pattern of real failures (500)', async () => {
    expect(await batchMeetingAFailure(500)).toMatchObject({
      code: 'runaway_detected',
      detector: 'error-streak',
    })
  })
})
