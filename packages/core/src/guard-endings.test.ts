// Every way a model call ends, priced by one rule (call-ending.ts), checked in the ledger to
// the micro-dollar.
import fc from 'fast-check'
import { Tiktoken } from 'js-tiktoken/lite'
import o200k from 'js-tiktoken/ranks/o200k_base'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { type CallFigures, costOfEnding } from './call-ending.js'
import { AgentRevokedError, SpendingCapExceededError } from './errors.js'
import type { TokenUsage } from './guard-types.js'
import { createKillSwitch, type KillSwitchOptions } from './kill-switch.js'
import { toMicros } from './money.js'
import { costBound, costOfUsage, REQUEST_OVERHEAD_TOKENS } from './pricing/cost.js'
import { UNKNOWN_TOKENIZER_HEADROOM } from './pricing/output-count.js'
import { createPriceSource } from './pricing/price-source.js'
import type { Observation, RunawayMonitor } from './runaway/types.js'

// One token costs one micro-dollar; the tokenizer is unknown, so output counts UTF-8 bytes.
const prices = { 'test-model': { inputPerMTok: 1, outputPerMTok: 1 } }
// Its input bound: 100 bytes + REQUEST_OVERHEAD_TOKENS (64) chat template tokens = 164.
const call = { model: 'test-model', input: 'x'.repeat(100) }

async function setup(cap: number, options: KillSwitchOptions = {}) {
  const ks = createKillSwitch({ prices, runaway: false, ...options })
  const agent = await ks.agents.create({ handle: 'agent', spendingCap: cap })
  return { ks, agent, guard: ks.guard(agent.credential) }
}

/** Streams 20,000 counted tokens (20,000 bytes) and returns the ticket. */
async function streamed20k(guard: Awaited<ReturnType<typeof setup>>['guard']) {
  const ticket = await guard.beforeModelCall({ ...call, maxOutputTokens: 4_000 })
  for (let i = 0; i < 5_000; i++) guard.onOutputDelta(ticket, { text: 'abcd' })
  return ticket
}

describe('usage sanity: bad usage never settles below what streamed', () => {
  it.each([
    ['0', 0],
    ['NaN', Number.NaN],
    ['-5', -5],
    ['fractional', 12.5],
    ['Infinity', Number.POSITIVE_INFINITY],
    ['far below what streamed', 100],
  ])('outputTokens %s after 20,000 streamed tokens settles the counted figure', async (_, out) => {
    const { ks, guard } = await setup(1)
    const ticket = await streamed20k(guard)
    const settled = await guard.afterModelCall(ticket, {
      usage: { inputTokens: 50, outputTokens: out },
    })
    // 50 input tokens (believed) + 20,000 counted output tokens.
    expect(settled.costUsd).toBe(0.02005)
    expect(await ks.agents.get('agent')).toMatchObject({ spent: 0.02005, held: 0 })
    const entry = (await ks.audit('agent')).at(-1)
    expect(entry).toMatchObject({
      type: 'settled',
      data: { basis: 'counted', outputTokens: 20_000, usageNotBelieved: ['outputTokens'] },
    })
  })

  it('settles the input bound and the counted output when usage is missing', async () => {
    const { ks, guard } = await setup(1)
    const ticket = await streamed20k(guard)
    await guard.afterModelCall(ticket, {})
    // 164 input-bound tokens + 20,000 counted output tokens.
    expect(await ks.agents.get('agent')).toMatchObject({ spent: 0.020164, held: 0 })
  })

  it('believes usage at or above what streamed could honestly be', async () => {
    const { ks, guard } = await setup(1)
    const ticket = await streamed20k(guard)
    // 20,000 bytes are at least 3,334 tokens for any tokenizer that carries <= 6 bytes a token.
    await guard.afterModelCall(ticket, { usage: { inputTokens: 50, outputTokens: 4_000 } })
    expect(await ks.agents.get('agent')).toMatchObject({ spent: 0.00405, held: 0 })
  })

  it('counts the text of a call that did not stream: never zero for one that produced output', async () => {
    const { ks, guard } = await setup(1)
    const ticket = await guard.beforeModelCall({ ...call, maxOutputTokens: 1_000 })
    await guard.afterModelCall(ticket, {
      usage: { inputTokens: 80, outputTokens: 0 },
      text: 'y'.repeat(3_000),
    })
    expect(await ks.agents.get('agent')).toMatchObject({ spent: 0.00308, held: 0 })
  })

  it('settles the output bound when a call that did not stream reports no output count', async () => {
    const { ks, guard } = await setup(1)
    const ticket = await guard.beforeModelCall({ ...call, maxOutputTokens: 1_000 })
    await guard.afterModelCall(ticket, { usage: { inputTokens: 80 } })
    // 80 input + the hold's 6,000 counted output tokens.
    expect(await ks.agents.get('agent')).toMatchObject({ spent: 0.00608, held: 0 })
  })
})

