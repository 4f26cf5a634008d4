import { describe, expect, it } from 'vitest'
import { AgentRevokedError, SpendingCapExceededError } from './errors.js'
import { createKillSwitch } from './kill-switch.js'

// One token costs one micro-dollar; the tokenizer is unknown, so output counts UTF-8 bytes.
const prices = { 'test-model': { inputPerMTok: 1, outputPerMTok: 1 } }
// Its input bound: 100 bytes + REQUEST_OVERHEAD_TOKENS (64) chat template tokens = 164.
const request = { model: 'test-model', input: 'x'.repeat(100), maxOutputTokens: 1_000 }

async function setup(cap = 1) {
  const ks = createKillSwitch({ prices, runaway: false })
  const agent = await ks.agents.create({ handle: 'agent', spendingCap: cap })
  return { ks, guard: ks.guard(agent.credential) }
}

describe('runModelCall', () => {
  it('hands the provider its clamped limits and a live signal, and settles its usage', async () => {
    const { ks, guard } = await setup(0.0005)
    const seen: Array<{ maxOutputTokens: number; aborted: boolean }> = []
    const reply = await guard.runModelCall(
      { ...request, maxOutputTokens: 5_000 },
      async ({ maxOutputTokens, signal }) => {
        seen.push({ maxOutputTokens, aborted: signal.aborted })
        return { text: 'hi', inputTokens: 40, outputTokens: 2 }
      },
      (value) => ({ usage: value, text: value.text }),
    )
    expect(reply.text).toBe('hi')
    // 500 micro-dollars: 164 for the input bound, 336 counted output tokens = 56 for the provider.
    expect(seen).toEqual([{ maxOutputTokens: 56, aborted: false }])
    expect(await ks.agents.get('agent')).toMatchObject({ spent: 0.000042, held: 0 })
  })

  it('rejects at once on revocation although the provider ignores its abort, and charges it', async () => {
    const { ks, guard } = await setup()
    let providerSignal: AbortSignal | undefined
    const pending = guard.runModelCall(
      request,
      ({ signal }) => {
        providerSignal = signal
        // A provider that ignores its abort signal and never answers.
        return new Promise<never>(() => {})
      },
      () => ({}),
    )
    await new Promise((resolve) => setImmediate(resolve))
    await ks.agents.revoke('agent', { reason: 'operator' })
    await expect(pending).rejects.toBeInstanceOf(AgentRevokedError)
    expect(providerSignal?.aborted).toBe(true)
    // The request left and nothing says what it used: the most it can cost (164 + the 1,000
    // output tokens it was told).
    expect(await ks.agents.get('agent')).toMatchObject({ spent: 0.001164, held: 0 })
  })

  it('releases a call revoked before its provider was called (it never left)', async () => {
    const { ks, guard } = await setup()
    let called = false
    const real = guard.beforeModelCall.bind(guard)
    const racing = new Proxy(guard, {
      get(target, key) {
        if (key === 'beforeModelCall') {
          return async (...args: Parameters<typeof real>) => {
            const ticket = await real(...args)
            await ks.agents.revoke('agent')
            return ticket
          }
        }
        const value: unknown = Reflect.get(target, key, target)
        return typeof value === 'function' ? value.bind(target) : value
      },
    })
    const { runModelCall } = await import('./model-call.js')
    await expect(
      runModelCall(
        racing,
        request,
        async () => {
          called = true
        },
        () => ({}),
      ),
    ).rejects.toBeInstanceOf(AgentRevokedError)
    expect(called).toBe(false)
    expect(await ks.agents.get('agent')).toMatchObject({ spent: 0, held: 0 })
  })
})

