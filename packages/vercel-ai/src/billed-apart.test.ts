// Provider options billed above the rates the price data holds: named by the adapter, the
// call refused by the core before the provider is called; the standard ones pass unchanged.
import { findKillSwitchError, UnknownModelPriceError } from '@killswitch/core'
import { generateText, streamText } from 'ai'
import { describe, expect, it } from 'vitest'
import { billedApart } from './billed-apart.js'
import { withKillSwitch } from './kill-switch-middleware.js'
import { scriptedModel } from './testing/scripted-model.js'
import { testAgent } from './testing/test-agent.js'

const prompt = [{ role: 'user' as const, content: [{ type: 'text' as const, text: 'hi' }] }]
const options = (providerOptions: Record<string, Record<string, unknown>>) =>
  ({ prompt, providerOptions }) as Parameters<typeof billedApart>[0]

describe('billedApart', () => {
  it.each([
    [{ openai: { serviceTier: 'priority' } }, 'providerOptions.openai.serviceTier "priority"'],
    [{ azure: { serviceTier: 'scale' } }, 'providerOptions.azure.serviceTier "scale"'],
    [{ anthropic: { speed: 'fast' } }, 'providerOptions.anthropic.speed "fast"'],
    [{ anthropic: { inferenceGeo: 'us' } }, 'providerOptions.anthropic.inferenceGeo "us"'],
    [
      { anthropic: { fallbacks: [{ model: 'claude-opus-4-1' }] } },
      'providerOptions.anthropic.fallbacks [{"model":"claude-opus-4-1"}]',
    ],
    [{ gateway: { serviceTier: 'priority' } }, 'providerOptions.gateway.serviceTier "priority"'],
  ])('names %j', (providerOptions, named) => {
    expect(billedApart(options(providerOptions))).toBe(named)
  })

  it.each([
    [{}],
    [{ openai: { serviceTier: 'flex', maxCompletionTokens: 100 } }],
    [{ openai: { serviceTier: 'auto' } }],
    [{ anthropic: { speed: 'standard', inferenceGeo: 'global', fallbacks: [] } }],
    // OpenAI's speech speed is a number, no price tier.
    [{ openai: { speed: 1.5 } }],
  ])('passes %j', (providerOptions) => {
    expect(billedApart(options(providerOptions))).toBeUndefined()
  })
})

describe('a call with an option billed apart', () => {
  it('is refused before the provider is called; a standard tier is served', async () => {
    const agent = await testAgent(10)
    let calls = 0
    const model = withKillSwitch(
      scriptedModel(() => {
        calls++
        return { text: 'ok' }
      }),
      { killSwitch: agent.ks, credential: agent.credential },
    )
    const priority = { openai: { serviceTier: 'priority' } }
    const refused = await generateText({ model, prompt: 'hi', providerOptions: priority }).catch(
      (error: unknown) => error,
    )
    expect(findKillSwitchError(refused)).toBeInstanceOf(UnknownModelPriceError)
    expect(String((refused as Error).message)).toContain('serviceTier "priority"')
    const streamed = streamText({ model, prompt: 'hi', providerOptions: priority })
    await expect(streamed.text).rejects.toThrow(/serviceTier "priority"/)
    expect(calls).toBe(0)
    expect(await agent.ledger()).toMatchObject({ spent: 0, held: 0 })
    const flex = { openai: { serviceTier: 'flex' } }
    expect((await generateText({ model, prompt: 'hi', providerOptions: flex })).text).toBe('ok')
    expect(calls).toBe(1)
  })
})
