import { findKillSwitchError, SpendingCapExceededError } from '@killswitch/core'
import { AIMessage } from '@langchain/core/messages'
import { ChatPromptTemplate } from '@langchain/core/prompts'
import { fakeModel } from '@langchain/core/testing'
import fc from 'fast-check'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { KillSwitchCallbackHandler } from './kill-switch-callback-handler.js'
import { TEST_MODEL, testAgent } from './testing/test-kit.js'

const prompt = ChatPromptTemplate.fromMessages([['human', 'Summarise: {text}']])

describe('KillSwitchCallbackHandler under concurrency', () => {
  // LangChain logs every handler error (each refusal) with console.error before rethrowing it.
  beforeEach(() => {
    vi.spyOn(console, 'error').mockImplementation(() => undefined)
  })
  afterEach(() => {
    vi.restoreAllMocks()
  })

  it('never spends past the cap, never leaks a hold, and every model call is settled', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 40 }).map((cents) => cents / 4),
        fc.integer({ min: 1, max: 12 }),
        async (spendingCap, concurrent) => {
          const agent = await testAgent({ spendingCap })
          const model = fakeModel()
          for (let i = 0; i < concurrent; i++) {
            // Usage within what any hold covers (a provider never exceeds max tokens).
            const usage_metadata = { input_tokens: 5, output_tokens: 1, total_tokens: 6 }
            model.respond(new AIMessage({ content: `summary ${i}`, usage_metadata }))
          }
          const handler = new KillSwitchCallbackHandler({
            killSwitch: agent.ks,
            credential: agent.credential,
            model: TEST_MODEL,
          })
          const chain = prompt.pipe(model)

          const outcomes = await Promise.allSettled(
            Array.from({ length: concurrent }, (_, i) =>
              chain.invoke({ text: `report ${i}` }, { callbacks: [handler] }),
            ),
          )

          for (const outcome of outcomes) {
            if (outcome.status === 'rejected') {
              expect(findKillSwitchError(outcome.reason)).toBeInstanceOf(SpendingCapExceededError)
            }
          }
          const fulfilled = outcomes.filter((outcome) => outcome.status === 'fulfilled').length
          expect(model.callCount).toBe(fulfilled)
          expect(agent.settled).toHaveLength(fulfilled)
          const after = await agent.ks.agents.get(agent.handle)
          expect(after.spent).toBeLessThanOrEqual(spendingCap)
          expect(after.held).toBe(0)
          await agent.ks.close()
        },
      ),
      { numRuns: 25 },
    )
  })
})
