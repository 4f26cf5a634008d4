// The output-limit translation alone: what a call asks for, and its params for a clamp. The
// total a provider would send is computed here as @ai-sdk/openai and @ai-sdk/anthropic do.
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { type OutputLimitParams, outputLimit } from './output-limit.js'

// An AI SDK call's params: its prompt beside the fields that set the output limit.
type Params = OutputLimitParams & { prompt: unknown }
const prompt = [{ role: 'user', content: [{ type: 'text', text: 'hi' }] }]
const call = (extra: Partial<Params>): Params => ({ prompt, ...extra })
type Thinking = { type: string; budgetTokens?: number }

/** max_tokens as @ai-sdk/anthropic sends it: text plus an enabled thinking budget. */
function anthropicTotal(params: Params): number {
  const thinking = params.providerOptions?.anthropic?.thinking as Thinking | undefined
  const budget = thinking?.type === 'enabled' ? (thinking.budgetTokens ?? 1024) : 0
  return (params.maxOutputTokens ?? Number.POSITIVE_INFINITY) + budget
}

/** The limit @ai-sdk/openai's chat model sends a reasoning model. */
function openaiLimit(params: Params): number {
  const completion = params.providerOptions?.openai?.maxCompletionTokens as number | undefined
  return completion ?? params.maxOutputTokens ?? Number.POSITIVE_INFINITY
}

