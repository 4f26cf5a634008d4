// A stream the kill switch stopped, through KillSwitchCallbackHandler with its signal in the
// run config (the documented form): the run rejects the moment the agent is revoked and
// LangChain leaves the model's stream unread, reporting no ending to callbacks. The handler
// ends the call itself: charged at once (a bound, unreconciled, for the provider's bill to
// correct), never left held until its lease runs out (red team rt32: spent $0, the hold
// renewed forever). Through the real ChatOpenAI against a local server that keeps its bill.
import { AgentRevokedError, toMicros } from '@killswitch/core'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { KillSwitchCallbackHandler } from './kill-switch-callback-handler.js'
import type { OpenAIServer } from './testing/openai-server.js'
import { chatOpenAI, guardedBy, ledger, rejection, testAgent } from './testing/test-kit.js'

const servers: OpenAIServer[] = []
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()))
})

describe('the callback handler on a stream the kill switch stopped', () => {
  // Without the signal in the run config, the stream is refused at its next token instead.
  it.each([
    ['with', true],
    ['without', false],
  ])(
    '%s its signal in the run: ends the call at once when the agent is revoked mid-stream',
    async (_, withSignal) => {
      const agent = await testAgent({ spendingCap: 100 })
      const { model, provider } = await chatOpenAI({
        outputTokens: 400,
        fields: { maxTokens: 500, streaming: true },
        server: { tokenEveryMs: 2 },
      })
      servers.push(provider)
      const handler = new KillSwitchCallbackHandler(guardedBy(agent))
      let chunks = 0
      const error = await rejection(
        (async () => {
          const config = { callbacks: [handler], ...(withSignal && { signal: handler.signal }) }
          for await (const _ of await model.stream('Write forever', config)) {
            if (++chunks === 20) await agent.ks.agents.revoke(agent.handle, { reason: 'stop' })
          }
        })(),
      )
      expect(error).toBeInstanceOf(AgentRevokedError)
      expect(chunks).toBeLessThan(25)
      expect(await provider.stopped()).toBe('disconnected')

      // Within a moment: the default lease is 5 minutes, so this is the handler's ending.
      await vi.waitFor(async () => expect((await ledger(agent)).held).toBe(0), { timeout: 1000 })
      const { spent } = await ledger(agent)
      const settled = (await agent.ks.audit(agent.handle)).filter((e) => e.type === 'settled')
      expect(settled).toHaveLength(1)
      // Stopped by the guard: what the provider does after the stop is unknown, so charged
      // the input bound and all 500 output tokens it was told, at $1 per thousand each.
      const data = settled[0]?.data ?? {}
      expect(data).toMatchObject({ basis: 'stopped', outcome: 'unreconciled', outputTokens: 500 })
      expect(spent).toBe((Number(data.inputTokens) + 500) * 1000)
      expect(toMicros((await agent.ks.agents.get(agent.handle)).unreconciled)).toBe(spent)
      // The provider's bill is covered, and no more than the hold is charged.
      expect(spent).toBeGreaterThanOrEqual(provider.billMicros())
      expect(spent).toBeLessThanOrEqual(toMicros(agent.reserved[0] ?? 0))
      expect(agent.settled).toEqual([spent / 1e6])
    },
  )
})
