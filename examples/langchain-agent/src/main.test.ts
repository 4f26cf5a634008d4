import { expect, it } from 'vitest'
import { runLangchainExample } from './main.js'

it('stops the looping createAgent at its cap, then refuses it after revocation', async () => {
  const lines: string[] = []
  const result = await runLangchainExample((line) => lines.push(line))

  expect(result.stoppedBy).toBe('spending_cap_exceeded')
  expect(result.spent).toBeLessThanOrEqual(result.spendingCap)
  expect(result.held).toBe(0)
  // It looped for a while before the cap stopped it, one search per model call.
  expect(result.modelCalls).toBeGreaterThan(3)
  expect(result.modelCalls).toBeLessThan(200)
  expect(result.searches).toBe(result.modelCalls)
  expect(result.afterRevocation).toBe('agent_revoked')
  expect(lines.join('\n')).not.toMatch(/ks_[A-Za-z0-9_-]{20,}/)
})
