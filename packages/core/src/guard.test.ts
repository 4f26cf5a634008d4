import { describe, expect, it } from 'vitest'
import type { AlertDispatcher } from './alerting.js'
import type { AlertEvent } from './alerts/alert-event.js'
import {
  AgentRevokedError,
  InvalidConfigError,
  RunawayDetectedError,
  SpendingCapExceededError,
  StoreUnavailableError,
  UnknownModelPriceError,
} from './errors.js'
import { createKillSwitch, type KillSwitchOptions } from './kill-switch.js'
import type { RunawayMonitor, RunawayVerdict } from './runaway/types.js'
import { memoryStore } from './stores/memory-store.js'

// $1 per million tokens in and out: one token costs one micro-dollar. Its tokenizer is not
// known, so its hold covers UNKNOWN_TOKENIZER_HEADROOM (6) counted tokens (UTF-8 bytes) per
// output token.
const prices = { 'test-model': { inputPerMTok: 1, outputPerMTok: 1 } }

async function setup(cap: number, options: KillSwitchOptions = {}) {
  const ks = createKillSwitch({ prices, ...options })
  const agent = await ks.agents.create({ handle: 'agent', spendingCap: cap })
  return { ks, agent, guard: ks.guard(agent.credential) }
}

// Its input bound: 100 bytes + REQUEST_OVERHEAD_TOKENS (64) chat template tokens = 164
// micro-dollars.
const call = { model: 'test-model', input: 'x'.repeat(100) }