describe('usage sanity: input below what the request text comes to is not believed', () => {
  // 16,000 bytes of prose: at least 1,000 tokens in any tokenizer (about 3,500 in o200k).
  const prompt = 'The agent retried the payment call after every timeout, twice a second. '.repeat(
    222,
  )
  const messages = { prompt: [{ role: 'user', content: [{ type: 'text', text: prompt }] }] }

  it.each([
    ['1', 1],
    ['a tenth of its text', 100],
  ])('reported as %s input tokens, a call is settled at its input bound', async (_, reported) => {
    const { ks, guard } = await setup(1)
    const ticket = await guard.beforeModelCall({ model: 'test-model', input: messages })
    await guard.afterModelCall(ticket, { usage: { inputTokens: reported, outputTokens: 10 } })
    const settled = (await ks.audit('agent')).at(-1)
    expect(settled).toMatchObject({
      type: 'settled',
      data: { basis: 'counted', usageNotBelieved: ['inputTokens'] },
    })
    const { inputTokens } = (settled?.data ?? {}) as { inputTokens: number }
    expect(inputTokens).toBeGreaterThan(prompt.length)
    expect(toMicros((await ks.agents.get('agent')).spent)).toBe(inputTokens + 10)
  })

  it('believes the honest count, and a cached part reported apart (Anthropic)', async () => {
    const { ks, guard } = await setup(1)
    const honest = await guard.beforeModelCall({ model: 'test-model', input: messages })
    await guard.afterModelCall(honest, { usage: { inputTokens: 3_500, outputTokens: 10 } })
    const cached = await guard.beforeModelCall({ model: 'test-model', input: messages })
    await guard.afterModelCall(cached, {
      usage: { inputTokens: 3, cacheReadTokens: 3_497, outputTokens: 10 },
    })
    const settled = (await ks.audit('agent')).filter((entry) => entry.type === 'settled')
    expect(settled.map((entry) => (entry.data as { basis: string }).basis)).toEqual([
      'usage',
      'usage',
    ])
  })

  it('judges a prompt of long runs (a table rule, indentation) by its exact count, worked out only then', async () => {
    // 16,592 bytes, mostly rules of 1,000 dashes: a few hundred tokens, below the quick
    // floor of bytes / 16 (1,037); above the exact one (53: a run counts as one token).
    const line = `The agent retried the payment call. ${'-'.repeat(1_000)}\n`
    const rule = { prompt: [{ role: 'user', content: line.repeat(16) }] }
    const { ks, guard } = await setup(1)
    const honest = await guard.beforeModelCall({ model: 'test-model', input: rule })
    await guard.afterModelCall(honest, { usage: { inputTokens: 500, outputTokens: 10 } })
    const lying = await guard.beforeModelCall({ model: 'test-model', input: rule })
    await guard.afterModelCall(lying, { usage: { inputTokens: 10, outputTokens: 10 } })
    const settled = (await ks.audit('agent')).filter((entry) => entry.type === 'settled')
    expect(settled.map((entry) => (entry.data as { basis: string }).basis)).toEqual([
      'usage',
      'counted',
    ])
    expect(settled[0]?.data).toMatchObject({ inputTokens: 500 })
  })
})