describe('outputLimit', () => {
  it('asks for maxOutputTokens alone when no option raises it', () => {
    expect(outputLimit(call({ maxOutputTokens: 500 }), 'openai.chat').requested).toBe(500)
    expect(outputLimit(call({}), 'openai.chat').requested).toBeUndefined()
    const limit = outputLimit(call({}), 'openai.chat')
    expect(limit.params(300)).toEqual(call({ maxOutputTokens: 300 }))
  })

  it('leaves an invalid maxOutputTokens for the core to refuse', () => {
    expect(outputLimit(call({ maxOutputTokens: 0 }), 'openai.chat').requested).toBe(0)
  })

  it('reads openai.maxCompletionTokens, and clamps it', () => {
    const params = call({ providerOptions: { openai: { maxCompletionTokens: 40_000 } } })
    const limit = outputLimit(params, 'openai.chat')
    expect(limit.requested).toBe(40_000)
    const sent = limit.params(2_000)
    expect(sent.providerOptions?.openai?.maxCompletionTokens).toBe(2_000)
    expect(sent.maxOutputTokens).toBe(2_000)
    // Not read by an Anthropic model: another provider's options do not raise its limit.
    expect(outputLimit(params, 'anthropic.messages').requested).toBeUndefined()
    // Azure reads its own namespace too.
    const azure = call({ providerOptions: { azure: { maxCompletionTokens: 9_000 } } })
    expect(outputLimit(azure, 'azure.chat').requested).toBe(9_000)
  })

  it('reads an enabled thinking budget on top of maxOutputTokens (1024 when unset)', () => {
    const thinking = (t: Thinking) =>
      outputLimit(
        call({ maxOutputTokens: 100, providerOptions: { anthropic: { thinking: t } } }),
        'anthropic.messages',
      )
    expect(thinking({ type: 'enabled', budgetTokens: 30_000 }).requested).toBe(30_100)
    expect(thinking({ type: 'enabled' }).requested).toBe(1_124)
    expect(thinking({ type: 'adaptive' }).requested).toBe(100)
    // The provider's own namespace (vertex, bedrock...) is read too.
    const vertex = call({
      maxOutputTokens: 100,
      providerOptions: { vertex: { thinking: { type: 'enabled', budgetTokens: 5_000 } } },
    })
    expect(outputLimit(vertex, 'vertex.anthropic.messages').requested).toBe(5_100)
  })

  it('sizes a thinking call that sets no max with the core default beside its budget', () => {
    const params = call({
      providerOptions: { anthropic: { thinking: { type: 'enabled', budgetTokens: 10_000 } } },
    })
    const limit = outputLimit(params, 'anthropic.messages', 4_096)
    expect(limit.requested).toBe(14_096)
    // Far from the cap: the default's worth of text beside the whole budget, as asked.
    const sent = limit.params(14_096)
    expect(sent.maxOutputTokens).toBe(4_096)
    expect(sent.providerOptions?.anthropic?.thinking).toEqual({
      type: 'enabled',
      budgetTokens: 10_000,
    })
    // Without the default it cannot be sized: the core holds its own default and clamps.
    expect(outputLimit(params, 'anthropic.messages').requested).toBeUndefined()
  })

  it('says when the provider bills output it streams only summarised (thinking on)', () => {
    const withThinking = (thinking: Thinking | undefined, reasoning?: Params['reasoning']) =>
      outputLimit(
        call({ providerOptions: { anthropic: { thinking } }, ...(reasoning && { reasoning }) }),
        'anthropic.messages',
        4_096,
      ).hidesOutput
    expect(withThinking({ type: 'enabled', budgetTokens: 2_000 })).toBe(true)
    expect(withThinking({ type: 'adaptive' })).toBe(true)
    expect(withThinking({ type: 'disabled' })).toBe(false)
    expect(withThinking(undefined, 'high')).toBe(true)
    // 'none' on a model that cannot stop thinking thinks between tools: not provably off.
    expect(withThinking(undefined, 'none')).toBe(true)
    expect(withThinking({ type: 'between_tools' })).toBe(true)
    expect(withThinking(undefined, 'provider-default')).toBe(false)
    expect(outputLimit(call({ maxOutputTokens: 10 }), 'openai.chat').hidesOutput).toBe(false)
  })

  it('splits the clamp between thinking and text: budget min(B, M - 1), text M - budget', () => {
    const params = call({
      maxOutputTokens: 2_000,
      providerOptions: { anthropic: { thinking: { type: 'enabled', budgetTokens: 30_000 } } },
    })
    const sent = outputLimit(params, 'anthropic.messages').params(1_000)
    expect(sent.providerOptions?.anthropic?.thinking).toEqual({
      type: 'enabled',
      budgetTokens: 999,
    })
    expect(sent.maxOutputTokens).toBe(1)
  })

  it('makes the budget `reasoning` would compute explicit, a share of the clamp', () => {
    const params = call({ reasoning: 'medium' })
    const limit = outputLimit(params, 'anthropic.messages')
    expect(limit.requested).toBeUndefined()
    const sent = limit.params(4_000)
    expect(sent.providerOptions?.anthropic?.thinking).toEqual({
      type: 'enabled',
      budgetTokens: 1_200,
    })
    expect(sent.maxOutputTokens).toBe(2_800)
    // No budget computed: 'none', an explicit thinking or effort, or an OpenAI model.
    for (const [extra, provider] of [
      [{ reasoning: 'none' }, 'anthropic.messages'],
      [
        { reasoning: 'high', providerOptions: { anthropic: { effort: 'low' } } },
        'anthropic.messages',
      ],
      [{ reasoning: 'high', maxOutputTokens: 10 }, 'openai.chat'],
    ] as const) {
      const other = outputLimit(call(extra as Partial<Params>), provider)
      expect(other.params(10).providerOptions?.anthropic?.thinking).toBeUndefined()
    }
  })

  it('reads an Anthropic provider under another name: `reasoning` is a budget it computes', () => {
    // createAnthropic({ name: 'my-proxy.messages' }): no options, only `reasoning`.
    const limit = outputLimit(
      call({ maxOutputTokens: 100, reasoning: 'high' }),
      'my-proxy.messages',
      4_096,
    )
    expect(limit.requested).toBeUndefined()
    expect(limit.hidesOutput).toBe(true)
    const sent = limit.params(1_000)
    // Made explicit where @ai-sdk/anthropic always reads it: the total within the clamp.
    expect(sent.providerOptions?.anthropic?.thinking).toMatchObject({ type: 'enabled' })
    expect(anthropicTotal(sent)).toBeLessThanOrEqual(1_000)
  })

  it('reads an unknown provider (a gateway) every way', () => {
    const params = call({
      maxOutputTokens: 100,
      providerOptions: {
        openai: { maxCompletionTokens: 7_000 },
        anthropic: { thinking: { type: 'enabled', budgetTokens: 9_000 } },
      },
    })
    const limit = outputLimit(params, 'gateway')
    expect(limit.requested).toBe(9_100)
    const sent = limit.params(1_000)
    expect(anthropicTotal(sent)).toBeLessThanOrEqual(1_000)
    expect(openaiLimit(sent)).toBeLessThanOrEqual(1_000)
  })
})

