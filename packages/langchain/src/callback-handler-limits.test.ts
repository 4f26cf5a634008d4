// The callback handler cannot change the request, so a ChatOpenAI call that does not stream
// is held to all it asks for (its kwargs' limits, each of its n choices; the model's context
// window when it sets none), never clamped: a call the agent cannot afford whole is refused
// before the provider is called, and what the provider bills never passes the cap. Through
// the real ChatOpenAI against a local server that bills every choice it generates.
import { toMicros } from '@killswitch/core'
import fc from 'fast-check'
import { afterEach, describe, expect, it } from 'vitest'
import { KillSwitchCallbackHandler } from './kill-switch-callback-handler.js'
import type { OpenAIServer } from './testing/openai-server.js'
import { chatOpenAI, testAgent } from './testing/test-kit.js'

const servers: OpenAIServer[] = []
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()))
})

// TEST_PRICES: $1 per thousand tokens in and out.
async function call(spendingCap: number, fields: Record<string, unknown>, outputTokens = 400) {
  const agent = await testAgent({ spendingCap })
  const { model, provider } = await chatOpenAI({ outputTokens, fields })
  servers.push(provider)
  const handler = new KillSwitchCallbackHandler({
    killSwitch: agent.ks,
    credential: agent.credential,
  })
  const outcome = await model.invoke('hi', { callbacks: [handler] }).then(
    () => 'served',
    (error: { code?: string }) => error.code ?? String(error),
  )
  const { spent, held } = await agent.ks.agents.get(agent.handle)
  return { outcome, spent: toMicros(spent), held: toMicros(held), provider }
}

describe('the callback handler on a call that does not stream', () => {
  it.each([
    ['n choices', { maxTokens: 400, n: 4 }],
    ['a modelKwargs limit', { maxTokens: 100, modelKwargs: { max_completion_tokens: 2_000 } }],
    ['maxCompletionTokens', { maxCompletionTokens: 2_000 }],
    ['no limit at all', {}],
  ])(
    'with %s it cannot afford whole is refused before the provider is called',
    async (_name, fields) => {
      const { outcome, spent, held, provider } = await call(1, fields, 2_000)
      expect(outcome).toBe('spending_cap_exceeded')
      expect(provider.requests).toHaveLength(0)
      expect({ spent, held }).toEqual({ spent: 0, held: 0 })
    },
  )

  it('holds an affordable call whole and records what the provider billed', async () => {
    const { outcome, spent, held, provider } = await call(100, { maxTokens: 400, n: 4 })
    expect(outcome).toBe('served')
    expect(provider.requests[0]).toMatchObject({ max_tokens: 400, n: 4 })
    expect(spent).toBeGreaterThanOrEqual(provider.billMicros())
    expect(held).toBe(0)
  })

  it('never lets the provider bill past the cap, whatever the limits', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 1_500 }),
        fc.integer({ min: 1, max: 3 }),
        fc.double({ min: 0.05, max: 3, noNaN: true }),
        async (maxTokens, n, cap) => {
          const { spent, held, provider } = await call(cap, { maxTokens, n })
          expect(provider.billMicros()).toBeLessThanOrEqual(toMicros(cap))
          expect(spent).toBeGreaterThanOrEqual(provider.billMicros())
          expect(held).toBe(0)
        },
      ),
      { numRuns: 25 },
    )
  })
})
