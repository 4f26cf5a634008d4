// watchModelStream: a streamed call ends once, at the right cost, whatever ends it.
import { describe, expect, it } from 'vitest'
import { AgentRevokedError, SpendingCapExceededError } from './errors.js'
import { createKillSwitch } from './kill-switch.js'
import type { ModelCall } from './model-call.js'
import { type StreamEvent, watchModelStream } from './model-stream.js'
import { memoryStore } from './stores/memory-store.js'
import { StreamAbandonedError } from './stream-abandoned-error.js'

// One token costs one micro-dollar; the tokenizer is unknown, so output counts UTF-8 bytes.
const prices = { 'test-model': { inputPerMTok: 1, outputPerMTok: 1 } }
// Its input bound: 100 bytes + REQUEST_OVERHEAD_TOKENS (64) chat template tokens = 164.
const request = { model: 'test-model', input: 'x'.repeat(100), maxOutputTokens: 1_000 }

type Part =
  | { kind: 'text'; text: string }
  | { kind: 'tool'; name: string; args: unknown }
  | { kind: 'end'; output: number }
  | { kind: 'error'; error: unknown }
  | { kind: 'meta' }

const read = (part: Part): StreamEvent | undefined => {
  if (part.kind === 'text') return { type: 'text', text: part.text }
  if (part.kind === 'tool') return { type: 'tool-call', name: part.name, args: part.args }
  if (part.kind === 'error') return { type: 'error', error: part.error }
  if (part.kind === 'end') {
    return { type: 'finish', usage: { inputTokens: 100, outputTokens: part.output } }
  }
  return undefined
}

async function setup() {
  const ks = createKillSwitch({ prices, runaway: false })
  const agent = await ks.agents.create({ handle: 'agent', spendingCap: 1 })
  return { ks, guard: ks.guard(agent.credential) }
}

/** A provider that streams `parts`, then waits (or errors), and reports its abort. */
function provider(parts: Part[], then: 'close' | 'hang' | Error = 'close') {
  const state = { aborted: false, cancelled: false }
  let index = 0
  const stream = new ReadableStream<Part>({
    pull(controller) {
      const part = parts[index++]
      if (part) return controller.enqueue(part)
      if (then === 'close') return controller.close()
      if (then instanceof Error) return controller.error(then)
      return new Promise<void>(() => {})
    },
    cancel() {
      state.cancelled = true
    },
  })
  return { stream, state }
}

async function open(
  call: ModelCall,
  parts: Part[],
  then?: 'close' | 'hang' | Error,
  idle = 60_000,
) {
  const upstream = provider(parts, then)
  call.signal.addEventListener('abort', () => {
    upstream.state.aborted = true
  })
  const stream = await call.send(async () => upstream.stream)
  return { stream: watchModelStream(call, stream, { read, idleConsumerMs: idle }), upstream }
}

async function readAll(stream: ReadableStream<Part>): Promise<Part[]> {
  const parts: Part[] = []
  for await (const part of stream) parts.push(part)
  return parts
}

