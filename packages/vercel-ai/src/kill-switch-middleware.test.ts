// The generate path: generateText through the middleware, against the real core.
import {
  AgentRevokedError,
  inputTokenBound,
  RunawayDetectedError,
  SpendingCapExceededError,
  UnknownModelPriceError,
} from '@killswitch/core'
import { generateText, isStepCount, streamText, tool, wrapLanguageModel } from 'ai'
import { MockLanguageModelV4 } from 'ai/test'
import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { killSwitchMiddleware, withKillSwitch } from './kill-switch-middleware.js'
import { billingProvider } from './testing/billing-provider.js'
import { guardWith } from './testing/guard-with.js'
import { recordingGuard } from './testing/recording-guard.js'
import {
  loopingModel,
  MOCK_MODEL_ID,
  paginatingModel,
  scriptedModel,
} from './testing/scripted-model.js'
import { testAgent } from './testing/test-agent.js'

// The mock's price: 10 micro-dollars per input token, 30 per output token. Each scripted
// answer reports 40 input and 20 output tokens: 1,000 micro-dollars a call.
const CALL_COST = 40 * 10 + 20 * 30

function countingTool() {
  const calls: unknown[] = []
  const search = tool({
    description: 'Searches the web',
    inputSchema: z.object({ query: z.string() }),
    execute: async (input) => {
      calls.push(input)
      return { results: ['a result'] }
    },
  })
  return { search, calls }
}

