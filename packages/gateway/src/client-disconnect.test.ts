// An agent that hangs up mid-stream: the upstream request is aborted and the call is
// charged the most it can cost (it left, and the upstream may go on), nothing left held.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { type GatewayFixture, startGatewayFixture } from './testing/gateway-fixture.js'

describe('an agent that hangs up mid-stream', () => {
  let f: GatewayFixture
  beforeAll(async () => {
    f = await startGatewayFixture()
  })
  afterAll(() => f.close())

  it('aborts the upstream request and ends the call once, charged the most it can cost', async () => {
    const key = await f.agent('hangs-up')
    f.upstream.hang = true
    try {
      const hangUp = new AbortController()
      const response = await fetch(`${f.openaiBaseURL}/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'gpt-4o', messages: [], stream: true }),
        signal: hangUp.signal,
      })
      const reader = response.body?.getReader()
      let text = ''
      while (!text.includes('Hello')) {
        const { value } = (await reader?.read()) ?? {}
        text += new TextDecoder().decode(value)
      }
      hangUp.abort()
      const call = f.upstream.calls.at(-1)
      await vi.waitFor(() => expect(call?.aborted).toBe(true))
      await vi.waitFor(async () => expect((await f.ks.agents.get('hangs-up')).held).toBe(0))
      expect(await f.spentMicros('hangs-up')).toBeGreaterThan(0)
      await vi.waitFor(() =>
        expect(f.logs.filter((line) => line.includes('agent=hangs-up'))).toEqual([
          expect.stringContaining('cancelled by client'),
        ]),
      )
      // The line names the hold its audit entry and a reconcile name (red team rt32).
      const settled = (await f.ks.audit('hangs-up')).find((entry) => entry.type === 'settled')
      // The agent is who the gateway does not trust: what an upstream went on to bill after
      // the hang-up is unknown, so the call is charged the most it can cost (red team rt40:
      // an upstream ignoring the abort billed 6x the cap), correctable from the bill.
      expect(settled?.data).toMatchObject({ basis: 'stopped' })
      const holdId = String(settled?.data.holdId)
      expect(f.logs.find((line) => line.includes('agent=hangs-up'))).toContain(` hold=${holdId} `)
      expect(f.logs.filter((line) => line.startsWith('error:'))).toEqual([])
    } finally {
      f.upstream.hang = false
    }
  })
})
