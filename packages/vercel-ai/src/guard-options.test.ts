import { InvalidConfigError } from '@killswitch/core'
import { describe, expect, it } from 'vitest'
import { type GuardSource, resolveGuard } from './guard-options.js'
import { killSwitchMiddleware } from './kill-switch-middleware.js'
import { testAgent } from './testing/test-agent.js'

describe('resolveGuard', () => {
  it('takes a ready guard, or makes one from a kill switch and a credential', async () => {
    const agent = await testAgent(10)
    const guard = agent.ks.guard(agent.credential)
    expect(resolveGuard({ guard })).toBe(guard)
    const made = resolveGuard({ killSwitch: agent.ks, credential: agent.credential })
    await expect(made.check()).resolves.toBe(agent.handle)
  })

  it('names the missing or conflicting field, without echoing the credential', async () => {
    const agent = await testAgent(10)
    const cases: Array<[unknown, string]> = [
      [{}, 'killSwitch'],
      [{ killSwitch: agent.ks }, 'credential'],
      [{ killSwitch: agent.ks, credential: '' }, 'credential'],
      [{ guard: agent.ks.guard(agent.credential), credential: agent.credential }, 'guard'],
    ]
    for (const [options, field] of cases) {
      const build = () => killSwitchMiddleware(options as GuardSource)
      expect(build).toThrow(InvalidConfigError)
      expect(build).toThrow(expect.objectContaining({ field }))
      try {
        build()
      } catch (error) {
        expect((error as Error).message).not.toContain(agent.credential)
      }
    }
  })
})
