import { describe, expect, it } from 'vitest'
import { createAlertEvent } from './alert-event.js'

describe('createAlertEvent', () => {
  it('adds a UUID and an ISO time, and leaves absent optional fields out', () => {
    const event = createAlertEvent({
      type: 'revoked',
      agent: 'a',
      spent: 1,
      spendingCap: 2,
      reason: 'manual',
    })
    expect(event.id).toMatch(/^[0-9a-f-]{36}$/)
    expect(new Date(event.at).toISOString()).toBe(event.at)
    expect(Object.keys(event).sort()).toEqual([
      'agent',
      'at',
      'id',
      'reason',
      'spendingCap',
      'spent',
      'type',
    ])
  })

  it('gives every event its own id, and keeps a given id and time', () => {
    const input = {
      type: 'threshold',
      agent: 'a',
      spent: 1,
      spendingCap: 2,
      thresholdPct: 0.5,
    } as const
    expect(createAlertEvent(input).id).not.toBe(createAlertEvent(input).id)
    const fixed = createAlertEvent({ ...input, id: 'evt-1', at: 0 })
    expect(fixed).toMatchObject({ id: 'evt-1', at: '1970-01-01T00:00:00.000Z' })
  })
})