describe('startModelCall', () => {
  it('stops the provider when the output reaches the hold, and the cap error outranks its abort', async () => {
    const { ks, guard } = await setup()
    const call = await guard.startModelCall({ ...request, maxOutputTokens: 10 })
    call.output({ text: 'a'.repeat(60) })
    expect(() => call.output({ text: 'b' })).toThrow(SpendingCapExceededError)
    expect(call.signal.aborted).toBe(true)
    // The provider's stream then fails with its own AbortError.
    const shown = await call.fail(new DOMException('aborted', 'AbortError'))
    expect(shown).toBeInstanceOf(SpendingCapExceededError)
    // 164 input-bound tokens + the 61 counted output tokens that streamed: the 60 the hold
    // pays for and the one past it that stopped the call (sent, so billed).
    expect(await ks.agents.get('agent')).toMatchObject({ spent: 0.000225, held: 0 })
  })

  it('aborts with the caller and settles what streamed (a consumer that stopped reading)', async () => {
    const { ks, guard } = await setup()
    const caller = new AbortController()
    const call = await guard.startModelCall({ ...request, signal: caller.signal })
    call.output({ text: 'c'.repeat(250) })
    caller.abort(new DOMException('stopped reading', 'AbortError'))
    expect(call.signal.aborted).toBe(true)
    const shown = await call.fail(caller.signal.reason)
    expect(shown).toBe(caller.signal.reason)
    // 164 input-bound tokens + the 250 counted output tokens that streamed.
    expect(await ks.agents.get('agent')).toMatchObject({ spent: 0.000414, held: 0 })
  })

  it('shows the revocation, not the provider error it caused', async () => {
    const { ks, guard } = await setup()
    const call = await guard.startModelCall(request)
    call.output({ text: 'd'.repeat(100) })
    await ks.agents.revoke('agent', { reason: 'leak' })
    expect(call.signal.aborted).toBe(true)
    const shown = await call.fail(new Error('socket closed'))
    expect(shown).toBeInstanceOf(AgentRevokedError)
    expect(shown).toMatchObject({ reason: 'leak' })
    // Stopped by the revocation, what the provider did after the stop is unknown: 164
    // input-bound tokens + the 1,000 output tokens it was told, not the 100 counted.
    expect(await ks.agents.get('agent')).toMatchObject({ spent: 0.001164, held: 0 })
  })

  it('run: a provider refusal (429) is released and thrown as is; a failure after it left is charged', async () => {
    const { ks, guard } = await setup()
    const refused = Object.assign(new Error('rate limited'), { status: 429 })
    const first = await guard.startModelCall(request)
    await expect(first.run(() => Promise.reject(refused))).rejects.toBe(refused)
    expect(await ks.agents.get('agent')).toMatchObject({ spent: 0, held: 0 })
    const reset = new Error('socket hang up')
    const second = await guard.startModelCall(request)
    await expect(second.run(() => Promise.reject(reset))).rejects.toBe(reset)
    // It may have left: no usage, nothing counted, so the most it can cost is charged.
    expect(await ks.agents.get('agent')).toMatchObject({ spent: 0.001164, held: 0 })
  })

  it('finishes once: a late failure changes nothing', async () => {
    const { ks, guard } = await setup()
    const call = await guard.startModelCall(request)
    await call.finish({ usage: { inputTokens: 10, outputTokens: 20 } })
    await call.fail(new Error('late'))
    expect(await ks.agents.get('agent')).toMatchObject({ spent: 0.00003, held: 0 })
  })
})

describe('runToolCall', () => {
  it('releases a call its framework says never started, read from what run returned or threw', async () => {
    const { ks, guard } = await setup(0.05)
    const request = { name: 'search', args: { q: 7 }, priceUsd: 0.02 }
    const refused = { error: 'bad arguments' }
    const value = await guard.runToolCall(request, () => refused, {
      returned: (answer) =>
        answer === refused
          ? { ok: false, error: new Error(answer.error), started: false }
          : { ok: true },
    })
    expect(value).toBe(refused)
    const invalid = new Error('schema')
    await expect(
      guard.runToolCall(
        request,
        () => {
          throw invalid
        },
        { threw: (error) => ({ ok: false, error, started: error !== invalid }) },
      ),
    ).rejects.toBe(invalid)
    expect(await ks.agents.get('agent')).toMatchObject({ spent: 0, held: 0 })
    const released = (await ks.audit('agent')).filter((entry) => entry.type === 'released')
    expect(released.map((entry) => entry.data.reason)).toEqual([
      'tool never started: bad arguments',
      'tool never started: schema',
    ])
  })

  it('holds a paid tool and charges it when it returns and when it throws (it started)', async () => {
    const { ks, guard } = await setup(0.05)
    const result = await guard.runToolCall(
      { name: 'search', args: { q: 'a' }, priceUsd: 0.02 },
      async () => {
        expect((await ks.agents.get('agent')).held).toBe(0.02)
        return 'found'
      },
    )
    expect(result).toBe('found')
    const failure = new Error('503')
    await expect(
      guard.runToolCall({ name: 'search', args: { q: 'b' }, priceUsd: 0.02 }, () => {
        throw failure
      }),
    ).rejects.toBe(failure)
    expect(await ks.agents.get('agent')).toMatchObject({ spent: 0.04, held: 0 })
    let ran = false
    await expect(
      guard.runToolCall({ name: 'search', args: { q: 'd' }, priceUsd: 0.02 }, () => {
        ran = true
      }),
    ).rejects.toBeInstanceOf(SpendingCapExceededError)
    expect(ran).toBe(false)
  })
})

describe('a call stopped before its signal is asked for', () => {
  it('hands out an already aborted signal with the reason it stopped, and never sends', async () => {
    const { ks, guard } = await setup()
    const caller = new AbortController()
    const call = await guard.startModelCall({ ...request, signal: caller.signal })
    const reason = new Error('the user closed the tab')
    caller.abort(reason)
    // The stop signal is made on demand (most calls never need one): made now, it is
    // already aborted, with the caller's reason.
    expect(call.signal.aborted).toBe(true)
    expect(call.signal.reason).toBe(reason)
    let sent = false
    await expect(
      call.run(async () => {
        sent = true
      }),
    ).rejects.toBe(reason)
    expect(sent).toBe(false)
    // Never sent: released, not charged.
    expect(await ks.agents.get('agent')).toMatchObject({ spent: 0, held: 0 })
    await ks.close()
  })
})
