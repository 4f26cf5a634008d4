// A consumer that stops reading a streamText result: the provider is aborted and the call
// charged for what it produced, long before the hold's TTL. Against the real streamText and
// a fake provider that generates on its own clock and keeps its own bill.

import { StreamAbandonedError } from '@killswitch/core'
import { experimental_streamTextLowMemory, streamText } from 'ai'
import { describe, expect, it } from 'vitest'
import { killSwitchMiddleware, withKillSwitch } from './kill-switch-middleware.js'
import { billingProvider } from './testing/billing-provider.js'
import { recordingGuard } from './testing/recording-guard.js'
import { testAgent } from './testing/test-agent.js'

async function setup(idleConsumerMs: number) {
  const agent = await testAgent(10)
  // Slower than the consumer timeout: unaborted, it would stream for minutes.
  const provider = billingProvider({ tokenEveryMs: 2 })
  const { guard, holds } = recordingGuard(agent)
  const model = withKillSwitch(provider.model, { guard, idleConsumerMs })
  const options = { model, prompt: 'Write forever', maxOutputTokens: 100_000, onError: () => {} }
  return { agent, provider, holds, options }
}

type Setup = Awaited<ReturnType<typeof setup>>

/** The provider stopped; the hold is gone; the ledger holds at least the provider's bill. */
async function expectChargedForWhatWasProduced({ agent, provider, holds }: Setup) {
  const settled = agent.nextSettlement()
  expect(await provider.stopped()).toBe('aborted')
  const ledger = await agent.ledger()
  if (ledger.held > 0) expect(await settled).toBe('settled')
  const after = await agent.ledger()
  expect(after.held).toBe(0)
  // Never less than the provider billed, never more than the one call's hold.
  expect(after.spent).toBeGreaterThanOrEqual(provider.billMicros())
  expect(holds()).toHaveLength(1)
  expect(after.spent).toBeLessThanOrEqual(holds()[0] ?? 0)
}

async function readThreeThenBreak(stream: AsyncIterable<string>): Promise<void> {
  let seen = 0
  for await (const _ of stream) {
    if (++seen === 3) break
  }
}

describe('killSwitchMiddleware: a consumer that stops reading', () => {
  it('break out of textStream: aborts the provider and charges what it produced', async () => {
    const run = await setup(50)
    await readThreeThenBreak(streamText(run.options).textStream)
    await expectChargedForWhatWasProduced(run)
  })

  it('reader.cancel() on textStream and on fullStream: the same', async () => {
    for (const projection of ['textStream', 'fullStream'] as const) {
      const run = await setup(50)
      const result = streamText(run.options)
      const reader = result[projection].getReader()
      await reader.read()
      await reader.read()
      await reader.cancel()
      await expectChargedForWhatWasProduced(run)
    }
  })

  it('a result dropped unread: the same', async () => {
    const run = await setup(50)
    streamText(run.options)
    await expectChargedForWhatWasProduced(run)
  })

  it('a cancel that reaches the model (single-consumer result) ends the call at once, no timeout needed', async () => {
    const run = await setup(Number.POSITIVE_INFINITY)
    await readThreeThenBreak(experimental_streamTextLowMemory(run.options).textStream)
    await expectChargedForWhatWasProduced(run)
  })

  it('a call whose thinking is billed but streamed summarised is charged its whole hold when cut', async () => {
    const run = await setup(50)
    const thinking = { type: 'enabled', budgetTokens: 2_000 }
    const result = streamText({ ...run.options, providerOptions: { anthropic: { thinking } } })
    await readThreeThenBreak(result.textStream)
    expect(await run.provider.stopped()).toBe('aborted')
    const settled = run.agent.nextSettlement()
    if ((await run.agent.ledger()).held > 0) await settled
    // What streamed is not what it thought: the output bound is charged, not three words.
    const after = await run.agent.ledger()
    expect(after.held).toBe(0)
    expect(after.spent).toBe(run.holds()[0])
    expect(after.spent).toBeGreaterThan(run.provider.billMicros())
  })

  it('a consumer that reads to the end is never cut: settled at the provider bill exactly', async () => {
    const agent = await testAgent(10)
    const provider = billingProvider({ tokenEveryMs: 1, outputTokens: 300 })
    const model = withKillSwitch(provider.model, {
      killSwitch: agent.ks,
      credential: agent.credential,
      idleConsumerMs: 50,
    })
    const result = streamText({ model, prompt: 'Write 300 words' })
    let text = ''
    for await (const delta of result.textStream) text += delta
    expect(text).toBe('word '.repeat(300))
    expect(await provider.stopped()).toBe('done')
    expect(await agent.ledger()).toMatchObject({ spent: provider.billMicros(), held: 0 })
  })

  it('a consumer slower than idleConsumerMs gets StreamAbandonedError on its next read', async () => {
    const run = await setup(50)
    const reader = streamText(run.options).fullStream.getReader()
    await reader.read()
    await expectChargedForWhatWasProduced(run)
    const rest = (async () => {
      for (;;) if ((await reader.read()).done) return
    })()
    await expect(rest).rejects.toBeInstanceOf(StreamAbandonedError)
  })

  it('refuses an idleConsumerMs that is not a positive number, naming the field', async () => {
    const agent = await testAgent(10)
    for (const idleConsumerMs of [0, -1, Number.NaN, '5000' as unknown as number]) {
      expect(() =>
        killSwitchMiddleware({
          killSwitch: agent.ks,
          credential: agent.credential,
          idleConsumerMs,
        }),
      ).toThrowError(expect.objectContaining({ field: 'idleConsumerMs' }))
    }
  })
})
