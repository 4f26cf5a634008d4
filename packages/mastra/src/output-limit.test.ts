// Mastra with provider options that raise the provider's output limit past maxOutputTokens
// (`providerOptions.openai.maxCompletionTokens`), through the real @ai-sdk/openai client and
// Mastra's Agent against a local server billing up to the limit it receives: both
// integrations hold for it and clamp it near the cap (the AI SDK adapter's `outputLimit`).
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createOpenAI } from '@ai-sdk/openai'
import { createKillSwitch, type KillSwitch, toMicros } from '@killswitch/core'
import { Agent } from '@mastra/core/agent'
import type { MastraModelConfig } from '@mastra/core/llm'
import type { LanguageModelMiddleware } from 'ai'
import { defaultSettingsMiddleware, wrapLanguageModel } from 'ai'
import { afterEach, describe, expect, it } from 'vitest'
import { killSwitchModel } from './kill-switch-model.js'
import { killSwitchProcessor } from './kill-switch-processor.js'

const sent: Array<Record<string, unknown>> = []
let close = async () => {}
afterEach(() => close())

/** An OpenAI chat completions server generating up to the request's limit. */
async function openAIServer(): Promise<string> {
  sent.length = 0
  const server = createServer(async (req, res) => {
    let raw = ''
    for await (const chunk of req) raw += chunk
    const body = JSON.parse(raw) as Record<string, unknown>
    sent.push(body)
    const out = Number(body.max_completion_tokens ?? body.max_tokens ?? 50_000)
    const usage = { prompt_tokens: 20, completion_tokens: out, total_tokens: 20 + out }
    const base = { id: 'c1', created: 1, model: body.model }
    if (body.stream === true) {
      res.writeHead(200, { 'content-type': 'text/event-stream' })
      const send = (data: object) => res.write(`data: ${JSON.stringify(data)}\n\n`)
      const chunk = { ...base, object: 'chat.completion.chunk' }
      send({ ...chunk, choices: [{ index: 0, delta: { role: 'assistant', content: 'hi' } }] })
      send({ ...chunk, choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] })
      send({ ...chunk, choices: [], usage })
      res.end('data: [DONE]\n\n')
      return
    }
    res.writeHead(200, { 'content-type': 'application/json' })
    const message = { role: 'assistant', content: 'hi' }
    const choices = [{ index: 0, message, finish_reason: 'stop' }]
    res.end(JSON.stringify({ ...base, object: 'chat.completion', choices, usage }))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  close = () =>
    new Promise((resolve) => {
      server.closeAllConnections()
      server.close(() => resolve())
    })
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`
}

const modes = ['killSwitchModel', 'killSwitchProcessor'] as const

async function agentFor(
  mode: (typeof modes)[number],
  spendingCap: number,
  inner?: LanguageModelMiddleware,
) {
  const baseURL = await openAIServer()
  const ks = createKillSwitch({ runaway: false })
  const { credential } = await ks.agents.create({ handle: 'a', spendingCap })
  const provider = createOpenAI({ baseURL, apiKey: 'sk-test' }).chat('o4-mini')
  // A middleware of the caller's own inside the kill switch (it changes what is sent).
  const model = inner ? wrapLanguageModel({ model: provider, middleware: inner }) : provider
  const options = { killSwitch: ks, credential }
  const processor = mode === 'killSwitchProcessor' ? killSwitchProcessor(options) : undefined
  const agent = new Agent({
    id: 'thinker',
    name: 'thinker',
    instructions: 'think',
    // @mastra/core 1.71 bundles older provider V4 types: an ai 7 model runs (see kill-switch-model.ts).
    model: processor ? (model as unknown as MastraModelConfig) : killSwitchModel(model, options),
    ...(processor && { inputProcessors: [processor], outputProcessors: [processor] }),
  })
  return { ks, agent }
}

async function hold(ks: KillSwitch) {
  const entries = (await ks.audit('a')).filter((entry) => entry.type === 'hold')
  expect(entries).toHaveLength(1)
  const data = entries[0]!.data as { maxOutputTokens: number; requestedMaxOutputTokens: unknown }
  return { clamp: data.maxOutputTokens, requested: data.requestedMaxOutputTokens }
}

const providerOptions = { openai: { maxCompletionTokens: 40_000 } }

describe('Mastra: provider options raising the output limit', () => {
  for (const mode of modes) {
    it(`holds for openai.maxCompletionTokens and clamps it near the cap (${mode})`, async () => {
      const cap = 0.01
      const { ks, agent } = await agentFor(mode, cap)

      await agent.generate('go', { providerOptions })

      const { clamp, requested } = await hold(ks)
      expect(requested).toBe(40_000)
      expect(clamp).toBeLessThan(40_000)
      expect(sent.map((body) => body.max_completion_tokens)).toEqual([clamp])
      const spent = await ks.agents.get('a')
      expect(spent.held).toBe(0)
      expect(toMicros(spent.spent)).toBeLessThanOrEqual(toMicros(cap))
    })

    it(`sends an honest call far from the cap unchanged (${mode})`, async () => {
      const { ks, agent } = await agentFor(mode, 100)

      await agent.generate('go', { providerOptions, modelSettings: { maxOutputTokens: 1_000 } })

      expect((await hold(ks)).requested).toBe(40_000)
      expect(sent).toHaveLength(1)
      expect(sent[0]!.max_completion_tokens).toBe(40_000)
      expect(sent[0]!.max_tokens).toBeUndefined()
    })

    it(`refuses a priority service tier before the provider is called (${mode})`, async () => {
      const { ks, agent } = await agentFor(mode, 100)
      const priority = { openai: { serviceTier: 'priority' as const } }

      const outcome = await agent.generate('go', { providerOptions: priority }).then(
        (result) => result,
        (error: unknown) => error,
      )

      // A typed error or a tripwire (the processor's refusals), never a call.
      expect(JSON.stringify(outcome, Object.getOwnPropertyNames(outcome ?? {}))).toMatch(
        /serviceTier|unknown_model_price|tripwire/i,
      )
      expect(sent).toHaveLength(0)
      expect(await ks.agents.get('a')).toMatchObject({ spent: 0, held: 0 })
    })

    it(`names a middleware inside the model that raised the limit after the hold (${mode})`, async () => {
      const raising = defaultSettingsMiddleware({
        settings: { providerOptions: { openai: { maxCompletionTokens: 40_000 } } },
      })
      const { ks, agent } = await agentFor(mode, 100, raising)

      const outcome = await agent.generate('go').then(
        (result) => result,
        (error: unknown) => error,
      )

      expect(JSON.stringify(outcome, Object.getOwnPropertyNames(outcome ?? {}))).toMatch(
        /innermost|invalid_config/,
      )
      // Sent once (never retried), and charged at least what the provider billed.
      expect(sent.map((body) => body.max_completion_tokens)).toEqual([40_000])
      const { spent, held } = await ks.agents.get('a')
      expect(held).toBe(0)
      expect(spent).toBeGreaterThan(0)
    })

    it(`holds a previous response named in provider options at the context window (${mode})`, async () => {
      // o4-mini's window (200k tokens at $1.10 a million) is past a $0.10 cap.
      const { ks, agent } = await agentFor(mode, 0.1)
      const previous = { openai: { previousResponseId: 'resp_1' } }

      const outcome = await agent.generate('go on', { providerOptions: previous }).then(
        (result) => result,
        (error: unknown) => error,
      )

      expect(JSON.stringify(outcome, Object.getOwnPropertyNames(outcome ?? {}))).toMatch(
        /spending_cap|spending cap|tripwire/i,
      )
      expect(sent).toHaveLength(0)
      expect(await ks.agents.get('a')).toMatchObject({ spent: 0, held: 0 })
    })
  }
})
