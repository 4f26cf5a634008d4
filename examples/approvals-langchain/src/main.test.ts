import { expect, it } from 'vitest'
import { runLangchainApprovals } from './main.js'

it('pauses the createAgent run with an interrupt at its cap and resumes it after approval', async () => {
  const lines: string[] = []
  const result = await runLangchainApprovals((line) => lines.push(line))

  // Paused by LangGraph's interrupt on the kill switch's approval request, after the three
  // searches that fit the cap, before the model call that would cross it.
  expect(result.interrupted?.handle).toBe('researcher-hitl')
  expect(result.interrupted?.approvalId).toMatch(/^apr_/)
  expect(lines).toContain(`paused after 3 searches, waiting for ${result.interrupted?.approvalId}`)
  // The person approved that very request; resumed on the same thread, the run finished
  // without running any search twice.
  expect(result.decided).toEqual({ id: result.interrupted?.approvalId, status: 'approved' })
  expect(result.searches).toBe(3)
  expect(result.answer).toBe('Answer: caps need approvals.')
  // Past the cap, but only within what the person granted ($0.05).
  expect(result.spent).toBeGreaterThan(result.spendingCap)
  expect(result.spent).toBeLessThanOrEqual(result.spendingCap + 0.05)
  expect(result.held).toBe(0)
  expect(result.audited).toEqual(['requested', 'approved'])
  expect(lines.join('\n')).not.toMatch(/ks_[A-Za-z0-9_-]{20,}/)
})
