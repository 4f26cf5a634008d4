// ModelCall.apply: one streamed event, for a framework that hands its parts over one by one.
import { describe, expect, it } from 'vitest'
import { AgentRevokedError } from './errors.js'
import { createKillSwitch } from './kill-switch.js'

// One token costs one micro-dollar; the tokenizer is unknown, so output counts UTF-8 bytes.
const prices = { 'test-model': { inputPerMTok: 1, outputPerMTok: 1 } }
const request = { model: 'test-model', input: 'x'.repeat(100), maxOutputTokens: 1_000 }

async function call() {
  const ks = createKillSwitch({ prices, runaway: false })
  const agent = await ks.agents.create({ handle: 'agent', spendingCap: 1 })
  const guard = ks.guard(agent.credential)
  return { ks, call: await guard.startModelCall(request) }
}

/** The output tokens a call that ends without usage is charged: what the guard counted. */
async function counted(events: Parameters<Awaited<ReturnType<typeof call>>['call']['apply']>[0][]) {
  const { ks, call: modelCall } = await call()
  for (const event of events) await modelCall.apply(event)
  await modelCall.finish({})
  const settled = (await ks.audit('agent')).find((entry) => entry.type === 'settled')
  return settled?.data?.streamedTokens
}

describe('ModelCall.apply', () => {
  const input = JSON.stringify({ query: 'gpu prices' })

  it("counts a tool call's arguments once when they streamed under its id", async () => {
    const streamed = await counted([
      { type: 'output', text: input.slice(0, 5), toolCallId: 'c1' },
      { type: 'output', text: input.slice(5), toolCallId: 'c1' },
      { type: 'tool-call', name: 'search', args: JSON.parse(input), input, toolCallId: 'c1' },
    ])
    const once = await counted([{ type: 'output', text: input }])
    expect(streamed).toBe(once)
  })

  it('counts the arguments of a tool call that did not stream (another id, or none)', async () => {
    const whole = await counted([
      { type: 'output', text: 'thinking', toolCallId: 'c0' },
      { type: 'tool-call', name: 'search', args: JSON.parse(input), input, toolCallId: 'c1' },
    ])
    const plain = await counted([
      { type: 'output', text: 'thinking' },
      { type: 'tool-call', name: 'search', args: JSON.parse(input), input },
    ])
    const expected = await counted([{ type: 'output', text: `thinking${input}` }])
    expect(whole).toBe(expected)
    expect(plain).toBe(expected)
  })

  it('refuses a tool call once the agent is revoked, and stops the call', async () => {
    const { ks, call: modelCall } = await call()
    await ks.agents.revoke('agent')
    await expect(
      modelCall.apply({ type: 'tool-call', name: 'search', args: {} }),
    ).rejects.toBeInstanceOf(AgentRevokedError)
    expect(modelCall.signal.aborted).toBe(true)
  })
})
