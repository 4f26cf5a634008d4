// A runaway end to end: a model that calls the same tool with the same arguments on every
// step is stopped by the core's default loop detection, with no configuration at all.
import { AgentRevokedError, RunawayDetectedError } from '@killswitch/core'
import { generateText, isStepCount, streamText, tool } from 'ai'
import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { withKillSwitch } from './kill-switch-middleware.js'
import { loopingModel } from './testing/scripted-model.js'
import { testAgent } from './testing/test-agent.js'

const CALL_COST = 40 * 10 + 20 * 30

describe('runaway detection through the middleware (core defaults)', () => {
  for (const path of ['generate', 'stream'] as const) {
    it(`${path}: revokes a looping agent at the fifth identical tool call, before the tool runs`, async () => {
      const agent = await testAgent(10)
      const model = loopingModel('search', { query: 'gpu prices' })
      let executions = 0
      const search = tool({
        inputSchema: z.object({ query: z.string() }),
        execute: async () => {
          executions++
          return { results: [] }
        },
      })
      const options = {
        model: withKillSwitch(model, { killSwitch: agent.ks, credential: agent.credential }),
        tools: { search },
        stopWhen: isStepCount(50),
        prompt: 'Find GPU prices',
      }
      const run =
        path === 'generate'
          ? generateText(options)
          : streamText({ ...options, onError: () => {} }).text
      const error = await run.then(
        () => undefined,
        (caught: unknown) => caught,
      )
      expect(error).toBeInstanceOf(RunawayDetectedError)
      expect(error).toMatchObject({ action: 'revoke' })
      const calls = path === 'generate' ? model.doGenerateCalls : model.doStreamCalls
      // Four calls ran their tool; the fifth was stopped before the tool executed.
      expect(calls).toHaveLength(5)
      expect(executions).toBe(4)
      const ledger = await agent.ledger()
      expect(ledger.held).toBe(0)
      if (path === 'generate') expect(ledger.spent).toBe(5 * CALL_COST)
      else {
        // The stream stopped at the tool call, before its finish part: the fifth call is
        // settled at the core's estimate of what it produced (never zero).
        expect(ledger.spent).toBeGreaterThan(4 * CALL_COST)
        expect(ledger.spent).toBeLessThanOrEqual(ledger.cap)
      }
      expect((await agent.ks.agents.get(agent.handle)).status).toBe('revoked')
      // And it stays stopped: the next call is refused before the provider.
      await expect(generateText(options)).rejects.toBeInstanceOf(AgentRevokedError)
      expect(model.doGenerateCalls.length + model.doStreamCalls.length).toBe(5)
    })
  }
})