describe("usage sanity: a prompt the model's tokenizer counts (gpt-4o)", () => {
  // 28,000 bytes of English prose, about 5,600 o200k tokens: a report of its bytes / 16
  // (1,750) clears the floor of any tokenizer's densest text, yet is plainly false here.
  const prompt = 'The quarterly report shows revenue up on the new enterprise tier. '.repeat(430)
  const tokens = new Tiktoken(o200k).encode(prompt, [], []).length
  const input = { prompt: [{ role: 'user', content: [{ type: 'text', text: prompt }] }] }

  async function settled(reportedInput: number) {
    const ks = createKillSwitch({ runaway: false })
    const agent = await ks.agents.create({ handle: 'gpt', spendingCap: 10 })
    const guard = ks.guard(agent.credential)
    const ticket = await guard.beforeModelCall({ model: 'gpt-4o', provider: 'openai', input })
    await guard.afterModelCall(ticket, { usage: { inputTokens: reportedInput, outputTokens: 5 } })
    return (await ks.audit('gpt')).at(-1)?.data as { basis: string; inputTokens: number }
  }

  it.each([
    ['its bytes / 16 and a little', Math.ceil(Buffer.byteLength(prompt) / 16) + 8],
    ['four fifths of its tokens', Math.floor(tokens * 0.8)],
  ])(
    'is not believed reporting %s: settled at least at the text it was sent',
    async (_, report) => {
      const data = await settled(report)
      expect(data.basis).toBe('counted')
      expect(data.inputTokens).toBeGreaterThanOrEqual(tokens)
    },
  )

  it("judges an embedding's input by its tokenizer too (its whole bill is its input)", async () => {
    const ks = createKillSwitch({ runaway: false })
    const agent = await ks.agents.create({ handle: 'emb', spendingCap: 10 })
    const guard = ks.guard(agent.credential)
    const texts = [prompt.slice(0, 14_000), prompt.slice(14_000)]
    const ticket = await guard.beforeModelCall({
      model: 'text-embedding-3-small',
      provider: 'openai',
      input: texts,
      inputOnly: true,
    })
    const report = Math.ceil(Buffer.byteLength(prompt) / 16) + 8
    await guard.afterModelCall(ticket, { usage: { inputTokens: report, outputTokens: 0 } })
    const data = (await ks.audit('emb')).at(-1)?.data as { basis: string; inputTokens: number }
    expect(data.basis).toBe('counted')
    expect(data.inputTokens).toBeGreaterThanOrEqual(tokens * 0.9)
  })

  it("bounds each of an embedding batch's values by the window, not the batch", async () => {
    // 300 values of about 100 tokens: 30,000 tokens, far past half of one value's window
    // (4,096 for text-embedding-3-small), which floored the whole batch before.
    const ks = createKillSwitch({ runaway: false })
    const agent = await ks.agents.create({ handle: 'batch', spendingCap: 10 })
    const guard = ks.guard(agent.credential)
    const values = Array.from({ length: 300 }, (_, i) => `${i}: ${prompt.slice(0, 480)}`)
    const ticket = await guard.beforeModelCall({
      model: 'text-embedding-3-small',
      provider: 'openai',
      input: values,
      inputOnly: true,
    })
    await guard.afterModelCall(ticket, { usage: { inputTokens: 4_096, outputTokens: 0 } })
    const data = (await ks.audit('batch')).at(-1)?.data as { basis: string; inputTokens: number }
    expect(data.basis).toBe('counted')
    expect(data.inputTokens).toBeGreaterThan(25_000)
  })

  it('leaves reasoning carried in a history out of the floor (the client does not send it)', async () => {
    const ks = createKillSwitch({ runaway: false })
    const agent = await ks.agents.create({ handle: 'history', spendingCap: 10 })
    const guard = ks.guard(agent.credential)
    const history = {
      prompt: [
        { role: 'user', content: [{ type: 'text', text: 'Plan the migration.' }] },
        {
          role: 'assistant',
          content: [
            { type: 'reasoning', text: prompt },
            { type: 'text', text: 'Move the tables one by one.' },
          ],
        },
        { role: 'user', content: [{ type: 'text', text: 'Go on.' }] },
      ],
    }
    const ticket = await guard.beforeModelCall({
      model: 'gpt-4o',
      provider: 'openai',
      input: history,
    })
    // What OpenAI bills when the reasoning is not sent: the three texts and the template.
    await guard.afterModelCall(ticket, { usage: { inputTokens: 30, outputTokens: 5 } })
    const data = (await ks.audit('history')).at(-1)?.data as { basis: string; inputTokens: number }
    expect(data).toMatchObject({ basis: 'usage', inputTokens: 30 })
  })

  it.each([
    [
      "a system message the client drops (systemMessageMode: 'remove')",
      {
        prompt: [
          { role: 'system', content: prompt },
          { role: 'user', content: [{ type: 'text', text: 'Go on.' }] },
        ],
        options: { openai: { systemMessageMode: 'remove' } },
      },
    ],
    [
      'stored metadata named like text',
      {
        prompt: [{ role: 'user', content: [{ type: 'text', text: 'Go on.' }] }],
        options: { openai: { metadata: { prompt: prompt.slice(0, 500), input: 'x'.repeat(500) } } },
      },
    ],
    [
      "a request the provider may truncate (truncation: 'auto')",
      {
        prompt: [
          { role: 'user', content: [{ type: 'text', text: prompt }] },
          { role: 'user', content: [{ type: 'text', text: 'Go on.' }] },
        ],
        options: { openai: { truncation: 'auto' } },
      },
    ],
  ])('believes an honest report below text the provider never bills: %s', async (_, input) => {
    const ks = createKillSwitch({ runaway: false })
    const agent = await ks.agents.create({ handle: 'unbilled', spendingCap: 10 })
    const guard = ks.guard(agent.credential)
    const ticket = await guard.beforeModelCall({ model: 'gpt-4o', provider: 'openai', input })
    await guard.afterModelCall(ticket, { usage: { inputTokens: 12, outputTokens: 5 } })
    const data = (await ks.audit('unbilled')).at(-1)?.data
    expect(data).toMatchObject({ basis: 'usage', inputTokens: 12 })
  })

  it("charges input it does not believe at most the model's window, however long the request", async () => {
    const ks = createKillSwitch({ runaway: false })
    const agent = await ks.agents.create({ handle: 'long', spendingCap: 100 })
    const guard = ks.guard(agent.credential)
    const long = { prompt: [{ role: 'user', content: prompt.repeat(30) }] }
    const ticket = await guard.beforeModelCall({ model: 'gpt-4o', provider: 'openai', input: long })
    await guard.afterModelCall(ticket, { usage: { inputTokens: 1, outputTokens: 5 } })
    const data = (await ks.audit('long')).at(-1)?.data as { basis: string; inputTokens: number }
    // Not believed (1 token for 840,000 bytes), charged its bound, at most gpt-4o's window.
    // (Held whole: a window the price data has too small must not let a call pass the cap.)
    expect(data).toMatchObject({ basis: 'counted', inputTokens: 128_000 })
  })

  // Red team rt40: a usage of 1e15 tokens made the ledger refuse the settlement, and the call
  // stayed held until its lease lapsed. Usage above the bound is believed (the price data's
  // window may be too small: a bill past it is real), up to what the ledger can record.
  it("records usage past the ledger's most at its most, stopping the agent", async () => {
    const ks = createKillSwitch({ runaway: false, prices })
    const agent = await ks.agents.create({ handle: 'lied-to', spendingCap: 1 })
    const guard = ks.guard(agent.credential)
    const test = await guard.beforeModelCall({ ...call, maxOutputTokens: 10 })
    await guard.afterModelCall(test, { usage: { inputTokens: 1e15, outputTokens: 5 } })
    expect(await ks.agents.get('lied-to')).toMatchObject({ spent: expect.any(Number), held: 0 })
    expect((await ks.agents.get('lied-to')).spent).toBeGreaterThan(1e8)
  })

  it('believes the honest count, and one a little under it', async () => {
    expect(await settled(tokens)).toMatchObject({ basis: 'usage', inputTokens: tokens })
    const under = Math.ceil(tokens * 0.95)
    expect(await settled(under)).toMatchObject({ basis: 'usage', inputTokens: under })
  })
})

