import { expect, it } from 'vitest'
import { runMastraExample } from './main.js'

it('stops the looping Mastra agent at its cap, then refuses it after revocation', async () => {
  const lines: string[] = []
  const result = await runMastraExample((line) => lines.push(line))

  expect(result.stoppedBy).toBe('spending_cap_exceeded')
  expect(result.spent).toBeLessThanOrEqual(result.spendingCap)
  expect(result.held).toBe(0)
  // It looped for a while before the cap stopped it; every search ran after a model call.
  expect(result.modelCalls).toBeGreaterThan(3)
  expect(result.modelCalls).toBeLessThan(1_000)
  expect(result.searches).toBeGreaterThan(3)
  expect(result.searches).toBeLessThanOrEqual(result.modelCalls)
  expect(result.afterRevocation).toBe('agent_revoked')
  expect(lines.join('\n')).not.toMatch(/ks_[A-Za-z0-9_-]{20,}/)
})