describe('guard: model calls', () => {
  it('holds the bound, settles the real cost and releases the rest', async () => {
    const { ks, guard } = await setup(1)
    const ticket = await guard.beforeModelCall({ ...call, maxOutputTokens: 1_000 })
    // 100 input bytes + 64 template tokens + 6 x 1,000 counted output tokens.
    expect(ticket).toMatchObject({ handle: 'agent', maxOutputTokens: 1_000, reservedUsd: 0.006164 })
    expect(await ks.agents.get('agent')).toMatchObject({ held: 0.006164, spent: 0 })
    const settled = await guard.afterModelCall(ticket, {
      usage: { inputTokens: 40, outputTokens: 60 },
    })
    expect(settled).toEqual({ costUsd: 0.0001, spentUsd: 0.0001, availableUsd: 0.9999 })
    expect(await ks.agents.get('agent')).toMatchObject({ held: 0, spent: 0.0001 })
    const audit = await ks.audit('agent')
    expect(audit.map((entry) => entry.type)).toEqual(['created', 'hold', 'settled'])
    expect(audit[2]?.data).toMatchObject({
      model: 'test-model',
      inputTokens: 40,
      outputTokens: 60,
      cost: 0.0001,
    })
    // Settling twice changes nothing.
    await guard.afterModelCall(ticket, { usage: { inputTokens: 40, outputTokens: 60 } })
    expect((await ks.agents.get('agent')).spent).toBe(0.0001)
  })

  it('clamps max output tokens to what the budget pays for and keeps a smaller one', async () => {
    const { guard } = await setup(0.0005)
    const clamped = await guard.beforeModelCall({ ...call })
    // $0.0005 = 500 micro-dollars: 164 for the input bound, 336 counted output tokens, so
    // 56 output tokens for the provider.
    expect(clamped.maxOutputTokens).toBe(56)
    await guard.failModelCall(clamped, new Error('not sent'), { sent: false })
    const kept = await guard.beforeModelCall({ ...call, maxOutputTokens: 50 })
    expect(kept.maxOutputTokens).toBe(50)
  })

  it('uses the default max output tokens when the caller sets none', async () => {
    const { guard } = await setup(100, { defaultMaxOutputTokens: 777 })
    expect((await guard.beforeModelCall(call)).maxOutputTokens).toBe(777)
  })

  it('refuses a call the budget cannot pay for, before anything is spent', async () => {
    const { ks, guard } = await setup(0.000214)
    // 214 micro-dollars: the 164-token input bound fits, 8 output tokens (48 counted) fit.
    const ticket = await guard.beforeModelCall(call)
    expect(ticket.maxOutputTokens).toBe(8)
    // It spends all of it: nothing is left for the next call.
    await guard.afterModelCall(ticket, { usage: { inputTokens: 164, outputTokens: 50 } })
    const denied: string[] = []
    ks.on('denied', (event) => denied.push(event.rule))
    await expect(guard.beforeModelCall(call)).rejects.toBeInstanceOf(SpendingCapExceededError)
    expect(denied).toEqual(['spending_cap'])
    expect((await ks.audit('agent')).at(-1)).toMatchObject({
      type: 'denied',
      data: { rule: 'spending_cap' },
    })
  })

  it('denies everything on a $0 cap, even a free model', async () => {
    const ks = createKillSwitch({ prices: { free: { inputPerMTok: 0, outputPerMTok: 0 } } })
    const agent = await ks.agents.create({ handle: 'zero', spendingCap: 0 })
    await expect(
      ks.guard(agent.credential).beforeModelCall({ model: 'free', input: 'hi' }),
    ).rejects.toBeInstanceOf(SpendingCapExceededError)
  })

  it('refuses an unknown model with the fix in the message, never pricing it at zero', async () => {
    const { ks, guard } = await setup(10)
    const error = await guard
      .beforeModelCall({ model: 'mystery-model', input: 'hi' })
      .catch((caught) => caught)
    expect(error).toBeInstanceOf(UnknownModelPriceError)
    expect(error.message).toContain("prices: { 'mystery-model'")
    expect((await ks.agents.get('agent')).held).toBe(0)
  })

  it('settles the most the call can cost when the provider reports no usage', async () => {
    const { ks, guard } = await setup(1)
    const ticket = await guard.beforeModelCall({ ...call, maxOutputTokens: 900 })
    await guard.afterModelCall(ticket, {})
    // 164 for the input bound + the 900 output tokens the provider was told.
    expect(await ks.agents.get('agent')).toMatchObject({ spent: 0.001064, held: 0 })
  })

  it('refuses every call once the cap is lowered below what is spent', async () => {
    const { ks, guard } = await setup(1)
    const ticket = await guard.beforeModelCall({ ...call, maxOutputTokens: 10_000 })
    await guard.afterModelCall(ticket, { usage: { inputTokens: 5_000, outputTokens: 5_000 } })
    await ks.agents.update('agent', { spendingCap: 0.005 })
    await expect(guard.beforeModelCall(call)).rejects.toBeInstanceOf(SpendingCapExceededError)
    await expect(
      guard.reserveSpend({ amountUsd: 0.000001, kind: 'payment', description: 'x' }),
    ).rejects.toBeInstanceOf(SpendingCapExceededError)
  })
})

describe('guard: preflight check', () => {
  it('refuses an exhausted budget only when asked, from a fresh read of the store', async () => {
    const { ks, guard } = await setup(0.0002)
    expect(await guard.check({ requireBudget: true })).toBe('agent')
    const ticket = await guard.beforeModelCall({ ...call, maxOutputTokens: 100 })
    await guard.afterModelCall(ticket, { usage: { inputTokens: 100, outputTokens: 100 } })
    expect(await guard.check()).toBe('agent')
    const error = await guard.check({ requireBudget: true }).catch((caught) => caught)
    expect(error).toBeInstanceOf(SpendingCapExceededError)
    expect(error.message).toContain('$0 available')
    await ks.agents.update('agent', { spendingCap: 1 })
    expect(await guard.check({ requireBudget: true })).toBe('agent')
  })

  it('names the least a refused call needs, not the default output bound', async () => {
    const { guard } = await setup(0.00005)
    // 50 micro-dollars left; the 100-byte prompt alone needs 164 (64 of them its template),
    // plus 1 output token (6 counted).
    const error = await guard.beforeModelCall(call).catch((caught) => caught)
    expect(error).toBeInstanceOf(SpendingCapExceededError)
    expect(error).toMatchObject({ requestedUsd: 0.00017 })
    expect(error.message).toContain('needs at least $0.00017.')
  })
})