describe('every ending, one rule', () => {
  it('releases a call that never left, in full', async () => {
    const { ks, guard } = await setup(1)
    const ticket = await guard.beforeModelCall({ ...call, maxOutputTokens: 1_000 })
    await guard.failModelCall(ticket, new TypeError('cannot serialise the prompt'), { sent: false })
    expect(await ks.agents.get('agent')).toMatchObject({ spent: 0, held: 0 })
    expect((await ks.audit('agent')).at(-1)).toMatchObject({ type: 'released' })
  })

  it.each([
    ['a provider error', new Error('upstream 502')],
    ['a consumer that stopped reading', new DOMException('cancelled', 'AbortError')],
  ])('settles the input bound and the counted output after %s', async (_, error) => {
    const { ks, guard } = await setup(1)
    const ticket = await guard.beforeModelCall({ ...call, maxOutputTokens: 1_000 })
    guard.onOutputDelta(ticket, { text: 'z'.repeat(700) })
    await guard.failModelCall(ticket, error)
    // 164 input-bound tokens + 700 counted output tokens.
    expect(await ks.agents.get('agent')).toMatchObject({ spent: 0.000864, held: 0 })
  })

  // What the provider did after the kill switch stopped it is unknown: one that ignores its
  // abort goes on to the limit it was told (red team r20: 19% of the bill recorded).
  it.each([
    ['revocation mid-call', new AgentRevokedError({ handle: 'agent' })],
    [
      'the cap reached mid-stream',
      new SpendingCapExceededError({
        handle: 'agent',
        spendingCapUsd: 1,
        spentUsd: 0,
        heldUsd: 0.006164,
        requestedUsd: 0.006164,
      }),
    ],
  ])('settles what the provider could bill after %s without its usage', async (_, error) => {
    const { ks, guard } = await setup(1)
    const ticket = await guard.beforeModelCall({ ...call, maxOutputTokens: 1_000 })
    guard.onOutputDelta(ticket, { text: 'z'.repeat(700) })
    await guard.failModelCall(ticket, error)
    // 164 input-bound tokens + the 1,000 output tokens the provider was told, not the 700
    // counted, nor the hold's 6 x 1,000 (the count's headroom, which no provider bills).
    expect(ticket.reservedUsd).toBe(0.006164)
    expect(await ks.agents.get('agent')).toMatchObject({ spent: 0.001164, held: 0 })
    expect((await ks.audit('agent')).at(-1)).toMatchObject({
      type: 'settled',
      summary: expect.stringContaining(
        'stopped before the provider reported usage: up to 164 in, 1000 out',
      ),
      data: { basis: 'stopped', streamedTokens: 700 },
    })
  })

  it('settles what was counted when the kill switch stopped a call past its hold', async () => {
    const { ks, guard } = await setup(1)
    const ticket = await guard.beforeModelCall({ ...call, maxOutputTokens: 1_000 })
    // A provider that ignored its limit sent 7,000 bytes in one piece.
    expect(() => guard.onOutputDelta(ticket, { text: 'z'.repeat(7_000) })).toThrow(
      SpendingCapExceededError,
    )
    await guard.failModelCall(ticket, new AgentRevokedError({ handle: 'agent' }))
    expect(await ks.agents.get('agent')).toMatchObject({ spent: 0.007164, held: 0 })
  })

  it('settles the most the call can cost when a call that left shows nothing, as unreconciled', async () => {
    const { ks, guard } = await setup(1)
    const ticket = await guard.beforeModelCall({ ...call, maxOutputTokens: 1_000 })
    await guard.failModelCall(ticket, new Error('socket hang up'))
    // 164 input-bound tokens + the 1,000 output tokens the provider was told: not the hold's
    // 6 x 1,000 counted output tokens, headroom for a count no provider bills (rt32: 5.9x).
    expect(await ks.agents.get('agent')).toMatchObject({
      spent: 0.001164,
      unreconciled: 0.001164,
      held: 0,
    })
    expect(ticket.reservedUsd).toBe(0.006164)
  })

  it('takes the provider usage an adapter has at the failure, when it is believable', async () => {
    const { ks, guard } = await setup(1)
    const ticket = await guard.beforeModelCall({ ...call, maxOutputTokens: 1_000 })
    guard.onOutputDelta(ticket, { text: 'z'.repeat(700) })
    await guard.failModelCall(ticket, new Error('stream reset'), {
      usage: { inputTokens: 30, outputTokens: 200 },
    })
    expect(await ks.agents.get('agent')).toMatchObject({ spent: 0.00023, held: 0 })
  })

  it('ends once: a provider that ignores its abort and reports later changes nothing', async () => {
    const { ks, guard } = await setup(1)
    const ticket = await guard.beforeModelCall({ ...call, maxOutputTokens: 1_000 })
    guard.onOutputDelta(ticket, { text: 'z'.repeat(700) })
    await ks.agents.revoke('agent', { reason: 'operator' })
    expect(() => guard.onOutputDelta(ticket, { text: 'more' })).toThrow(AgentRevokedError)
    await guard.failModelCall(ticket, guard.signal.reason)
    const late = await guard.afterModelCall(ticket, {
      usage: { inputTokens: 30, outputTokens: 10 },
    })
    // Stopped by the revocation: 164 + the 1,000 the provider was told. A later report is
    // not taken.
    expect(late.costUsd).toBe(0.001164)
    expect(await ks.agents.get('agent')).toMatchObject({ spent: 0.001164, held: 0 })
    const settled = (await ks.audit('agent')).filter((entry) => entry.type === 'settled')
    expect(settled).toHaveLength(1)
  })
})