type Call = {
  maxOutputTokens: number | undefined
  budget: number | undefined
  completion: number | undefined
  reasoning: string | undefined
}

describe('outputLimit properties', () => {
  const limits = fc.integer({ min: 1, max: 200_000 })
  const thinkingCall = fc.record({
    maxOutputTokens: fc.option(limits, { nil: undefined }),
    budget: fc.option(limits, { nil: undefined }),
    completion: fc.option(limits, { nil: undefined }),
    reasoning: fc.constantFrom(undefined, 'none', 'low', 'high', 'max', 'provider-default'),
  })
  const build = (c: Call, anthropic: boolean): Params =>
    call({
      ...(c.maxOutputTokens !== undefined && { maxOutputTokens: c.maxOutputTokens }),
      ...(c.reasoning !== undefined && { reasoning: c.reasoning as Params['reasoning'] }),
      providerOptions: anthropic
        ? c.budget === undefined
          ? {}
          : { anthropic: { thinking: { type: 'enabled', budgetTokens: c.budget } } }
        : c.completion === undefined
          ? {}
          : { openai: { maxCompletionTokens: c.completion } },
    })
  /** The call `c` makes, its limit, a clamp of the core's and the params sent at it. */
  const clampedAt = (c: Call, clamp: number, anthropic: boolean) => {
    const params = build(c, anthropic)
    const limit = outputLimit(params, anthropic ? 'anthropic.messages' : 'openai.chat')
    // The core never raises a limit: its clamp is at most what was asked.
    const max = limit.requested === undefined ? clamp : Math.min(clamp, limit.requested)
    return { params, limit, max, sent: limit.params(max) }
  }

  it('Anthropic: for any B, M, maxOutputTokens the sent total is at most M when clamped, and the call untouched when not', () => {
    fc.assert(
      fc.property(thinkingCall, limits, (c, clamp) => {
        const { params, limit, max, sent } = clampedAt(c, clamp, true)
        const reasoned =
          c.budget === undefined && !['none', 'provider-default', undefined].includes(c.reasoning)
        // A budget `reasoning` computes is unseen: it must have been made explicit.
        if (reasoned) expect(sent.providerOptions?.anthropic?.thinking).toBeDefined()
        expect(anthropicTotal(sent)).toBeLessThanOrEqual(max)
        expect(sent.maxOutputTokens).toBeGreaterThanOrEqual(1)
        if (limit.requested !== undefined && max >= limit.requested) {
          expect(sent).toEqual({ ...params, maxOutputTokens: params.maxOutputTokens ?? max })
        }
      }),
    )
  })

  it('OpenAI: for any maxCompletionTokens, M, maxOutputTokens the sent limit is at most M when clamped, and the call untouched when not', () => {
    fc.assert(
      fc.property(thinkingCall, limits, (c, clamp) => {
        const { params, limit, max, sent } = clampedAt(c, clamp, false)
        expect(openaiLimit(sent)).toBeLessThanOrEqual(max)
        expect(sent.maxOutputTokens).toBeLessThanOrEqual(max)
        if (limit.requested !== undefined && max >= limit.requested) {
          expect(sent.providerOptions).toEqual(params.providerOptions)
          expect(sent.maxOutputTokens).toBe(params.maxOutputTokens ?? max)
        }
      }),
    )
  })
})
