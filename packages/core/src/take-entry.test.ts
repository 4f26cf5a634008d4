import { describe, expect, it } from 'vitest'
import { takeEntry } from './take-entry.js'

describe('takeEntry', () => {
  it('returns the value once, removing it', () => {
    const calls = new Map([['run-1', 'call']])
    expect(takeEntry(calls, 'run-1')).toBe('call')
    expect(calls.has('run-1')).toBe(false)
    expect(takeEntry(calls, 'run-1')).toBeUndefined()
  })

  it('takes from a WeakMap too, and nothing under a key it does not hold', () => {
    const context = {}
    const tickets = new WeakMap([[context, 'ticket']])
    expect(takeEntry(tickets, {})).toBeUndefined()
    expect(takeEntry(tickets, context)).toBe('ticket')
    expect(tickets.has(context)).toBe(false)
  })
})