describe('watchModelStream', () => {
  it('passes every part on unchanged and settles before the finish reaches the consumer', async () => {
    const { ks, guard } = await setup()
    const call = await guard.startModelCall(request)
    const parts: Part[] = [
      { kind: 'meta' },
      { kind: 'text', text: 'hello' },
      { kind: 'end', output: 5 },
    ]
    const { stream } = await open(call, parts)
    const seen: Part[] = []
    for await (const part of stream) {
      if (part.kind === 'end') expect((await ks.agents.get('agent')).held).toBe(0)
      seen.push(part)
    }
    expect(seen).toEqual(parts)
    expect(await ks.agents.get('agent')).toMatchObject({ spent: 0.000105, held: 0 })
  })

  it('cuts the stream at the hold with the cap error, aborts the provider, charges what streamed', async () => {
    const { ks, guard } = await setup()
    const call = await guard.startModelCall({ ...request, maxOutputTokens: 10 })
    const { stream, upstream } = await open(call, [
      { kind: 'text', text: 'a'.repeat(60) },
      { kind: 'text', text: 'b' },
      { kind: 'end', output: 11 },
    ])
    await expect(readAll(stream)).rejects.toBeInstanceOf(SpendingCapExceededError)
    expect(upstream.state.aborted).toBe(true)
    // 164 input-bound tokens and the 61 counted output tokens that streamed (the one past
    // the hold's 60 included: the provider sent it).
    expect(await ks.agents.get('agent')).toMatchObject({ spent: 0.000225, held: 0 })
  })

  it('cuts the stream on revocation with the typed error, and charges the call', async () => {
    const { ks, guard } = await setup()
    const call = await guard.startModelCall(request)
    const { stream, upstream } = await open(call, [{ kind: 'text', text: 'c'.repeat(40) }], 'hang')
    const reader = stream.getReader()
    expect(await reader.read()).toMatchObject({ value: { kind: 'text' } })
    await ks.agents.revoke('agent', { reason: 'looping' })
    await expect(reader.read()).rejects.toBeInstanceOf(AgentRevokedError)
    expect(upstream.state.aborted).toBe(true)
    // Stopped by the revocation: 164 input-bound tokens + the 1,000 output tokens the
    // provider was told, not the 40 counted.
    expect(await ks.agents.get('agent')).toMatchObject({ spent: 0.001164, held: 0 })
  })

  it('tells the consumer the revocation, not the abort error it caused, however slow the ledger', async () => {
    // A store across a network (Redis): its settle answers after the provider's abort lands.
    const store = memoryStore()
    const slow = new Proxy(store, {
      get(target, key) {
        const value = Reflect.get(target, key, target)
        if (typeof value !== 'function') return value
        if (key !== 'settle') return value.bind(target)
        return async (...args: unknown[]) => {
          await new Promise((resolve) => setTimeout(resolve, 50))
          return value.apply(target, args)
        }
      },
    })
    const ks = createKillSwitch({ store: slow, prices, runaway: false })
    const agent = await ks.agents.create({ handle: 'agent', spendingCap: 1 })
    const call = await ks.guard(agent.credential).startModelCall(request)
    // A provider client as fetch is: aborted, its body errors with an AbortError at once.
    const source = await call.send(
      async () =>
        new ReadableStream<Part>({
          start(controller) {
            controller.enqueue({ kind: 'text', text: 'c'.repeat(40) })
            call.signal.addEventListener('abort', () =>
              controller.error(new DOMException('This operation was aborted', 'AbortError')),
            )
          },
        }),
    )
    const reader = watchModelStream(call, source, { read, idleConsumerMs: 60_000 }).getReader()
    expect(await reader.read()).toMatchObject({ value: { kind: 'text' } })
    await ks.agents.revoke('agent', { reason: 'looping' })
    await expect(reader.read()).rejects.toBeInstanceOf(AgentRevokedError)
    expect(await ks.agents.get('agent')).toMatchObject({ spent: 0.001164, held: 0 })
  })

  it('ends a call whose consumer stopped reading, without waiting for the hold to lapse', async () => {
    const { ks, guard } = await setup()
    const call = await guard.startModelCall(request)
    const { stream, upstream } = await open(
      call,
      [
        { kind: 'text', text: 'd'.repeat(30) },
        { kind: 'text', text: 'e'.repeat(30) },
      ],
      'hang',
      50,
    )
    const reader = stream.getReader()
    await reader.read()
    // The consumer walks away (a break out of a teed stream: no cancel reaches here).
    await new Promise((resolve) => setTimeout(resolve, 200))
    expect(upstream.state.aborted).toBe(true)
    await expect(reader.read()).rejects.toBeInstanceOf(StreamAbandonedError)
    // Both parts were read ahead from the provider: it billed them (164 input-bound tokens
    // + 60 counted output tokens).
    expect(await ks.agents.get('agent')).toMatchObject({ spent: 0.000224, held: 0 })
  })

  it('ends the call at once when the consumer cancels', async () => {
    const { ks, guard } = await setup()
    const call = await guard.startModelCall(request)
    const { stream, upstream } = await open(call, [{ kind: 'text', text: 'f'.repeat(20) }], 'hang')
    const reader = stream.getReader()
    await reader.read()
    await reader.cancel(new Error('user closed the tab'))
    expect(upstream.state.aborted).toBe(true)
    // 164 input-bound tokens + 20 counted output tokens.
    expect(await ks.agents.get('agent')).toMatchObject({ spent: 0.000184, held: 0 })
  })

  it('charges a provider stream that errors or ends without a finish', async () => {
    const { ks, guard } = await setup()
    const reset = new Error('ECONNRESET')
    const first = await guard.startModelCall(request)
    const errored = await open(first, [{ kind: 'text', text: 'g'.repeat(10) }], reset)
    await expect(readAll(errored.stream)).rejects.toBe(reset)
    const second = await guard.startModelCall(request)
    const unfinished = await open(second, [{ kind: 'text', text: 'h'.repeat(10) }])
    expect(await readAll(unfinished.stream)).toHaveLength(1)
    // Each: 164 input-bound tokens + 10 counted output tokens.
    expect(await ks.agents.get('agent')).toMatchObject({ spent: 0.000348, held: 0 })
  })

  it('refuses a tool call before it reaches the framework, once the agent is revoked', async () => {
    const { ks, guard } = await setup()
    const call = await guard.startModelCall(request)
    const { stream } = await open(call, [
      { kind: 'text', text: 'searching' },
      { kind: 'tool', name: 'search', args: { q: 'x' } },
      { kind: 'end', output: 9 },
    ])
    const reader = stream.getReader()
    expect(await reader.read()).toMatchObject({ value: { kind: 'text' } })
    await ks.agents.revoke('agent')
    await expect(reader.read()).rejects.toBeInstanceOf(AgentRevokedError)
    expect((await ks.agents.get('agent')).held).toBe(0)
  })

  it('ends a stream with an error part and no finish by the error: charged what streamed, a refusal with nothing streamed free', async () => {
    const { ks, guard } = await setup()
    const call = await guard.startModelCall(request)
    const overloaded = Object.assign(new Error('overloaded'), { status: 529 })
    const parts: Part[] = [
      { kind: 'text', text: 'i'.repeat(10) },
      { kind: 'error', error: overloaded },
    ]
    const { stream } = await open(call, parts)
    // The framework's own error part reaches the consumer as it came.
    expect(await readAll(stream)).toEqual(parts)
    // 164 input-bound tokens + 10 counted output tokens: it left, and it streamed.
    expect(await ks.agents.get('agent')).toMatchObject({ spent: 0.000174, held: 0 })

    // The error part is the provider's word on how the call ended: an outright refusal with
    // nothing streamed costs nothing (an ending with no error known would charge the hold).
    const refusedCall = await guard.startModelCall(request)
    const badRequest = Object.assign(new Error('bad request'), { status: 400 })
    const refused = await open(refusedCall, [{ kind: 'error', error: badRequest }])
    expect(await readAll(refused.stream)).toHaveLength(1)
    expect(await ks.agents.get('agent')).toMatchObject({ spent: 0.000174, held: 0 })
  })

  it('stops at once a stream whose agent was revoked before the watch began, charging the most it can cost', async () => {
    const { ks, guard } = await setup()
    const call = await guard.startModelCall(request)
    const upstream = provider([{ kind: 'text', text: 'j'.repeat(10) }], 'hang')
    const stream = await call.send(async () => upstream.stream)
    const { held } = await ks.agents.get('agent')
    // Revoked after the request left, before the adapter wrapped its stream.
    await ks.agents.revoke('agent', { reason: 'pulled' })
    const watched = watchModelStream(call, stream, { read, idleConsumerMs: 60_000 })
    await expect(readAll(watched)).rejects.toBeInstanceOf(AgentRevokedError)
    expect(upstream.state.cancelled).toBe(true)
    // Nothing is known of what it used: the request left, so the most it can cost is spent
    // (the input bound and the 1,000 output tokens it was told), below the hold's headroom.
    expect(held).toBe(0.006164)
    expect(await ks.agents.get('agent')).toMatchObject({ spent: 0.001164, held: 0 })
  })
})
