// The options of killSwitchMiddleware and guardTools, checked once by the core's adapterSetup.
import { openai } from '@ai-sdk/openai'
import { InvalidConfigError } from '@killswitch/core'
import { generateText } from 'ai'
import { describe, expect, it } from 'vitest'
import { guardTools } from './guard-tools.js'
import { type KillSwitchMiddlewareOptions, withKillSwitch } from './kill-switch-middleware.js'
import { scriptedModel } from './testing/scripted-model.js'
import { testAgent } from './testing/test-agent.js'

const hello = () => scriptedModel(() => ({ text: 'hello' }))

describe('options', () => {
  it('take a ready guard, or make one from a kill switch and a credential', async () => {
    const agent = await testAgent(10)
    for (const options of [
      { guard: agent.ks.guard(agent.credential) },
      { killSwitch: agent.ks, credential: agent.credential },
    ]) {
      const model = withKillSwitch(hello(), options)
      await expect(generateText({ model, prompt: 'hi' })).resolves.toMatchObject({ text: 'hello' })
    }
    expect((await agent.ledger()).spent).toBeGreaterThan(0)
  })

  it('refuse a model they cannot guard (an image model), naming the field and the way to guard it', async () => {
    const agent = await testAgent(10)
    const image = openai.image('gpt-image-1')
    const refused = (() => {
      try {
        withKillSwitch(image as never, { killSwitch: agent.ks, credential: agent.credential })
      } catch (error) {
        return error
      }
    })()
    expect(refused).toBeInstanceOf(InvalidConfigError)
    expect(refused).toMatchObject({ field: 'model' })
    expect((refused as Error).message).toContain('reserveSpend')
  })

  it('name the missing or conflicting field, without echoing the credential', async () => {
    const agent = await testAgent(10)
    const cases: Array<[unknown, string]> = [
      [{}, 'killSwitch'],
      [{ killSwitch: agent.ks }, 'credential'],
      [{ killSwitch: agent.ks, credential: '' }, 'credential'],
      [{ guard: agent.ks.guard(agent.credential), credential: agent.credential }, 'guard'],
      [{ killSwitch: agent.ks, credential: agent.credential, model: '' }, 'model'],
    ]
    for (const [options, field] of cases) {
      const builds = [
        () => withKillSwitch(hello(), options as KillSwitchMiddlewareOptions),
        () => guardTools({}, options as KillSwitchMiddlewareOptions),
      ]
      for (const build of builds) {
        expect(build).toThrow(InvalidConfigError)
        expect(build).toThrow(expect.objectContaining({ field }))
        try {
          build()
        } catch (error) {
          expect((error as Error).message).not.toContain(agent.credential)
        }
      }
    }
  })
})
