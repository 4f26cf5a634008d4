// The generate path: generateText through the middleware, against the real core.
import {
  AgentRevokedError,
  inputTokenBound,
  RunawayDetectedError,
  SpendingCapExceededError,
  toMicros,
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
import { type TestAgent, testAgent } from './testing/test-agent.js'

// The mock's price: 10 micro-dollars per input token, 30 per output token. Each scripted
// answer reports 40 input and 20 output tokens: 1,000 micro-dollars a call.
const CALL_COST = 40 * 10 + 20 * 30

// The most a call of prompt 'hi' with no maxOutputTokens can cost, charged when nothing is
// known of what it used: its input bound, 176 tokens (the request the middleware gives the
// guard as JSON bytes, plus 64 of chat template), and the 4,096 output tokens the provider
// was told (the default limit): 176 x 10 + 4,096 x 30 = 1,760 + 122,880 = 124,640. Not the
// hold (739,040: six times the output, the count headroom of a tokenizer it does not know).
const HI_MOST_MICROS = 176 * 10 + 4_096 * 30

/** What the agent was charged as unreconciled (for the provider's bill to correct). */
async function unreconciledMicros(agent: TestAgent): Promise<number> {
  return toMicros((await agent.ks.agents.get(agent.handle)).unreconciled)
}

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

  it('cancels the provider call in flight when the agent is revoked, and charges the most it can cost (nothing is known of what it billed)', async () => {
    const agent = await testAgent(10)
    const { guard, tickets } = recordingGuard(agent)
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
    expect(tickets[0]?.maxOutputTokens).toBe(4_096)
    expect(await agent.ledger()).toMatchObject({ held: 0, spent: HI_MOST_MICROS })
    expect(await unreconciledMicros(agent)).toBe(HI_MOST_MICROS)
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
    const guard = agent.ks.guard(agent.credential)
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
    // Revoked before any output: the most the call can cost, its input bound (192 tokens:
    // 'Write a long essay' as the guard is given it) and the 20,000 output tokens told:
    // 192 x 10 + 20,000 x 30 = 1,920 + 600,000 = 601,920, at least the provider's bill.
    const ledger = await agent.ledger()
    expect(ledger).toMatchObject({ held: 0, spent: 192 * 10 + 20_000 * 30 })
    expect(ledger.spent).toBeGreaterThanOrEqual(provider.billMicros())
    expect(await unreconciledMicros(agent)).toBe(ledger.spent)
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

  it("still passes the caller's own abort signal to the provider; the aborted request is charged the most it can cost", async () => {
    const agent = await testAgent(10)
    const guard = agent.ks.guard(agent.credential)
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
    expect(await agent.ledger()).toMatchObject({ held: 0, spent: HI_MOST_MICROS })
    expect(await unreconciledMicros(agent)).toBe(HI_MOST_MICROS)
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

  it('charges the most the call can cost when the provider throws after the request left, and rethrows its error', async () => {
    const agent = await testAgent(10)
    const guard = agent.ks.guard(agent.credential)
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
    expect(await agent.ledger()).toMatchObject({ held: 0, spent: HI_MOST_MICROS })
    expect(await unreconciledMicros(agent)).toBe(HI_MOST_MICROS)
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