describe('the rule itself', () => {
  const rates = createPriceSource({
    m: { inputPerMTok: 3, outputPerMTok: 15, cacheReadPerMTok: 0.3 },
  }).resolve('m')!
  const count = (value: number) =>
    fc.oneof(
      fc.constant(undefined),
      fc.constantFrom(Number.NaN, -5, 0.5, Number.POSITIVE_INFINITY, -0),
      fc.integer({ min: 0, max: value }),
    )
  const usage = fc.record(
    { inputTokens: count(200_000), outputTokens: count(50_000), cacheReadTokens: count(1_000) },
    { requiredKeys: [] },
  )

  /** An output count of `tokens` so far, against `limit`, for a model of unknown tokenizer. */
  const counted = (tokens: number, limit: number): CallFigures['output'] => ({
    tokens,
    limit,
    uncounted: false,
    add: () => tokens,
    closest: () => tokens,
    floor: () => Math.ceil(tokens / UNKNOWN_TOKENIZER_HEADROOM),
  })

  it('never settles a call that left below what it believably used or streamed, nor above the hold or what streamed on counted figures', () => {
    fc.assert(
      fc.property(
        usage,
        fc.integer({ min: 0, max: 200_000 }),
        fc.integer({ min: 1, max: 10_000 }),
        fc.nat(60_000),
        fc.nat(12_500),
        (reported, inputBound, maxOutput, streamed, textLeast) => {
          const limit = maxOutput * UNKNOWN_TOKENIZER_HEADROOM
          // The least the request's text comes to: its bytes / 16, so within the bound.
          const inputLeast = Math.min(textLeast, Math.floor(inputBound / 16))
          const tokens = Math.min(streamed, limit + 10)
          const holdMicros = costBound(inputBound, limit, rates)
          const figures: CallFigures = {
            rates,
            inputTokens: inputBound,
            inputLeast,
            holdMicros,
            output: counted(tokens, limit),
          }
          expect(costOfEnding({ sent: false }, figures)).toEqual({ action: 'release' })
          const cost = costOfEnding({ sent: true, usage: reported as TokenUsage }, figures)
          if (cost.action !== 'settle') throw new Error('a call that left is settled')
          // Never free when output streamed or nothing is known.
          if (tokens > 0) expect(cost.costMicros).toBeGreaterThan(0)
          // Input below what the request's text comes to is never believed.
          const cachedPart = Number.isSafeInteger(reported.cacheReadTokens)
            ? (reported.cacheReadTokens as number)
            : 0
          if (((reported.inputTokens as number) ?? 0) + Math.max(0, cachedPart) < inputLeast) {
            expect(cost.distrusted).toContain('inputTokens')
          }
          if (cost.basis === 'usage') {
            expect(cost.costMicros).toBe(costOfUsage(reported as TokenUsage, rates))
          } else {
            // The guard's own figures stay within the hold, or what streamed past it...
            const reached = Math.max(limit, tokens)
            if (!Number.isSafeInteger(reported.outputTokens)) {
              const input = reported.inputTokens
              const cached = Number.isSafeInteger(reported.cacheReadTokens)
                ? Math.max(0, reported.cacheReadTokens as number)
                : 0
              const believed =
                Number.isSafeInteger(input) && (input as number) > 0
                  ? Math.max(input as number, cached)
                  : 0
              expect(cost.costMicros).toBeLessThanOrEqual(
                Math.max(
                  costBound(inputBound, reached, rates),
                  costBound(believed as number, reached, rates),
                ),
              )
            }
            // ...and, its output usage not believed, never below what streamed (a provider
            // past its limit billed it all)...
            if (cost.distrusted.includes('outputTokens')) {
              expect(cost.outputTokens).toBeGreaterThanOrEqual(tokens)
            }
            // ...nor a believable part of the usage.
            const out = reported.outputTokens
            if (Number.isSafeInteger(out) && (out as number) >= 0) {
              expect(cost.outputTokens).toBeGreaterThanOrEqual(out as number)
            }
          }
        },
      ),
      { numRuns: 2_000 },
    )
  })

  it('charges a call the kill switch stopped at least what its provider could bill, never past the hold but for what streamed', () => {
    fc.assert(
      fc.property(
        usage,
        fc.integer({ min: 0, max: 200_000 }),
        fc.integer({ min: 1, max: 10_000 }),
        fc.nat(70_000),
        (reported, inputBound, told, streamed) => {
          const limit = told * UNKNOWN_TOKENIZER_HEADROOM
          const tokens = Math.min(streamed, limit + 10)
          const figures: CallFigures = {
            rates,
            inputTokens: inputBound,
            inputLeast: 0,
            holdMicros: costBound(inputBound, limit, rates),
            providerMaxOutputTokens: told,
            output: counted(tokens, limit),
          }
          const end = { sent: true, usage: reported as TokenUsage, stoppedByGuard: true } as const
          const cost = costOfEnding(end, figures)
          if (cost.action !== 'settle') throw new Error('a call that left is settled')
          if (cost.basis === 'usage') return
          // What an honest provider told `told` tokens bills at most, whatever it did after
          // the stop: never recorded below it.
          expect(cost.costMicros).toBeGreaterThanOrEqual(costBound(inputBound, told, rates))
          // Past the hold only for what streamed past it (or usage above it, believed).
          const usageReported =
            Number.isSafeInteger(reported.inputTokens) ||
            Number.isSafeInteger(reported.outputTokens)
          if (tokens <= limit && !usageReported) {
            expect(cost.costMicros).toBeLessThanOrEqual(figures.holdMicros)
          }
        },
      ),
      { numRuns: 2_000 },
    )
  })
})

