import { expect, it } from 'vitest'
import { main } from './main.js'

it('stops the looping AI SDK agent at its cap, by loop detection, and by revocation', async () => {
  const lines: string[] = []
  const result = await main((line) => lines.push(line))

  // 1. Page after page: stopped by the cap, never past it, nothing left held.
  expect(result.cap.stoppedBy).toBe('spending_cap_exceeded')
  expect(result.cap.spent).toBeLessThanOrEqual(result.cap.spendingCap)
  expect(result.cap.held).toBe(0)
  expect(result.cap.modelCalls).toBeGreaterThan(3)
  expect(result.cap.searches).toBe(result.cap.modelCalls)

  // 2. The same search again and again: the default loop detection revokes it at the fifth
  // identical call, before that search runs.
  expect(result.loop.stoppedBy).toBe('runaway_detected')
  expect(result.loop.searches).toBe(4)
  expect(result.loop.held).toBe(0)

  // 3. Revoked mid-run: the run ends with agent_revoked and the provider is not called again.
  expect(result.revoke.stoppedBy).toBe('agent_revoked')
  expect(result.revoke.modelCallsAfterRevoke).toBe(0)
  expect(result.revoke.held).toBe(0)

  expect(lines.join('\n')).not.toMatch(/ks_[A-Za-z0-9_-]{20,}/)
})
