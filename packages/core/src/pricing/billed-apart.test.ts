// The one rule for options billed above the standard rates, in every spelling that reaches a
// provider: the AI SDK's camelCase provider options and the APIs' own snake_case fields.
import { describe, expect, it } from 'vitest'
import { billedApartIn, billedApartOption } from './billed-apart.js'

describe('billedApartIn', () => {
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
    // A later bag is read too: the first option billed apart is named.
    [
      { openai: {}, custom: { service_tier: 'priority' } },
      'providerOptions.custom.service_tier "priority"',
    ],
  ])('names %j', (providerOptions, named) => {
    expect(billedApartIn(providerOptions, 'providerOptions')).toEqual({ billedApart: named })
  })

  it.each([
    [undefined],
    [{}],
    [{ openai: undefined }],
    [{ openai: { serviceTier: 'flex', maxCompletionTokens: 100 } }],
    [{ openai: { serviceTier: 'auto' } }],
    [{ anthropic: { speed: 'standard', inferenceGeo: 'global', fallbacks: [] } }],
    [{ anthropic: { service_tier: 'standard_only' } }],
    // OpenAI's speech speed is a number, no price tier.
    [{ openai: { speed: 1.5 } }],
    // null is the API's "not set".
    [{ openai: { service_tier: null, serviceTier: null } }],
  ])('passes %j', (providerOptions) => {
    expect(billedApartIn(providerOptions, 'providerOptions')).toEqual({})
  })

  it('names a field of the bag at the top level without a prefix', () => {
    expect(billedApartIn({ '': { service_tier: 'priority' }, modelKwargs: {} })).toEqual({
      billedApart: 'service_tier "priority"',
    })
    expect(billedApartIn({ modelKwargs: { inference_geo: 'eu' } })).toEqual({
      billedApart: 'modelKwargs.inference_geo "eu"',
    })
  })
})

describe('billedApartOption', () => {
  it.each([
    [{ service_tier: 'priority' }, 'service_tier', /service tier/, /"auto", "default" or "flex"/],
    [{ speed: 'fast' }, 'speed', /several times/, /"standard"/],
    [{ inference_geo: 'us' }, 'inference_geo', /region/, /"global"/],
    [{ fallbacks: [{ model: 'x' }] }, 'fallbacks', /another model/, /from the agent/],
    // Not an array: the provider's business to refuse, never priced as standard here.
    [{ fallbacks: 'x' }, 'fallbacks', /another model/, /from the agent/],
  ])('says why %j is refused and the fix', (body, field, why, fix) => {
    const option = billedApartOption(body)
    expect(option?.field).toBe(field)
    expect(option?.value).toEqual(body[field as keyof typeof body])
    expect(option?.why).toMatch(why)
    expect(option?.fix).toMatch(fix)
  })

  it('reads nothing from what is not a bag of options', () => {
    for (const value of [undefined, null, 'priority', 3, true]) {
      expect(billedApartOption(value)).toBeUndefined()
    }
  })
})