describe('killSwitchMiddleware: generate', () => {
  it('stops a multi-step tool loop at the cap with SpendingCapExceededError, spending no more than the cap', async () => {
    const agent = await testAgent(0.02)
    const model = paginatingModel()
    const { search, calls } = countingTool()
    const run = generateText({
      model: withKillSwitch(model, { killSwitch: agent.ks, credential: agent.credential }),
      tools: { search },
      stopWhen: isStepCount(100),
      prompt: 'Find GPU prices',
    })
    await expect(run).rejects.toBeInstanceOf(SpendingCapExceededError)
    const ledger = await agent.ledger()
    expect(model.doGenerateCalls.length).toBeGreaterThan(1)
    // Every provider call was settled at its real cost, and no hold is left behind.
    expect(ledger.spent).toBe(model.doGenerateCalls.length * CALL_COST)
    expect(ledger.spent).toBeLessThanOrEqual(ledger.cap)
    expect(ledger.held).toBe(0)
    // Each answered tool call ran; the refused model call made none.
    expect(calls).toHaveLength(model.doGenerateCalls.length)
  })

  it('refuses a revoked agent before the provider is called', async () => {
    const agent = await testAgent(10)
    await agent.revoke('incident 42')
    const model = scriptedModel(() => ({ text: 'hello' }))
    const run = generateText({
      model: withKillSwitch(model, { killSwitch: agent.ks, credential: agent.credential }),
      prompt: 'hi',
    })
    await expect(run).rejects.toBeInstanceOf(AgentRevokedError)
    expect(model.doGenerateCalls).toHaveLength(0)
  })

  it('refuses an unknown credential before the provider is called', async () => {
    const agent = await testAgent(10)
    const model = scriptedModel(() => ({ text: 'hello' }))
    const run = generateText({
      model: withKillSwitch(model, { killSwitch: agent.ks, credential: `ks_${'0'.repeat(43)}` }),
      prompt: 'hi',
    })
    await expect(run).rejects.toBeInstanceOf(AgentRevokedError)
    expect(model.doGenerateCalls).toHaveLength(0)
  })

  it('refuses a model without a price, and prices it under the id given in options', async () => {
    const agent = await testAgent(10)
    const model = scriptedModel(() => ({ text: 'hello' }), { modelId: 'my-finetune-v3' })
    const refused = generateText({
      model: withKillSwitch(model, { killSwitch: agent.ks, credential: agent.credential }),
      prompt: 'hi',
    })
    await expect(refused).rejects.toBeInstanceOf(UnknownModelPriceError)
    expect(model.doGenerateCalls).toHaveLength(0)

    const priced = withKillSwitch(model, {
      killSwitch: agent.ks,
      credential: agent.credential,
      model: MOCK_MODEL_ID,
    })
    await expect(generateText({ model: priced, prompt: 'hi' })).resolves.toMatchObject({
      text: 'hello',
    })
    expect((await agent.ledger()).spent).toBe(CALL_COST)
  })

  it('refuses an exhausted budget before the provider is called', async () => {
    const agent = await testAgent(0)
    const model = scriptedModel(() => ({ text: 'hello' }))
    const run = generateText({
      model: withKillSwitch(model, { killSwitch: agent.ks, credential: agent.credential }),
      prompt: 'hi',
    })
    await expect(run).rejects.toBeInstanceOf(SpendingCapExceededError)
    expect(model.doGenerateCalls).toHaveLength(0)
  })

  it('clamps maxOutputTokens to what the budget pays for', async () => {
    const capMicros = 10_000
    const agent = await testAgent(capMicros / 1e6)
    const model = scriptedModel(() => ({ text: 'hello' }))
    await generateText({
      model: withKillSwitch(model, { killSwitch: agent.ks, credential: agent.credential }),
      prompt: 'Write a long essay',
    })
    const sent = model.doGenerateCalls[0]
    const clamp = sent?.maxOutputTokens ?? Number.NaN
    const inputBound = inputTokenBound({ prompt: sent?.prompt, tools: sent?.tools }) * 10
    // Lowered to an output the cap pays for, after the input's bound (the core decides how
    // much headroom its output count needs).
    expect(clamp).toBeGreaterThan(0)
    expect(clamp).toBeLessThan(4096)
    expect(inputBound + clamp * 30).toBeLessThanOrEqual(capMicros)
  })

  it("keeps the caller's smaller maxOutputTokens", async () => {
    const agent = await testAgent(10)
    const model = scriptedModel(() => ({ text: 'hello' }))
    await generateText({
      model: withKillSwitch(model, { killSwitch: agent.ks, credential: agent.credential }),
      prompt: 'hi',
      maxOutputTokens: 50,
    })
    expect(model.doGenerateCalls[0]?.maxOutputTokens).toBe(50)
  })

  it('cancels the provider call in flight when the agent is revoked, and charges the whole hold (nothing is known of what it billed)', async () => {
    const agent = await testAgent(10)
    const { guard, holds } = recordingGuard(agent)
    let received: AbortSignal | undefined
    let started = () => {}
    const providerStarted = new Promise<void>((resolve) => {
      started = resolve
    })
    // A provider that honours its abort signal, as fetch does.
    const model = new MockLanguageModelV4({
      modelId: MOCK_MODEL_ID,
      doGenerate: ({ abortSignal }) => {
        received = abortSignal
        started()
        return new Promise((_, reject) => {
          abortSignal?.addEventListener('abort', () => reject(abortSignal.reason))
        })
      },
    })
    const run = generateText({
      model: withKillSwitch(model, { guard }),
      prompt: 'hi',
      maxRetries: 0,
    })
    await providerStarted
    expect((await agent.ledger()).held).toBeGreaterThan(0)
    await agent.revoke('runaway seen on the dashboard')
    await expect(run).rejects.toBeInstanceOf(AgentRevokedError)
    expect(received?.aborted).toBe(true)
    expect(await agent.ledger()).toMatchObject({ held: 0, spent: holds()[0] })
  })

  it('releases the hold of a call revoked before the provider was called (it never left)', async () => {
    for (const path of ['generate', 'stream'] as const) {
      const agent = await testAgent(10)
      const real = agent.ks.guard(agent.credential)
      // Revoked between the reservation and the provider call.
      const guard = guardWith(real, {
        beforeModelCall: async (request) => {
          const ticket = await real.beforeModelCall(request)
          await agent.revoke('revoked while reserving')
          return ticket
        },
      })
      const model = scriptedModel(() => ({ text: 'hello' }))
      const wrapped = withKillSwitch(model, { guard })
      const run =
        path === 'generate'
          ? generateText({ model: wrapped, prompt: 'hi', maxRetries: 0 })
          : streamText({ model: wrapped, prompt: 'hi', onError: () => {} }).text
      await expect(run, path).rejects.toBeInstanceOf(AgentRevokedError)
      expect(model.doGenerateCalls.length + model.doStreamCalls.length).toBe(0)
      expect(await agent.ledger()).toMatchObject({ held: 0, spent: 0 })
    }
  })

  it('charges a provider that ignores its abort and bills $0.50 (not $0), and stops waiting for it', async () => {
    const agent = await testAgent(10)
    const { guard, holds } = recordingGuard(agent)
    // 20 input and 16,660 output tokens at $10 / $30 per million: $0.50.
    const provider = billingProvider({ inputTokens: 20, outputTokens: 16_660, ignoresAbort: true })
    const run = generateText({
      model: withKillSwitch(provider.model, { guard }),
      prompt: 'Write a long essay',
      maxOutputTokens: 20_000,
      maxRetries: 0,
    })
    await provider.started()
    await agent.revoke('operator pressed the button')
    await expect(run).rejects.toBeInstanceOf(AgentRevokedError)
    expect(await provider.stopped()).toBe('done')
    expect(provider.billMicros()).toBe(500_000)
    const ledger = await agent.ledger()
    expect(ledger).toMatchObject({ held: 0, spent: holds()[0] })
    expect(ledger.spent).toBeGreaterThanOrEqual(provider.billMicros())
  })

  it('stops waiting for a provider that ignores its abort signal once the agent is revoked', async () => {
    const agent = await testAgent(10)
    let started = () => {}
    const providerStarted = new Promise<void>((resolve) => {
      started = resolve
    })
    const model = new MockLanguageModelV4({
      modelId: MOCK_MODEL_ID,
      doGenerate: () => {
        started()
        return new Promise(() => {})
      },
    })
    const run = generateText({
      model: withKillSwitch(model, { killSwitch: agent.ks, credential: agent.credential }),
      prompt: 'hi',
      maxRetries: 0,
    })
    await providerStarted
    await agent.revoke()
    await expect(run).rejects.toBeInstanceOf(AgentRevokedError)
    expect((await agent.ledger()).held).toBe(0)
  })

  it("still passes the caller's own abort signal to the provider; the aborted request is charged its hold", async () => {
    const agent = await testAgent(10)
    const { guard, holds } = recordingGuard(agent)
    let started = () => {}
    const providerStarted = new Promise<void>((resolve) => {
      started = resolve
    })
    const model = new MockLanguageModelV4({
      modelId: MOCK_MODEL_ID,
      doGenerate: ({ abortSignal }) => {
        started()
        return new Promise((_, reject) => {
          abortSignal?.addEventListener('abort', () => reject(abortSignal.reason))
        })
      },
    })
    const abort = new AbortController()
    const run = generateText({
      model: withKillSwitch(model, { guard }),
      prompt: 'hi',
      abortSignal: abort.signal,
      maxRetries: 0,
    })
    await providerStarted
    abort.abort(new Error('user pressed stop'))
    await expect(run).rejects.toThrow('user pressed stop')
    expect(await agent.ledger()).toMatchObject({ held: 0, spent: holds()[0] })
  })

  it('tags the holds with the runId given in options', async () => {
    const agent = await testAgent(10)
    const model = withKillSwitch(
      scriptedModel(() => ({ text: 'hello' })),
      {
        killSwitch: agent.ks,
        credential: agent.credential,
        runId: 'run-42',
      },
    )
    await generateText({ model, prompt: 'hi' })
    const holds = (await agent.ks.audit(agent.handle)).filter((entry) => entry.type === 'hold')
    expect(holds.map((entry) => entry.data.runId)).toEqual(['run-42'])
  })

  it('charges the whole hold when the provider throws after the request left, and rethrows its error', async () => {
    const agent = await testAgent(10)
    const { guard, holds } = recordingGuard(agent)
    const model = new MockLanguageModelV4({
      modelId: MOCK_MODEL_ID,
      doGenerate: async () => {
        throw new Error('upstream 500')
      },
    })
    const run = generateText({
      model: withKillSwitch(model, { guard }),
      prompt: 'hi',
      maxRetries: 0,
    })
    await expect(run).rejects.toThrow('upstream 500')
    expect(await agent.ledger()).toMatchObject({ held: 0, spent: holds()[0] })
  })

  it('checks each tool call before generateText executes it', async () => {
    const agent = await testAgent(10)
    const real = agent.ks.guard(agent.credential)
    // A guard whose tool check refuses: stands for a loop detector's trip.
    const guard = guardWith(real, {
      beforeToolCall: async () => {
        throw new RunawayDetectedError({
          handle: agent.handle,
          detector: 'repeated-tool-call',
          action: 'block',
          summary: 'search called 5 times with the same arguments',
        })
      },
    })
    const { search, calls } = countingTool()
    const run = generateText({
      model: wrapLanguageModel({
        model: loopingModel(),
        middleware: killSwitchMiddleware({ guard }),
      }),
      tools: { search },
      stopWhen: isStepCount(5),
      prompt: 'Find GPU prices',
    })
    await expect(run).rejects.toBeInstanceOf(RunawayDetectedError)
    expect(calls).toHaveLength(0)
    // The model call itself was made and is paid for.
    expect(await agent.ledger()).toMatchObject({ spent: CALL_COST, held: 0 })
  })
})
