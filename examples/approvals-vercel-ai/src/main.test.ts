import { expect, it } from 'vitest'
import { runVercelAiApprovals } from './main.js'

it('pauses the paid search past the cap with AI SDK tool approval; approved it runs, denied it does not', async () => {
  const lines: string[] = []
  const { approved, denied } = await runVercelAiApprovals((line) => lines.push(line))

  // Approved: the AI SDK's request named the kill switch request; the second search ran
  // under the grant, and the agent spent past its cap only within the $0.02 granted.
  expect(approved.sdkReason).toBe(`past the cap: kill switch request ${approved.approvalId}`)
  expect(lines).toContain(
    `researcher-approved: paused after 1 search(es); the AI SDK asks: ${approved.sdkReason}`,
  )
  expect(approved.searches).toBe(2)
  expect(approved.answer).toBe('Answer from two searches.')
  expect(approved.spent).toBeGreaterThan(approved.spendingCap)
  expect(approved.spent).toBeLessThanOrEqual(approved.spendingCap + 0.02)
  expect(approved.held).toBe(0)
  expect(approved.audited).toEqual(['requested', 'approved'])

  // Denied: the search never ran, nothing was spent past the cap.
  expect(denied.approvalId).toMatch(/^apr_/)
  expect(denied.approvalId).not.toBe(approved.approvalId)
  expect(denied.searches).toBe(1)
  expect(denied.answer).toBe('Answer from one search.')
  expect(denied.spent).toBeLessThanOrEqual(denied.spendingCap)
  expect(denied.held).toBe(0)
  expect(denied.audited).toEqual(['requested', 'denied'])
  expect(lines.join('\n')).not.toMatch(/ks_[A-Za-z0-9_-]{20,}/)
})
