import { expect, it } from 'vitest'
import { runPaidSearch } from './main.js'

it('stops the agent paying for search at its cap, and refuses its next payment once revoked', async () => {
  const lines: string[] = []
  const result = await runPaidSearch((line) => lines.push(line))

  expect(result.stoppedBy).toBe('spending_cap_exceeded')
  expect(result.searches).toBeGreaterThan(3)
  expect(result.spent).toBeLessThanOrEqual(result.spendingCap)
  // The flaky API answered 500 after the signature was sent: charged, since it can settle it.
  expect(result.flakyStatus).toBe(500)
  expect(result.chargedForFlaky).toBe(0.01)
  // Every signature is charged (the flaky one too), and none was signed after it stopped.
  expect(result.signatures).toBe(result.searches + 1)
  expect(result.transfers).toBe(result.searches)
  expect(result.revokedRefused).toBe(true)
  const log = lines.join('\n')
  expect(log).toMatch(/settled\s+\$0\.01 to 0x.* for http:\/\/127\.0\.0\.1:\d+\/search: settled/)
  expect(log).toMatch(/search-flaky: outcome_unknown \(server_error\)/)
  expect(log).not.toMatch(/ks_[A-Za-z0-9_-]{20,}/)
})
