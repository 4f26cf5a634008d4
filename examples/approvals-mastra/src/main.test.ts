import { expect, it } from 'vitest'
import { runMastraApprovals } from './main.js'

it('suspends the Mastra workflow at the cap and resumes it to the end after approval', async () => {
  const lines: string[] = []
  const result = await runMastraApprovals((line) => lines.push(line))

  // The research fit the cap; the report's model call did not: the workflow suspended in
  // that step, carrying the kill switch's approval request.
  expect(result.firstStatus).toBe('suspended')
  expect(result.suspendedStep).toBe('report')
  expect(result.suspendPayload?.approvalId).toMatch(/^apr_/)
  expect(result.audited).toEqual(['requested', 'approved'])
  // Approved and resumed: the step ran again under the grant and the workflow finished.
  expect(result.finalStatus).toBe('success')
  expect(result.report).toBe('Caps stop runaway agents; approvals let a person extend them.')
  // Two model calls reached the provider: the refused one never left.
  expect(result.modelCalls).toBe(2)
  expect(result.spent).toBeGreaterThan(result.spendingCap)
  expect(result.spent).toBeLessThanOrEqual(result.spendingCap + 0.01)
  expect(result.held).toBe(0)
  expect(lines.join('\n')).not.toMatch(/ks_[A-Za-z0-9_-]{20,}/)
})