describe('input parts the request cannot size', () => {
  it('keeps ten concurrent calls with a PDF by URL under a $0.50 cap, billed 150,000 input tokens each', async () => {
    const ks = createKillSwitch({ runaway: false })
    const agent = await ks.agents.create({ handle: 'reader', spendingCap: 0.5 })
    const guard = ks.guard(agent.credential)
    const input = [
      {
        role: 'user',
        content: [
          { type: 'text', text: 'Summarise the report.' },
          {
            type: 'file',
            data: new URL('https://example.com/report.pdf'),
            mediaType: 'application/pdf',
          },
        ],
      },
    ]
    // A fake provider that keeps its own bill: 150,000 input and 500 output tokens a call.
    let billedMicros = 0
    const results = await Promise.allSettled(
      Array.from({ length: 10 }, async () => {
        const ticket = await guard.beforeModelCall({
          model: 'gpt-4o',
          provider: 'openai',
          input,
          maxOutputTokens: 500,
        })
        const usage = { inputTokens: 150_000, outputTokens: 500 }
        billedMicros += costOfUsage(usage, createPriceSource().resolve('gpt-4o', 'openai')!)
        await guard.afterModelCall(ticket, { usage })
      }),
    )
    const state = await ks.agents.get('reader')
    expect(state.spent).toBeLessThanOrEqual(0.5)
    expect(state.spent).toBe(billedMicros / 1_000_000)
    expect(state.held).toBe(0)
    // The 128k context window bounds the PDF: $0.32 of input a call, one at a time fits.
    expect(results.filter((result) => result.status === 'fulfilled')).toHaveLength(1)
  })

  it('refuses an image by URL to gpt-4o on a $0.002 cap before anything is spent', async () => {
    const ks = createKillSwitch({ runaway: false })
    const agent = await ks.agents.create({ handle: 'viewer', spendingCap: 0.002 })
    const guard = ks.guard(agent.credential)
    const input = [
      { role: 'user', content: [{ type: 'image', image: new URL('https://example.com/a.png') }] },
    ]
    await expect(
      guard.beforeModelCall({ model: 'gpt-4o', provider: 'openai', input }),
    ).rejects.toBeInstanceOf(SpendingCapExceededError)
    expect(await ks.agents.get('viewer')).toMatchObject({ spent: 0, held: 0 })
  })
})

describe('revocation reaches a guard that never made a call', () => {
  const tick = () => new Promise((resolve) => setImmediate(resolve))

  it('aborts the signal of a guard made before the revocation', async () => {
    const { ks, agent } = await setup(1)
    const guard = ks.guard(agent.credential)
    await ks.agents.revoke('agent')
    await tick()
    expect(guard.signal.aborted).toBe(true)
    expect(guard.signal.reason).toBeInstanceOf(AgentRevokedError)
  })

  it('aborts the signal of a guard made after the revocation, without a call', async () => {
    const { ks, agent } = await setup(1)
    await ks.agents.revoke('agent', { reason: 'done' })
    const fresh = createKillSwitch({ store: ks.store, prices })
    const guard = fresh.guard(agent.credential)
    await tick()
    expect(guard.signal.aborted).toBe(true)
    expect(guard.signal.reason).toMatchObject({ handle: 'agent', reason: 'done' })
  })
})

describe('runaway detection sees only admitted calls', () => {
  it('does not feed a call refused for the cap to the monitor', async () => {
    const seen: Observation['kind'][] = []
    const monitor: RunawayMonitor = {
      observe: async (_agent, observation) => {
        seen.push(observation.kind)
        return { action: 'none', enforced: true }
      },
    }
    const { guard } = await setup(0.0002, { runaway: monitor })
    const held = await guard.beforeModelCall({ ...call, maxOutputTokens: 10 })
    for (let i = 0; i < 5; i++) {
      await expect(guard.beforeModelCall({ ...call, maxOutputTokens: 10 })).rejects.toBeInstanceOf(
        SpendingCapExceededError,
      )
      await expect(
        guard.beforeToolCall({ name: 'search', args: { i }, priceUsd: 0.001 }),
      ).rejects.toBeInstanceOf(SpendingCapExceededError)
    }
    await guard.afterModelCall(held, { usage: { inputTokens: 10, outputTokens: 10 } })
    expect(seen).toEqual(['model_call', 'model_result'])
  })

  it('releases the hold of a call the monitor refuses (it never left)', async () => {
    const monitor: RunawayMonitor = {
      observe: async (_agent, observation) =>
        observation.kind === 'model_call'
          ? {
              action: 'block',
              enforced: true,
              finding: { detector: 'call-rate', status: 'trip', summary: 'too fast' },
            }
          : { action: 'none', enforced: true },
    }
    const { ks, guard } = await setup(1, { runaway: monitor })
    await expect(guard.beforeModelCall(call)).rejects.toMatchObject({ code: 'runaway_detected' })
    expect(await ks.agents.get('agent')).toMatchObject({ spent: 0, held: 0 })
  })
})

describe('hold leases', () => {
  afterEach(() => {
    vi.useRealTimers()
  })

  it('renews a live call past its TTL and stops renewing when it ends', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] })
    let now = 1_000_000
    const { ks, guard } = await setup(1, { holdTtlMs: 60_000, now: () => now })
    const ticket = await guard.beforeModelCall({ ...call, maxOutputTokens: 100 })
    for (let step = 0; step < 6; step++) {
      now += 20_000
      vi.advanceTimersByTime(20_000)
      await new Promise((resolve) => setImmediate(resolve))
    }
    // Two minutes in: the call still holds its bound, nothing lapsed.
    expect(await ks.agents.get('agent')).toMatchObject({
      held: ticket.reservedUsd,
      spent: 0,
      unreconciled: 0,
    })
    await guard.afterModelCall(ticket, { usage: { inputTokens: 10, outputTokens: 10 } })
    // Nothing left to renew: the book's timer stops at its next tick.
    vi.advanceTimersByTime(20_000)
    expect(vi.getTimerCount()).toBe(0)
    expect(await ks.agents.get('agent')).toMatchObject({ held: 0, spent: 0.00002 })
  })

  it('keeps a spend of unknown outcome held until its deadline, then charges it', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] })
    let now = 1_000_000
    const { ks, guard } = await setup(1, { holdTtlMs: 60_000, now: () => now })
    const spend = await guard.reserveSpend({ amountUsd: 0.05, kind: 'payment', description: 'x' })
    await guard.markSpendUnknown(spend, { holdUntil: now + 600_000, reason: 'no answer' })
    // No longer renewed: the book's timer stops at its next tick.
    vi.advanceTimersByTime(20_000)
    expect(vi.getTimerCount()).toBe(0)
    now += 300_000
    expect(await ks.agents.get('agent')).toMatchObject({ held: 0.05, spent: 0 })
    now += 300_001
    expect(await ks.agents.get('agent')).toMatchObject({ held: 0, spent: 0.05, unreconciled: 0.05 })
  })
})

