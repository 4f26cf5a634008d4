import { describe, expect, it } from 'vitest'
import { modelIdentity } from './model-identity.js'

describe('modelIdentity', () => {
  it('prices by the model id and the provider family of the AI SDK provider id', () => {
    expect(modelIdentity({ modelId: 'gpt-4o', provider: 'openai.chat' })).toEqual({
      model: 'gpt-4o',
      provider: 'openai',
    })
    expect(modelIdentity({ modelId: 'claude-sonnet-4-0', provider: 'anthropic.messages' })).toEqual(
      {
        model: 'claude-sonnet-4-0',
        provider: 'anthropic',
      },
    )
  })

  it('takes the overrides given in options', () => {
    expect(
      modelIdentity({ modelId: 'ft:gpt-4o:acme', provider: 'openai.chat' }, { model: 'gpt-4o' }),
    ).toEqual({ model: 'gpt-4o', provider: 'openai' })
    expect(modelIdentity({ modelId: 'm', provider: 'gateway' }, { provider: 'anthropic' })).toEqual(
      {
        model: 'm',
        provider: 'anthropic',
      },
    )
  })

  it('leaves an empty provider undefined', () => {
    expect(modelIdentity({ modelId: 'm', provider: '' })).toEqual({
      model: 'm',
      provider: undefined,
    })
  })
})
