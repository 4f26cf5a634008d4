import { InvalidConfigError } from '@killswitch/core'
import { fakeModel } from '@langchain/core/testing'
import { describe, expect, it } from 'vitest'
import { identityFromLsParams, modelIdentity } from './model-identity.js'

describe('identityFromLsParams', () => {
  it('reads the name, provider and max tokens a real chat model reports', () => {
    const params = { ls_model_name: 'gpt-4o-mini', ls_provider: 'openai', ls_max_tokens: 512 }
    expect(identityFromLsParams(params, {})).toEqual({
      model: 'gpt-4o-mini',
      provider: 'openai',
      maxOutputTokens: 512,
    })
  })

  it('lets an explicit name win, without the reported provider of another model', () => {
    const params = { ls_provider: 'FakeBuiltModel', ls_max_tokens: 100 }
    expect(identityFromLsParams(params, { model: 'test-model' })).toEqual({
      model: 'test-model',
      maxOutputTokens: 100,
    })
  })

  it('refuses a model without a name, naming the option to set', () => {
    const error = (() => {
      try {
        identityFromLsParams({ ls_provider: 'FakeBuiltModel' }, {})
      } catch (caught) {
        return caught
      }
    })()
    expect(error).toBeInstanceOf(InvalidConfigError)
    expect((error as InvalidConfigError).field).toBe('model')
    expect((error as Error).message).toContain("model: 'gpt-4o-mini'")
  })
})

describe('modelIdentity', () => {
  it('reads a model through a RunnableBinding around it', async () => {
    const model = fakeModel()
    const bound = model.withConfig({ tags: ['x'] })
    expect(await modelIdentity(bound, { model: 'named' })).toEqual({ model: 'named' })
    await expect(modelIdentity(bound, {})).rejects.toThrow(/does not report its name/)
  })
})