describe('a model whose tokenizer is known (gpt-4o)', () => {
  const text =
    'Quarterly revenue grew 12% to $4.2M; 北京 and São Paulo led. 👍 Next: hire 3 engineers. '.repeat(
      8,
    )

  it('never cuts an honest stream within its max, stops one past it, settles to the micro-dollar', async () => {
    const encoder = new Tiktoken(o200k)
    const deltas = encoder.encode(text, [], []).map((token) => encoder.decode([token]))
    const clean = deltas.filter((delta) => !delta.includes('\uFFFD'))
    const ks = createKillSwitch({ runaway: false })
    const agent = await ks.agents.create({ handle: 'gpt', spendingCap: 1 })
    const guard = ks.guard(agent.credential)
    const rates = createPriceSource().resolve('gpt-4o', 'openai')!
    const max = 40
    const request = { model: 'gpt-4o', provider: 'openai', input: 'Report.', maxOutputTokens: max }

    const honest = await guard.beforeModelCall(request)
    // The hold covers the max output tokens themselves: no headroom for a known tokenizer.
    expect(honest.reservedUsd * 1e6).toBe(costBound(inputBound('Report.'), max, rates))
    for (const delta of clean.slice(0, max)) guard.onOutputDelta(honest, { text: delta })
    const usage = { inputTokens: 12, outputTokens: max }
    await guard.afterModelCall(honest, { usage })
    expect(Math.round((await ks.agents.get('gpt')).spent * 1e6)).toBe(costOfUsage(usage, rates))

    const runaway = await guard.beforeModelCall(request)
    let passed = 0
    const stop = () => {
      for (const delta of clean) {
        guard.onOutputDelta(runaway, { text: delta })
        passed++
      }
    }
    expect(stop).toThrow(SpendingCapExceededError)
    expect(passed).toBe(max)
    await guard.failModelCall(runaway, new Error('cut'))
    const state = await ks.agents.get('gpt')
    expect(state.held).toBe(0)
    // Charged what streamed: the hold's tokens and the one past it that tripped the stop
    // (the provider sent it, so it bills it).
    expect(Math.round(state.spent * 1e6)).toBe(
      costOfUsage(usage, rates) + costBound(inputBound('Report.'), max + 1, rates),
    )
  })

  it('charges a stream left early, far from its limit, the tokens it streamed, not its bytes', async () => {
    const encoder = new Tiktoken(o200k)
    const deltas = encoder.encode(text, [], []).map((token) => encoder.decode([token]))
    const clean = deltas.filter((delta) => !delta.includes('\uFFFD')).slice(0, 150)
    const ks = createKillSwitch({ runaway: false })
    const agent = await ks.agents.create({ handle: 'gpt', spendingCap: 1 })
    const guard = ks.guard(agent.credential)
    const rates = createPriceSource().resolve('gpt-4o', 'openai')!
    const request = { model: 'gpt-4o', provider: 'openai', input: 'Report.' }
    const left = await guard.beforeModelCall({ ...request, maxOutputTokens: 4_096 })
    for (const delta of clean) guard.onOutputDelta(left, { text: delta })
    // The consumer broke out: aborted before the provider's usage came.
    await guard.failModelCall(left, new DOMException('aborted', 'AbortError'))
    const bytes = clean.reduce((sum, delta) => sum + Buffer.byteLength(delta), 0)
    expect(bytes).toBeGreaterThan(2.5 * clean.length)
    expect(Math.round((await ks.agents.get('gpt')).spent * 1e6)).toBe(
      costBound(inputBound('Report.'), clean.length, rates),
    )
    expect((await ks.audit('gpt')).at(-1)).toMatchObject({
      type: 'settled',
      data: { basis: 'counted', outputTokens: clean.length },
    })
  })
})

