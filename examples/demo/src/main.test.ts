import { expect, it } from 'vitest'
import { runDemo } from './main.js'

it('stops the looping agent at its cap, revokes it and refuses the replay', async () => {
  const lines: string[] = []
  const result = await runDemo((line) => lines.push(line))
  expect(result.stoppedBy).toBe('spending_cap_exceeded')
  expect(result.spent).toBeLessThanOrEqual(result.spendingCap)
  expect(result.searches).toBeGreaterThan(5)
  expect(result.replayRefused).toBe(true)
  expect(lines.join('\n')).not.toMatch(/ks_[A-Za-z0-9_-]{43}/)
})
