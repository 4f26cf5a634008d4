// Revocation while the provider is silent, with a processor and no signal from the caller:
// the processor's own stop signal aborts the provider's request, and the call is charged
// as a call that left (never released).
import type { LanguageModelV4StreamPart } from '@ai-sdk/provider'
import { MockLanguageModelV4 } from 'ai/test'
import { describe, expect, it } from 'vitest'
import { loopingModel, processorAgent, STEP_COST_USD } from '../test/mock-agent.js'
import { killSwitchTripwire } from './tripwire.js'

const micros = (usd: number) => Math.round(usd * 1_000_000)

/** Step 0 asks for a tool; step 1 says a word, then waits for its abort signal. */
function silentSecondStep() {
  const first = loopingModel()
  let calledSecond: () => void = () => {}
  const secondCalled = new Promise<void>((resolve) => {
    calledSecond = resolve
  })
  const signals: AbortSignal[] = []
  const waitForAbort = (signal: AbortSignal | undefined) =>
    new Promise<never>((_, reject) => {
      if (signal) signals.push(signal)
      signal?.addEventListener('abort', () => reject(signal.reason), { once: true })
      calledSecond()
    })
  let calls = 0
  const model = new MockLanguageModelV4({
    provider: 'mock',
    modelId: 'mock-looper',
    doGenerate: async (options) => {
      if (calls++ === 0) return first.doGenerate(options)
      return waitForAbort(options.abortSignal)
    },
    doStream: async (options) => {
      if (calls++ === 0) return first.doStream(options)
      const stream = new ReadableStream<LanguageModelV4StreamPart>({
        start(controller) {
          controller.enqueue({ type: 'stream-start', warnings: [] })
          controller.enqueue({ type: 'text-start', id: 't' })
          controller.enqueue({ type: 'text-delta', id: 't', delta: 'Thinking ' })
          waitForAbort(options.abortSignal).catch((reason: unknown) => controller.error(reason))
        },
      })
      return { stream }
    },
  })
  return { model, secondCalled, signals }
}

describe('killSwitchProcessor: revocation while the provider is silent', () => {
  for (const mode of ['generate', 'stream'] as const) {
    it(`aborts the provider's request without a signal from the caller, and charges it (${mode})`, async () => {
      const { model, secondCalled, signals } = silentSecondStep()
      const { ks, handle, agent, counter } = await processorAgent(1, model)

      const running =
        mode === 'generate'
          ? agent.generate('go', { maxSteps: 10 }).then(
              (result) => result.tripwire,
              (error: unknown) => error,
            )
          : agent.stream('go', { maxSteps: 10 }).then(async (stream) => {
              await stream.consumeStream()
              return stream.tripwire ?? stream.error
            })
      await secondCalled
      await ks.agents.revoke(handle, { reason: 'operator pressed the button' })
      const ended = await running

      expect(signals.at(-1)?.aborted).toBe(true)
      expect(counter.runs).toBe(1)
      const stopped = killSwitchTripwire(ended as { processorId?: string })?.code
      const thrown = (ended as { code?: string } | undefined)?.code
      expect(stopped ?? thrown).toBe('agent_revoked')
      const agentNow = await ks.agents.get(handle)
      expect(agentNow.held).toBe(0)
      // Step 1 at its usage; step 2, revoked in flight, charged as a call that left.
      expect(micros(agentNow.spent)).toBeGreaterThan(micros(STEP_COST_USD))
    })
  }
})
