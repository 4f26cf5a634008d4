// One cap for model calls and payments, also under concurrency.
import { AgentRevokedError, SpendingCapExceededError } from '@killswitch/core'
import fc from 'fast-check'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { startAgent, startNetwork } from './testing/x402-fixture.js'

let network: Awaited<ReturnType<typeof startNetwork>>
beforeAll(async () => {
  network = await startNetwork()
})
afterAll(() => network?.close())
beforeEach(() => {
  network.server.route.price = '$0.01'
  network.server.route.handler = 'ok'
})

// $0.01 per output token, nothing for input: a model call's cost is easy to read. A model
// whose tokenizer is known, so that its hold is its cost bound with no counting headroom.
const prices = { 'gpt-4o': { inputPerMTok: 0, outputPerMTok: 10_000 } }

/** A model call that produces `tokens` output tokens, through the guard directly. */
async function modelCall(agent: Awaited<ReturnType<typeof startAgent>>, tokens: number) {
  const guard = agent.ks.guard(agent.credential)
  const ticket = await guard.beforeModelCall({
    model: 'gpt-4o',
    input: '',
    maxOutputTokens: tokens,
  })
  await guard.afterModelCall(ticket, { usage: { inputTokens: 0, outputTokens: tokens } })
}

describe('killSwitchFetch: one cap with the model calls', () => {
  it('refuses the payment at the same dollar the model spend left', async () => {
    const agent = await startAgent({ spendingCap: 0.05, killSwitch: { prices } })
    await modelCall(agent, 3) // $0.03
    await agent.pay(`${network.server.url}/search?q=1`)
    await agent.pay(`${network.server.url}/search?q=2`)

    await expect(agent.pay(`${network.server.url}/search?q=3`)).rejects.toBeInstanceOf(
      SpendingCapExceededError,
    )
    await expect(modelCall(agent, 1)).rejects.toBeInstanceOf(SpendingCapExceededError)
    expect(await agent.get()).toMatchObject({ spent: 0.05, held: 0 })
    expect(agent.signTypedData).toHaveBeenCalledTimes(2)
  })

  it('refuses the model call at the same dollar the payments left', async () => {
    const agent = await startAgent({ spendingCap: 0.03, killSwitch: { prices } })
    await agent.pay(`${network.server.url}/search?q=1`)
    await agent.pay(`${network.server.url}/search?q=2`)
    await modelCall(agent, 1)

    await expect(modelCall(agent, 1)).rejects.toBeInstanceOf(SpendingCapExceededError)
    await expect(agent.pay(`${network.server.url}/search?q=3`)).rejects.toBeInstanceOf(
      SpendingCapExceededError,
    )
    expect(await agent.get()).toMatchObject({ spent: 0.03, held: 0 })
  })

  it('one revocation stops both', async () => {
    const agent = await startAgent({ killSwitch: { prices } })
    await agent.ks.agents.revoke(agent.handle, { reason: 'runaway search loop' })
    await expect(modelCall(agent, 1)).rejects.toBeInstanceOf(AgentRevokedError)
    await expect(agent.pay(`${network.server.url}/search?q=1`)).rejects.toBeInstanceOf(
      AgentRevokedError,
    )
  })
})

describe('killSwitchFetch: concurrency', () => {
  it('never overspends with payments and model calls in parallel', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 12 }), // cap in cents
        fc.array(fc.constantFrom('pay', 'model'), { minLength: 1, maxLength: 16 }),
        async (capCents, calls) => {
          const agent = await startAgent({ spendingCap: capCents / 100, killSwitch: { prices } })
          const results = await Promise.allSettled(
            calls.map((kind) =>
              kind === 'pay' ? agent.pay(`${network.server.url}/search?q=p`) : modelCall(agent, 1),
            ),
          )
          const ok = results.filter((result) => result.status === 'fulfilled').length
          const refused = results.filter(
            (result) =>
              result.status === 'rejected' && result.reason instanceof SpendingCapExceededError,
          ).length
          // Every call costs $0.01: exactly min(calls, cap) succeed, the rest are refused
          // by the cap, and nothing is held afterwards.
          expect(ok).toBe(Math.min(calls.length, capCents))
          expect(refused).toBe(calls.length - ok)
          const snapshot = await agent.get()
          expect(snapshot).toMatchObject({ spent: ok / 100, held: 0 })
          expect(snapshot.spent).toBeLessThanOrEqual(snapshot.spendingCap)
          const paid = calls.filter((kind) => kind === 'pay').length
          expect(agent.signTypedData.mock.calls.length).toBeLessThanOrEqual(paid)
        },
      ),
      { numRuns: 15 },
    )
  })

  it('signs exactly as many parallel payments as the cap pays for', async () => {
    const agent = await startAgent({ spendingCap: 0.05 })
    const transfers = network.facilitator.transfers.length
    const results = await Promise.allSettled(
      Array.from({ length: 20 }, (_, i) => agent.pay(`${network.server.url}/search?q=${i}`)),
    )
    expect(results.filter((result) => result.status === 'fulfilled')).toHaveLength(5)
    const reasons = results.flatMap((result) =>
      result.status === 'rejected' ? [result.reason] : [],
    )
    expect(reasons.every((reason) => reason instanceof SpendingCapExceededError)).toBe(true)
    expect(agent.signTypedData).toHaveBeenCalledTimes(5)
    expect(network.facilitator.transfers.length - transfers).toBe(5)
    expect(await agent.get()).toMatchObject({ spent: 0.05, held: 0 })
  })
})