describe('a provider that under-reports its output, far from the limit (gpt-4o)', () => {
  // English streams about 4.5 bytes a token: a report of its bytes/11 (red team r13) clears
  // bytes/12 (the densest an honest token gets, in Russian) yet is plainly false for this text.
  const text = 'The quick brown fox jumps over the lazy dog and keeps running. '.repeat(20)

  /** Streams `text` token by token, reports `outputTokens(tokens)`; what was spent, and how. */
  async function reporting(outputTokens: (streamed: number) => number, streamedText = text) {
    const encoder = new Tiktoken(o200k)
    const deltas = encoder.encode(streamedText, [], []).map((token) => encoder.decode([token]))
    const ks = createKillSwitch({ runaway: false })
    const agent = await ks.agents.create({ handle: 'gpt', spendingCap: 1 })
    const guard = ks.guard(agent.credential)
    const ticket = await guard.beforeModelCall({
      model: 'gpt-4o',
      provider: 'openai',
      input: 'Go.',
      maxOutputTokens: 100_000,
    })
    for (const delta of deltas) guard.onOutputDelta(ticket, { text: delta })
    const reported = outputTokens(deltas.length)
    await guard.afterModelCall(ticket, { usage: { inputTokens: 9, outputTokens: reported } })
    const rates = createPriceSource().resolve('gpt-4o', 'openai')!
    return {
      streamed: deltas.length,
      reported,
      spent: Math.round((await ks.agents.get('gpt')).spent * 1e6),
      costOf: (output: number) => costOfUsage({ inputTokens: 9, outputTokens: output }, rates),
      settled: (await ks.audit('gpt')).at(-1),
    }
  }

  it.each([
    ['its bytes / 11', () => Math.ceil(Buffer.byteLength(text) / 11)],
    ['four fifths of its tokens', (tokens: number) => Math.floor(tokens * 0.8)],
  ])('is not believed reporting %s: the tokens streamed are charged', async (_, report) => {
    const { streamed, spent, costOf, settled } = await reporting(report)
    expect(spent).toBe(costOf(streamed))
    expect(settled).toMatchObject({
      type: 'settled',
      data: { basis: 'counted', outputTokens: streamed, usageNotBelieved: ['outputTokens'] },
    })
  })

  it.each([
    ['emoji', '😀👍🏽🤖🎉'.repeat(60)],
    ['punctuation', '!?!?...;;;---'.repeat(40)],
    ['Chinese', '我们今天讨论了项目的进展情况并决定下周继续推进'.repeat(15)],
    ['whitespace', ' \t\u00a0\t \u3000'.repeat(80)],
  ])(
    'is not believed reporting one token for a run of %s (one pre-tokenizer piece)',
    async (_, sample) => {
      const { streamed, spent, costOf, settled } = await reporting(() => 1, sample)
      expect(streamed).toBeGreaterThan(100)
      expect(spent).toBe(costOf(streamed))
      expect(settled).toMatchObject({
        data: { basis: 'counted', usageNotBelieved: ['outputTokens'] },
      })
    },
  )

  it.each([
    ['its real count', (tokens: number) => tokens],
    ['a count a delta boundary shaved', (tokens: number) => Math.ceil(tokens * 0.9)],
  ])('is believed reporting %s', async (_, report) => {
    const { reported, spent, costOf, settled } = await reporting(report)
    expect(spent).toBe(costOf(reported))
    expect(settled).toMatchObject({ type: 'settled', data: { basis: 'usage' } })
  })
})

describe('honest usage in a dense script is believed (red team r15)', () => {
  // About 11 bytes an o200k token: judged by 6 bytes a token, it was charged its bytes.
  const russian =
    'Комитет рассмотрел предложение и согласился финансировать следующий этап. '.repeat(8)

  it('on a call the provider holds to its limit (the callback handler, non-streaming), with the tokenizer', async () => {
    const real = new Tiktoken(o200k).encode(russian, [], []).length
    const { ks, guard } = await setup(1, { prices: {} })
    const request = { model: 'gpt-4o', provider: 'openai', input: 'Summarise.' }
    const ticket = await guard.beforeModelCall({
      ...request,
      maxOutputTokens: 2_000,
      fixedOutput: true,
    })
    await guard.afterModelCall(ticket, {
      usage: { inputTokens: 9, outputTokens: real },
      text: russian,
    })
    expect((await ks.audit('agent')).at(-1)).toMatchObject({
      type: 'settled',
      data: { basis: 'usage', outputTokens: real },
    })
  })

  it('from a model whose tokenizer is not known, streamed', async () => {
    const encoder = new Tiktoken(o200k)
    const { ks, guard } = await setup(1)
    const ticket = await guard.beforeModelCall({ ...call, maxOutputTokens: 4_000 })
    for (const token of encoder.encode(russian, [], [])) {
      guard.onOutputDelta(ticket, { text: encoder.decode([token]) })
    }
    const real = encoder.encode(russian, [], []).length
    await guard.afterModelCall(ticket, { usage: { inputTokens: 100, outputTokens: real } })
    expect((await ks.audit('agent')).at(-1)).toMatchObject({
      type: 'settled',
      data: { basis: 'usage', outputTokens: real },
    })
  })
})

describe('a provider that ignores the limit it is sent', () => {
  it('sending a thousand tokens in one piece, is stopped and charged all it sent, not the hold', async () => {
    const encoder = new Tiktoken(o200k)
    const burst = 'The quarterly numbers are in and revenue grew again. '.repeat(100)
    const sent = encoder.encode(burst, [], []).length
    const ks = createKillSwitch({ runaway: false })
    const agent = await ks.agents.create({ handle: 'burst', spendingCap: 1 })
    const guard = ks.guard(agent.credential)
    const rates = createPriceSource().resolve('gpt-4o', 'openai')!
    const call = await guard.startModelCall({
      model: 'gpt-4o',
      provider: 'openai',
      input: 'Report.',
      maxOutputTokens: 40,
    })
    expect(() => call.output({ text: burst })).toThrow(SpendingCapExceededError)
    await call.fail(new Error('cut'))
    const spent = Math.round((await ks.agents.get('burst')).spent * 1e6)
    // What the provider bills for it (input at its bound), never the 40-token hold.
    expect(spent).toBeGreaterThanOrEqual(costBound(inputBound('Report.'), sent, rates))
    expect(spent).toBeGreaterThan(Math.round(call.ticket.reservedUsd * 1e6))
    const settled = (await ks.audit('burst')).find((entry) => entry.type === 'settled')
    expect(settled?.data).toMatchObject({ basis: 'counted', streamedTokens: sent })
    expect(settled?.data.aboveHold).toBeGreaterThan(0)
    await ks.close()
  })
})

/** The input bound of a prompt given as a string: its UTF-8 bytes and a chat template's tokens. */
function inputBound(text: string): number {
  return Buffer.byteLength(text, 'utf8') + REQUEST_OVERHEAD_TOKENS
}
