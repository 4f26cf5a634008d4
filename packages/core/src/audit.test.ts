import { expect, it } from 'vitest'
import { type AuditEntry, auditToJsonLines } from './audit.js'

it('exports audit entries as JSON lines with ISO times, one entry per line', () => {
  const entries: AuditEntry[] = [
    {
      at: Date.UTC(2026, 10, 25, 2, 0, 0),
      handle: 'a',
      type: 'hold',
      summary: 'held $0.01',
      data: { amount: 0.01 },
    },
    {
      at: Date.UTC(2026, 10, 25, 2, 0, 1),
      handle: 'a',
      type: 'revoked',
      summary: 'revoked: "loop"\nnext',
      data: {},
    },
  ]
  const lines = auditToJsonLines(entries).split('\n')
  expect(lines).toHaveLength(3)
  expect(lines[2]).toBe('')
  expect(JSON.parse(lines[0] as string)).toEqual({ ...entries[0], at: '2026-11-25T02:00:00.000Z' })
  expect(JSON.parse(lines[1] as string).summary).toBe('revoked: "loop"\nnext')
  expect(auditToJsonLines([])).toBe('')
})
