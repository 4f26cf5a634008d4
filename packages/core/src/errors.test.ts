import { describe, expect, it } from 'vitest'
import {
  AgentRevokedError,
  findKillSwitchError,
  KillSwitchError,
  SpendingCapExceededError,
} from './errors.js'

describe('errors', () => {
  it('carries a stable code and HTTP status, and names the fix', () => {
    const error = new SpendingCapExceededError({
      handle: 'a',
      spendingCapUsd: 1,
      spentUsd: 0.9,
      heldUsd: 0.05,
      requestedUsd: 0.2,
    })
    expect(error).toMatchObject({
      code: 'spending_cap_exceeded',
      status: 402,
      name: 'SpendingCapExceededError',
      availableUsd: 0.05,
    })
    expect(error.message).toContain('Raise the cap')
    expect(new AgentRevokedError().status).toBe(401)
  })

  it('recognises errors from another copy of the package by their marker', () => {
    const foreign = Object.assign(new Error('x'), {
      [Symbol.for('killswitch.error')]: true,
      code: 'agent_revoked',
    })
    expect(KillSwitchError.isInstance(foreign)).toBe(true)
    expect(KillSwitchError.isInstance(new Error('plain'))).toBe(false)
  })

  it('finds the kill switch error inside framework wrappers (cause chains, aggregates)', () => {
    const ours = new AgentRevokedError({ handle: 'a', reason: 'r' })
    const wrapped = new Error('MiddlewareError', { cause: new Error('inner', { cause: ours }) })
    expect(findKillSwitchError(wrapped)).toBe(ours)
    expect(findKillSwitchError(new AggregateError([new Error('x'), wrapped]))).toBe(ours)
    expect(findKillSwitchError(new Error('unrelated'))).toBeUndefined()
    const cycle: { cause?: unknown } = {}
    cycle.cause = cycle
    expect(findKillSwitchError(cycle)).toBeUndefined()
  })
})
