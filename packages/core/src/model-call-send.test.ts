// ModelCall.send, checkToolCall and the provider's status read by fail: the parts of the
// lifecycle adapters drive instead of their own copies.
import { describe, expect, it } from 'vitest'
import { AgentRevokedError, RunawayDetectedError } from './errors.js'
import { createKillSwitch } from './kill-switch.js'
import { providerStatusOf } from './provider-status.js'

const prices = { 'test-model': { inputPerMTok: 1, outputPerMTok: 1 } }
// Held: 100 input bytes + 64 chat template tokens (REQUEST_OVERHEAD_TOKENS) + 1,000 output
// tokens counted as bytes with the unknown tokenizer's 6x headroom = 6,164 micro-dollars.
const request = { model: 'test-model', input: 'x'.repeat(100), maxOutputTokens: 1_000 }

async function setup(options: Parameters<typeof createKillSwitch>[0] = {}) {
  const ks = createKillSwitch({ prices, runaway: false, ...options })
  const agent = await ks.agents.create({ handle: 'agent', spendingCap: 1 })
  return { ks, guard: ks.guard(agent.credential) }
}

/** A provider client's error: the OpenAI SDK's `status`, the AI SDK's `statusCode`. */
function httpError(status: number, key: 'status' | 'statusCode' = 'status'): Error {
  return Object.assign(new Error(`${status} from the provider`), { [key]: status })
}

describe('ModelCall.send', () => {
  it('calls the provider once with the clamped limit and the stop signal', async () => {
    const { guard } = await setup()
    const call = await guard.startModelCall(request)
    const seen = await call.send(async (limits) => limits)
    expect(seen.maxOutputTokens).toBe(call.maxOutputTokens)
    expect(seen.signal).toBe(call.signal)
    await expect(call.send(async () => 1)).rejects.toThrow('called once')
  })

  it('never calls a provider of a call revoked since its reserve: released', async () => {
    const { ks, guard } = await setup()
    const call = await guard.startModelCall(request)
    await ks.agents.revoke('agent')
    let called = false
    const error = await call
      .send(async () => {
        called = true
      })
      .catch((reason: unknown) => reason)
    expect(called).toBe(false)
    expect(await call.fail(error)).toBeInstanceOf(AgentRevokedError)
    expect(await ks.agents.get('agent')).toMatchObject({ spent: 0, held: 0 })
  })

  it.each([
    [400, 'status'],
    [401, 'status'],
    [429, 'statusCode'],
    [503, 'statusCode'],
    [529, 'status'],
  ] as const)(
    'releases a call the provider refused with %i before any output',
    async (status, key) => {
      const { ks, guard } = await setup()
      const call = await guard.startModelCall(request)
      const error = await call.send(() => Promise.reject(httpError(status, key))).catch((e) => e)
      expect(await call.fail(error)).toBe(error)
      expect(await ks.agents.get('agent')).toMatchObject({ spent: 0, held: 0 })
    },
  )

  it('charges a 500, and a 4xx after output streamed (work was done)', async () => {
    const { ks, guard } = await setup()
    const failed = await guard.startModelCall(request)
    const error = await failed.send(() => Promise.reject(httpError(500))).catch((e) => e)
    await failed.fail(error)
    // Nothing known of what it used: the most it can cost (100 input bytes + 64 template
    // tokens + the 1,000 output tokens the provider was told), not the whole hold (the
    // unknown tokenizer's 6x headroom for counting output as bytes).
    expect((await ks.agents.get('agent')).spent).toBe(0.001164)
    expect(failed.ticket.reservedUsd).toBe(0.006164)
    const streamed = await guard.startModelCall(request)
    streamed.output({ text: 'y'.repeat(50) })
    await streamed.fail(Object.assign(new Error('cut'), { cause: httpError(429) }))
    // Plus its input bound (164) and the 50 bytes it streamed.
    expect(await ks.agents.get('agent')).toMatchObject({ spent: 0.001378, held: 0 })
  })
})

