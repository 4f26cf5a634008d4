// A model that thinks unseen bills more output than it streams: cut off without usage, it
// is charged its output bound; a model whose output all streams is charged what streamed.
import { describe, expect, it } from 'vitest'
import { createKillSwitch } from '../kill-switch.js'
import { reasonsUnseen } from './unseen-reasoning.js'

describe('reasonsUnseen', () => {
  it.each([
    'o1',
    'o3',
    'o3-mini',
    'o4-mini-2025-04-16',
    'openai/o3',
    'openrouter/openai/o3-mini',
    'ft:o4-mini-2025-04-16:acme::abc123',
    'azure/eastus/gpt-5-mini',
    'gpt-5',
    'gpt-5-mini',
    'gpt-5.1-codex',
    'codex-mini-latest',
    'computer-use-preview',
    'openai/computer-use-preview-2025-03-11',
    'gemini-2.5-flash',
    'google/gemini-3-pro-preview',
    'grok-3-mini',
    'grok-4-fast',
    'claude-opus-5-5',
    'anthropic/claude-sonnet-5-5-20270101',
    'deepseek-reasoner',
    'deepseek/deepseek-r1-0528',
    'openai/gpt-oss-120b',
    'qwq-32b',
    'qwen3-235b-a22b',
    'magistral-medium-2506',
    'kimi-k2-thinking',
  ])('%s may bill reasoning it does not stream', (model) => {
    expect(reasonsUnseen(model)).toBe(true)
  })

  it.each([
    'gpt-4o',
    'gpt-4.1-mini',
    'omni-moderation',
    'claude-sonnet-4-5',
    'deepseek-chat',
    'gemini-2.0-flash',
    'grok-3',
    'test-model',
  ])('%s streams all it bills', (model) => {
    expect(reasonsUnseen(model)).toBe(false)
  })
})

describe('a stream cut off without usage', () => {
  // $1 per million tokens: one token costs one micro-dollar.
  const price = { inputPerMTok: 1, outputPerMTok: 1 }

  async function cutAfter(model: string, uncounted = false, input: unknown = 'x') {
    const ks = createKillSwitch({ runaway: false, prices: { [model]: price } })
    const agent = await ks.agents.create({ handle: 'a', spendingCap: 1 })
    const guard = ks.guard(agent.credential)
    const ticket = await guard.beforeModelCall({ model, input, maxOutputTokens: 10_000 })
    guard.onOutputDelta(ticket, { text: 'The answer is 4.' })
    // Audio, say: output whose tokens its bytes do not tell.
    if (uncounted) guard.onOutputDelta(ticket, { uncounted: true })
    // The consumer stopped reading: no usage ever came.
    await guard.failModelCall(ticket, new Error('the consumer stopped reading'))
    const settled = (await ks.audit('a')).find((entry) => entry.type === 'settled')
    return { ticket, settled, agent: await ks.agents.get('a') }
  }

  // DeepSeek R1 and gpt-oss stream their reasoning in a field a client may drop (red team
  // rt41a: the AI SDK's OpenAI chat model does), so it may never have been seen.
  it.each(['o3-mini', 'deepseek-reasoner', 'openai/gpt-oss-120b'])(
    'of a model that reasons unseen (%s) is charged its output bound, not its visible text',
    async (model) => {
      const { ticket, settled, agent } = await cutAfter(model)
      expect(settled?.data).toMatchObject({ basis: 'counted' })
      expect(settled?.data.outputTokens).toBeGreaterThanOrEqual(10_000)
      // Charged at most the hold, and every output token it may have spent thinking.
      expect(agent.spent).toBeLessThanOrEqual(ticket.reservedUsd)
      expect(agent.spent).toBeGreaterThanOrEqual(0.01)
      expect(agent.held).toBe(0)
    },
  )

  // A name the list does not know (a new model, a gateway's alias) with reasoning turned on
  // in the request: the provider only takes these fields from a model that reasons.
  it.each<[string, unknown]>([
    ['chat reasoning_effort', { messages: [], reasoning_effort: 'high' }],
    ['Responses reasoning', { input: 'x', reasoning: { effort: 'low', summary: 'auto' } }],
    ['AI SDK providerOptions', { prompt: [], options: { openai: { reasoningEffort: 'medium' } } }],
    ["Anthropic's thinking", { messages: [], thinking: { type: 'enabled', budget_tokens: 2048 } }],
    [
      "Bedrock's reasoningConfig",
      { options: { bedrock: { reasoningConfig: { type: 'enabled' } } } },
    ],
    [
      "Gemini's thinkingConfig",
      { options: { google: { thinkingConfig: { includeThoughts: false } } } },
    ],
    ["OpenRouter's include_reasoning", { messages: [], include_reasoning: true }],
    ["Qwen's enable_thinking", { messages: [], enable_thinking: true }],
  ])('whose request turns reasoning on (%s) is charged its output bound', async (_, input) => {
    const { settled, agent } = await cutAfter('new-alias', false, input)
    expect(settled?.data.outputTokens).toBeGreaterThanOrEqual(10_000)
    expect(agent.spent).toBeGreaterThanOrEqual(0.01)
  })

  it.each<[string, unknown]>([
    ['effort none', { messages: [], reasoning_effort: 'none' }],
    ['thinking disabled', { messages: [], thinking: { type: 'disabled' } }],
    ['a thinking budget of 0', { options: { google: { thinkingConfig: { thinkingBudget: 0 } } } }],
    // An assistant message's reasoning (OpenRouter's, echoed back) is history, not a switch.
    [
      'reasoning text in the history',
      { messages: [{ role: 'assistant', content: 'Hi', reasoning: 'The user greets me.' }] },
    ],
  ])('whose request turns reasoning off (%s) is charged what streamed', async (_, input) => {
    const { settled, agent } = await cutAfter('new-alias', false, input)
    expect(settled?.data.outputTokens).toBeLessThan(100)
    expect(agent.spent).toBeLessThan(0.001)
  })

  it('of a model whose output all streams is charged what streamed', async () => {
    const { settled, agent } = await cutAfter('gpt-4o-mini')
    expect(settled?.data).toMatchObject({ basis: 'counted' })
    expect(settled?.data.outputTokens).toBeLessThan(100)
    expect(agent.spent).toBeLessThan(0.001)
  })

  it('that streamed output it could not count is charged its output bound', async () => {
    const { settled, agent } = await cutAfter('gpt-4o-mini', true)
    expect(settled?.data.outputTokens).toBeGreaterThanOrEqual(10_000)
    expect(agent.spent).toBeGreaterThanOrEqual(0.01)
  })
})