describe('guard: streaming', () => {
  it('stops a stream that runs past the output it was held for', async () => {
    const { ks, guard } = await setup(1)
    const ticket = await guard.beforeModelCall({ ...call, maxOutputTokens: 10 })
    guard.onOutputDelta(ticket, { tokens: 60 })
    expect(() => guard.onOutputDelta(ticket, { text: 'more' })).toThrow(SpendingCapExceededError)
    await guard.failModelCall(ticket, new Error('stopped'))
    // The request left and streamed past its limit: the input bound and all the counted
    // output, the delta past the limit included (164 + 60 + 4 micro-dollars): it was sent.
    expect(await ks.agents.get('agent')).toMatchObject({ held: 0, spent: 0.000228 })
    // Held: 164 for the input bound + 6 x 10 counted output tokens.
    expect(ticket.reservedUsd).toBe(0.000224)
  })

  it('releases the hold of a call that never left, charges one that left in full', async () => {
    const { ks, guard } = await setup(1)
    const unsent = await guard.beforeModelCall({ ...call, maxOutputTokens: 100 })
    await guard.failModelCall(unsent, new Error('bad request built'), { sent: false })
    expect(await ks.agents.get('agent')).toMatchObject({ spent: 0, held: 0 })
    expect((await ks.audit('agent')).at(-1)).toMatchObject({ type: 'released' })
    // A provider error after the request left: nothing says what it used, so the most it can
    // cost: 164 for the input bound + the 100 output tokens the provider was told.
    const sent = await guard.beforeModelCall({ ...call, maxOutputTokens: 100 })
    await guard.failModelCall(sent, new Error('provider 500'))
    expect(await ks.agents.get('agent')).toMatchObject({ spent: 0.000264, held: 0 })
    expect((await ks.audit('agent')).at(-1)).toMatchObject({
      type: 'settled',
      data: { basis: 'hold', reason: 'provider 500' },
    })
  })
})

describe('guard: revocation', () => {
  it('aborts the signal of every guard of the agent and refuses everything after', async () => {
    const { ks, agent, guard } = await setup(10)
    const other = ks.guard(agent.credential)
    const ticket = await guard.beforeModelCall(call)
    expect(guard.signal.aborted).toBe(false)
    await ks.agents.revoke('agent', { reason: 'loop in search tool' })
    expect(guard.signal.aborted).toBe(true)
    expect(other.signal.aborted).toBe(true)
    expect(guard.signal.reason).toBeInstanceOf(AgentRevokedError)
    expect(guard.signal.reason).toMatchObject({ handle: 'agent', reason: 'loop in search tool' })
    expect(() => guard.onOutputDelta(ticket, { text: 'token' })).toThrow(AgentRevokedError)
    await expect(guard.beforeModelCall(call)).rejects.toBeInstanceOf(AgentRevokedError)
    await expect(other.beforeToolCall({ name: 'search', args: {} })).rejects.toBeInstanceOf(
      AgentRevokedError,
    )
    await expect(
      ks.guard(agent.credential).reserveSpend({ amountUsd: 1, kind: 'payment', description: 'x' }),
    ).rejects.toBeInstanceOf(AgentRevokedError)
    await guard.failModelCall(ticket, guard.signal.reason)
    expect((await ks.agents.get('agent')).held).toBe(0)
  })

  it('refuses a malformed or unknown credential as revoked', async () => {
    const { ks } = await setup(10)
    const malformed = ks.guard('sk-live-123')
    expect(malformed.signal.aborted).toBe(true)
    await expect(malformed.beforeModelCall(call)).rejects.toBeInstanceOf(AgentRevokedError)
    const unknown = ks.guard(`ks_${'A'.repeat(43)}`)
    await expect(unknown.check()).rejects.toBeInstanceOf(AgentRevokedError)
    const error = await unknown.beforeModelCall(call).catch((caught) => caught)
    expect(error.message).not.toContain('AAAA')
  })

  it('stays revoked for a guard made after the revocation', async () => {
    const { ks, agent } = await setup(10)
    await ks.agents.revoke('agent', { reason: 'done' })
    const late = ks.guard(agent.credential)
    await expect(late.check()).rejects.toBeInstanceOf(AgentRevokedError)
    expect(late.signal.aborted).toBe(true)
  })
})