describe('providerStatusOf', () => {
  it('reads status or statusCode, on the error or a cause, never a kill switch error', () => {
    expect(providerStatusOf(httpError(429))).toBe(429)
    expect(providerStatusOf(new Error('wrapped', { cause: httpError(400, 'statusCode') }))).toBe(
      400,
    )
    expect(providerStatusOf(new AgentRevokedError())).toBeUndefined()
    expect(providerStatusOf(Object.assign(new Error('odd'), { status: 'bad' }))).toBeUndefined()
    expect(providerStatusOf('text')).toBeUndefined()
  })
})

describe('ModelCall.checkToolCall', () => {
  it('checks without holding a price, and refuses once the agent is revoked', async () => {
    const { ks, guard } = await setup({ toolPrices: { search: 0.5 } })
    const call = await guard.startModelCall(request)
    await call.checkToolCall({ name: 'search', args: { q: 'a' } })
    // The model asked for it: nothing is held for the tool until it runs.
    expect((await ks.agents.get('agent')).held).toBe(0.006164)
    await ks.agents.revoke('agent')
    await expect(call.checkToolCall({ name: 'search', args: { q: 'b' } })).rejects.toBeInstanceOf(
      AgentRevokedError,
    )
    expect(call.signal.aborted).toBe(true)
  })

  it('shows the runaway finding, not the revocation it caused', async () => {
    const ks = createKillSwitch({ prices })
    const agent = await ks.agents.create({
      handle: 'looper',
      spendingCap: 1,
      runaway: { repeatedToolCall: { warnAt: 2, tripAt: 3, action: 'revoke' } },
    })
    const guard = ks.guard(agent.credential)
    // The same call, run to its result twice: the third identical request is the loop.
    for (let i = 0; i < 2; i++) {
      await guard.runToolCall({ name: 'fetch', args: { url: 'same' } }, () => 'same page')
    }
    const call = await guard.startModelCall(request)
    const shown = await call.checkToolCall({ name: 'fetch', args: { url: 'same' } }).then(
      () => undefined,
      (error: unknown) => error,
    )
    expect(shown).toBeInstanceOf(RunawayDetectedError)
    expect(await call.fail(new DOMException('aborted', 'AbortError'))).toBe(shown)
  })
})

describe('tool prices, configured once', () => {
  it('a price set on the kill switch is held by every guard; a guard may add its own', async () => {
    const { ks, guard } = await setup({ toolPrices: { search: 0.02 } })
    await guard.runToolCall({ name: 'search', args: {} }, async () => {
      expect((await ks.agents.get('agent')).held).toBe(0.02)
    })
    const other = await ks.agents.create({ handle: 'other', spendingCap: 1 })
    const priced = ks.guard(other.credential, { toolPrices: { scrape: 0.1 } })
    await priced.runToolCall({ name: 'scrape', args: {} }, () => 'ok')
    await priced.runToolCall({ name: 'search', args: {} }, () => 'ok')
    await priced.runToolCall({ name: 'free', args: {} }, () => 'ok')
    // A tool whose name is also an Object.prototype key is free, not a bad price.
    await priced.runToolCall({ name: 'toString', args: {} }, () => 'ok')
    expect(await ks.agents.get('other')).toMatchObject({ spent: 0.12, held: 0 })
  })

  it('meter: false holds nothing; observe: false holds the price without a second observation', async () => {
    const { ks, guard } = await setup({ toolPrices: { search: 0.02 } })
    const checked = await guard.beforeToolCall({ name: 'search', args: {}, meter: false })
    expect(checked.priceUsd).toBe(0)
    await guard.afterToolCall(checked, { ok: true })
    await guard.runToolCall({ name: 'search', args: {}, observe: false }, () => 'ok')
    expect(await ks.agents.get('agent')).toMatchObject({ spent: 0.02, held: 0 })
  })

  it('refuses a bad price where it is configured, naming the field', () => {
    expect(() => createKillSwitch({ toolPrices: { search: -1 } })).toThrow(/toolPrices.search/)
    const ks = createKillSwitch()
    expect(() => ks.guard('ks_x', { toolPrices: { search: Number.NaN } })).toThrow(
      /toolPrices.search/,
    )
  })
})
