// Many calls at once through the middleware, generate and stream mixed: whatever the cap and
// the answers, spend never passes the cap and no hold is left behind (property-based).
import { SpendingCapExceededError, toMicros } from '@killswitch/core'
import { generateText, streamText } from 'ai'
import { MockLanguageModelV4 } from 'ai/test'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { withKillSwitch } from './kill-switch-middleware.js'
import { generateResult, MOCK_MODEL_ID, streamParts, v4Usage } from './testing/scripted-model.js'
import { testAgent } from './testing/test-agent.js'

/** A provider that honours maxOutputTokens, as real ones do: it never bills past it. */
function boundedModel(wanted: number[]) {
  let next = 0
  const answer = (maxOutputTokens: number | undefined) => {
    const output = Math.min(wanted[next++ % wanted.length] ?? 1, maxOutputTokens ?? Infinity)
    return { text: 'ok', usage: v4Usage(40, output) }
  }
  return new MockLanguageModelV4({
    modelId: MOCK_MODEL_ID,
    doGenerate: async ({ maxOutputTokens }) => generateResult(answer(maxOutputTokens)),
    doStream: async ({ maxOutputTokens }) => ({
      stream: ReadableStream.from(streamParts(answer(maxOutputTokens))),
    }),
  })
}

describe('concurrent calls', () => {
  it('never spend past the cap and never leave a hold (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 60_000 }),
        fc.array(fc.constantFrom('generate', 'stream'), { minLength: 1, maxLength: 16 }),
        fc.array(fc.integer({ min: 1, max: 2_000 }), { minLength: 1, maxLength: 16 }),
        async (capMicros, paths, wanted) => {
          const agent = await testAgent(capMicros / 1e6)
          const model = withKillSwitch(boundedModel(wanted), {
            killSwitch: agent.ks,
            credential: agent.credential,
          })
          const outcomes = await Promise.allSettled(
            paths.map((path) =>
              path === 'generate'
                ? generateText({ model, prompt: 'hi', maxRetries: 0 })
                : streamText({ model, prompt: 'hi', onError: () => {} }).text,
            ),
          )
          for (const outcome of outcomes) {
            if (outcome.status === 'rejected') {
              expect(outcome.reason).toBeInstanceOf(SpendingCapExceededError)
            }
          }
          const ledger = await agent.ledger()
          expect(ledger.held).toBe(0)
          expect(ledger.spent).toBeLessThanOrEqual(toMicros(capMicros / 1e6))
          await agent.ks.close()
        },
      ),
      { numRuns: 40 },
    )
  })
})