describe('guard: tools and other spend', () => {
  it('holds a paid tool’s price and charges it when it returns or fails after it started; releases one that never started', async () => {
    const { ks, guard } = await setup(0.07)
    const ok = await guard.beforeToolCall({ name: 'search', args: { q: 'a' }, priceUsd: 0.02 })
    expect((await ks.agents.get('agent')).held).toBe(0.02)
    await guard.afterToolCall(ok, { ok: true })
    // It ran and threw: it may have called its paid API first, so its price is spent.
    const failed = await guard.beforeToolCall({ name: 'search', args: { q: 'b' }, priceUsd: 0.02 })
    await guard.afterToolCall(failed, { ok: false, error: new Error('503') })
    expect(await ks.agents.get('agent')).toMatchObject({ spent: 0.04, held: 0 })
    const settled = (await ks.audit('agent')).filter((entry) => entry.type === 'settled')
    expect(settled.at(-1)).toMatchObject({
      summary:
        'settled $0.02 for tool search, the tool failed after it started (503): it may have spent',
      data: { tool: 'search', cost: 0.02, failed: '503' },
    })
    // The framework refused its arguments before it ran: nothing can have been spent.
    const never = await guard.beforeToolCall({ name: 'search', args: { q: 7 }, priceUsd: 0.02 })
    await guard.afterToolCall(never, { ok: false, error: new Error('bad args'), started: false })
    expect(await ks.agents.get('agent')).toMatchObject({ spent: 0.04, held: 0 })
    expect((await ks.audit('agent')).at(-1)).toMatchObject({
      type: 'released',
      data: { reason: 'tool never started: bad args' },
    })
    await guard.beforeToolCall({ name: 'search', args: { q: 'c' }, priceUsd: 0.02 })
    await expect(
      guard.beforeToolCall({ name: 'search', args: { q: 'd' }, priceUsd: 0.02 }),
    ).rejects.toBeInstanceOf(SpendingCapExceededError)
  })

  it.each([
    ['NaN', Number.NaN],
    ['negative', -1],
    ['past the cap bound', 1e12],
    ['a string', '0.5'],
    ['a boolean', true],
  ])(
    'refuses a settled amount that is %s by name, and keeps the hold for a corrected settle',
    async (_, bad) => {
      const { ks, guard } = await setup(1)
      const ticket = await guard.reserveSpend({ amountUsd: 0.1, kind: 'payment', description: 'p' })
      const error = await guard.settleSpend(ticket, { amountUsd: bad as number }).catch((e) => e)
      expect(error).toBeInstanceOf(InvalidConfigError)
      expect(error).toMatchObject({ field: 'amountUsd' })
      expect(await ks.agents.get('agent')).toMatchObject({ spent: 0, held: 0.1 })
      // Not ended by the refusal: the corrected amount settles it.
      await guard.settleSpend(ticket, { amountUsd: 0.04 })
      expect(await ks.agents.get('agent')).toMatchObject({ spent: 0.04, held: 0 })
    },
  )

  it('refuses an unknown-outcome mark without a valid time by name; the hold stays held', async () => {
    const { ks, guard } = await setup(1)
    const ticket = await guard.reserveSpend({ amountUsd: 0.1, kind: 'payment', description: 'p' })
    for (const holdUntil of [Number.NaN, undefined, '2027-01-01']) {
      await expect(
        guard.markSpendUnknown(ticket, { holdUntil: holdUntil as number, reason: 'no answer' }),
      ).rejects.toMatchObject({ field: 'holdUntil' })
    }
    expect(await ks.agents.get('agent')).toMatchObject({ spent: 0, held: 0.1 })
  })

  it('settles a spend below its hold (an upto payment) and releases a refused one', async () => {
    const { ks, guard } = await setup(1)
    const paid = await guard.reserveSpend({
      amountUsd: 0.1,
      kind: 'payment',
      description: 'GET /search',
      details: { payee: '0xabc' },
    })
    await guard.settleSpend(paid, { amountUsd: 0.04 })
    const refused = await guard.reserveSpend({
      amountUsd: 0.1,
      kind: 'payment',
      description: 'GET /search',
    })
    await guard.releaseSpend(refused, { reason: 'payment refused by server' })
    expect(await ks.agents.get('agent')).toMatchObject({ spent: 0.04, held: 0 })
    const audit = await ks.audit('agent')
    expect(audit.find((entry) => entry.type === 'settled')?.data).toMatchObject({
      payee: '0xabc',
      cost: 0.04,
      kind: 'payment',
    })
    expect(audit.at(-1)).toMatchObject({
      type: 'released',
      data: { reason: 'payment refused by server' },
    })
  })

  it('charges the hold of a crashed caller in full when its lease lapses (money may have left)', async () => {
    let now = 1_000_000
    const { ks, guard } = await setup(0.001, { holdTtlMs: 60_000, now: () => now })
    const ticket = await guard.beforeModelCall({ ...call, maxOutputTokens: 900 })
    await expect(guard.beforeModelCall({ ...call, maxOutputTokens: 900 })).rejects.toBeInstanceOf(
      SpendingCapExceededError,
    )
    now += 60_000
    const lapsed = await ks.agents.get('agent')
    expect(lapsed).toMatchObject({
      held: 0,
      spent: ticket.reservedUsd,
      unreconciled: ticket.reservedUsd,
    })
    await expect(guard.beforeModelCall({ ...call, maxOutputTokens: 900 })).rejects.toBeInstanceOf(
      SpendingCapExceededError,
    )
  })
})

describe('guard: a call whose limit the caller cannot pass on (fixedOutput)', () => {
  const model = { 'fixed-model': { inputPerMTok: 1, outputPerMTok: 1, contextWindow: 50_000 } }

  it('is held to all it asks for, never clamped: refused when the agent cannot afford it whole', async () => {
    const ks = createKillSwitch({ prices: model })
    const { credential } = await ks.agents.create({ handle: 'a', spendingCap: 0.001 })
    const guard = ks.guard(credential)
    // 1,000 output tokens plus the prompt fit $0.001 only if clamped: refused instead.
    const refused = await guard
      .startModelCall({
        model: 'fixed-model',
        input: 'x',
        maxOutputTokens: 1_000,
        fixedOutput: true,
      })
      .catch((e: unknown) => e)
    expect(refused).toBeInstanceOf(SpendingCapExceededError)
    expect((refused as SpendingCapExceededError).requestedUsd).toBeGreaterThan(0.001)
    // Without fixedOutput the same call is clamped to what fits.
    const clamped = await guard.startModelCall({
      model: 'fixed-model',
      input: 'x',
      maxOutputTokens: 1_000,
    })
    expect(clamped.maxOutputTokens).toBeLessThan(1_000)
  })

  it('holds its limit exactly (no counting headroom), and the context window when it sets none', async () => {
    const ks = createKillSwitch({ prices: model })
    const { credential } = await ks.agents.create({ handle: 'a', spendingCap: 1 })
    const guard = ks.guard(credential)
    const limited = await guard.startModelCall({
      model: 'fixed-model',
      input: 'x',
      maxOutputTokens: 1_000,
      fixedOutput: true,
    })
    expect(limited.maxOutputTokens).toBe(1_000)
    const unlimited = await guard.startModelCall({
      model: 'fixed-model',
      input: 'x',
      fixedOutput: true,
    })
    expect(unlimited.maxOutputTokens).toBe(50_000)
    const { held } = await ks.agents.get('a')
    // Both holds: their output limits at $1 a million, plus each prompt's bound.
    expect(held).toBeGreaterThanOrEqual(0.051)
    expect(held).toBeLessThan(0.052)
  })
})

describe('guard: fail closed and isolation from listeners', () => {
  it('denies with StoreUnavailableError when the store fails', async () => {
    const store = memoryStore()
    const ks = createKillSwitch({ store, prices })
    const agent = await ks.agents.create({ handle: 'agent', spendingCap: 10 })
    const guard = ks.guard(agent.credential)
    await guard.check()
    store.reserve = async () => {
      throw new Error('ECONNREFUSED')
    }
    const error = await guard.beforeModelCall(call).catch((caught) => caught)
    expect(error).toBeInstanceOf(StoreUnavailableError)
    expect(error.cause).toBeInstanceOf(Error)
  })

  it('never lets a throwing listener break a guarded call', async () => {
    const errors: unknown[] = []
    const { ks, guard } = await setup(1, { onError: (error) => errors.push(error) })
    ks.on('settled', () => {
      throw new Error('listener bug')
    })
    ks.on('reserved', async () => {
      throw new Error('async listener bug')
    })
    const ticket = await guard.beforeModelCall(call)
    await expect(
      guard.afterModelCall(ticket, { usage: { inputTokens: 1, outputTokens: 1 } }),
    ).resolves.toMatchObject({ costUsd: 0.000002 })
    await new Promise((resolve) => setTimeout(resolve, 0))
    expect(errors).toHaveLength(2)
  })
})

describe('guard: alerts', () => {
  it('fires a threshold once per crossing and re-arms it when the cap changes', async () => {
    const sent: AlertEvent[] = []
    const dispatcher: AlertDispatcher = {
      dispatch: (event) => void sent.push(event),
      flush: async () => {},
      close: async () => {},
    }
    const { ks, guard } = await setup(0.01, { alerts: dispatcher })
    await ks.agents.setAlert('agent', { thresholdPct: 0.5, webhookUrl: 'https://example.com/hook' })
    const thresholds: number[] = []
    ks.on('threshold', (event) => thresholds.push(event.spent))
    for (let i = 0; i < 6; i++) {
      const ticket = await guard.beforeModelCall({ ...call, maxOutputTokens: 100 })
      await guard.afterModelCall(ticket, { usage: { inputTokens: 500, outputTokens: 500 } })
    }
    await ks.close()
    expect(thresholds).toEqual([0.005])
    expect(sent).toHaveLength(1)
    expect(sent[0]).toMatchObject({
      type: 'threshold',
      agent: 'agent',
      thresholdPct: 0.5,
      spent: 0.005,
      spendingCap: 0.01,
    })
    expect(JSON.stringify(sent)).not.toContain('ks_')
  })
})

describe('guard: runaway verdicts', () => {
  const monitorFor = (verdict: RunawayVerdict, on: string): RunawayMonitor => ({
    observe: async (_agent, observation) =>
      observation.kind === on ? verdict : { action: 'none', enforced: true },
  })
  const finding = {
    detector: 'repeated-tool-call',
    status: 'trip' as const,
    summary: 'search x5',
    evidence: { count: 5 },
  }

  it('revokes the agent everywhere on a revoke verdict and records the evidence', async () => {
    const { ks, guard } = await setup(10, {
      runaway: monitorFor({ action: 'revoke', enforced: true, finding }, 'tool_call'),
    })
    const error = await guard.beforeToolCall({ name: 'search', args: {} }).catch((caught) => caught)
    expect(error).toBeInstanceOf(RunawayDetectedError)
    expect(error).toMatchObject({ detector: 'repeated-tool-call', action: 'revoke', status: 429 })
    expect(guard.signal.aborted).toBe(true)
    expect((await ks.agents.get('agent')).status).toBe('revoked')
    const audit = await ks.audit('agent')
    expect(audit.find((entry) => entry.type === 'runaway')?.data).toMatchObject({
      detector: 'repeated-tool-call',
      enforced: true,
      evidence: { count: 5 },
    })
    // Who revoked, and which detector: the audit says so without parsing the reason.
    expect(audit.find((entry) => entry.type === 'revoked')?.data).toMatchObject({
      by: 'runaway',
      detector: 'repeated-tool-call',
    })
  })

  it('records but does not block in shadow mode', async () => {
    const { ks, guard } = await setup(10, {
      runaway: monitorFor({ action: 'revoke', enforced: false, finding }, 'tool_call'),
    })
    await expect(guard.beforeToolCall({ name: 'search', args: {} })).resolves.toBeDefined()
    expect((await ks.agents.get('agent')).status).toBe('active')
    expect((await ks.audit('agent')).find((entry) => entry.type === 'runaway')?.summary).toContain(
      'would have revoke',
    )
  })

  it('ends only the run on a stop verdict', async () => {
    let trip = true
    const monitor: RunawayMonitor = {
      observe: async (_agent, observation) => {
        if (observation.kind === 'tool_call' && trip) {
          trip = false
          return { action: 'stop', enforced: true, finding }
        }
        return { action: 'none', enforced: true }
      },
    }
    const { ks, guard } = await setup(10, { runaway: monitor })
    await expect(
      guard.beforeToolCall({ name: 'search', args: {}, runId: 'run-1' }),
    ).rejects.toMatchObject({ action: 'stop' })
    await expect(guard.beforeModelCall({ ...call, runId: 'run-1' })).rejects.toBeInstanceOf(
      RunawayDetectedError,
    )
    await expect(guard.beforeModelCall({ ...call, runId: 'run-2' })).resolves.toBeDefined()
    expect((await ks.agents.get('agent')).status).toBe('active')
  })
})

describe('guard: default runaway detection', () => {
  it('revokes an agent repeating the same paid tool call, before the 5th runs', async () => {
    const { ks, guard } = await setup(10)
    let executions = 0
    const error = await (async () => {
      for (let i = 0; i < 20; i++) {
        const ticket = await guard.beforeToolCall({
          name: 'search',
          args: { q: 'sk-confidential-query', page: 1 },
          priceUsd: 0.5,
        })
        executions++
        await guard.afterToolCall(ticket, { ok: true })
      }
    })().catch((caught) => caught)
    expect(error).toBeInstanceOf(RunawayDetectedError)
    expect(error).toMatchObject({ detector: 'repeated-tool-call', action: 'revoke' })
    expect(executions).toBe(4)
    expect(await ks.agents.get('agent')).toMatchObject({ status: 'revoked', spent: 2, held: 0 })
    expect(guard.signal.aborted).toBe(true)
    const trip = (await ks.audit('agent')).find(
      (entry) => entry.type === 'runaway' && entry.data.status === 'trip',
    )
    expect(trip?.data).toMatchObject({ detector: 'repeated-tool-call', enforced: true })
    expect(JSON.stringify(trip)).not.toContain('sk-confidential-query')
  })

  it('does not trip on the same tool with different arguments', async () => {
    const { ks, guard } = await setup(10)
    for (let i = 0; i < 12; i++) {
      // Different words: a counter alone (`topic ${i}`) is a loop's disguise, throttled at 10.
      const q = `topic ${String.fromCharCode(97 + i).repeat(3)}`
      const ticket = await guard.beforeToolCall({ name: 'search', args: { q } })
      await guard.afterToolCall(ticket, { ok: true })
    }
    expect((await ks.agents.get('agent')).status).toBe('active')
  })
})
