import { describe, expect, it } from 'vitest'
import { InvalidConfigError } from './errors.js'
import { createKillSwitch } from './kill-switch.js'

describe('approvals API', () => {
  it('lists pending requests, approves with a bounded grant, and emits the decision', async () => {
    let now = Date.parse('2026-12-01T10:00:00Z')
    const ks = createKillSwitch({ now: () => now, runaway: false })
    await ks.agents.create({ handle: 'a', spendingCap: 5, approvals: { enabled: true, waitMs: 0 } })
    expect((await ks.agents.get('a')).approvals).toEqual({ enabled: true, waitMs: 0 })
    await ks.store.openApproval({
      id: 'apr_1',
      handle: 'a',
      requestedMicros: 2_000_000,
      reason: 'cap',
      ttlMs: 60_000,
      now,
    })
    const decided: string[] = []
    ks.on('approval_decided', (event) => decided.push(`${event.id}:${event.status}`))
    expect(await ks.approvals.list({ status: 'pending' })).toEqual([
      expect.objectContaining({ id: 'apr_1', handle: 'a', status: 'pending', requested: 2 }),
    ])
    // Why, kept and audited, a key pasted into it masked (red team rt40: no why was kept).
    const key = `sk-proj-${'Ab3dEf9hIj'.repeat(5)}`
    const approved = await ks.approvals.approve('apr_1', {
      amount: 10,
      ttlMs: 3_600_000,
      by: 'alice',
      reason: `quarter-end batch, key ${key} rotated`,
    })
    expect(approved).toMatchObject({
      status: 'approved',
      decidedBy: 'alice',
      decisionReason: 'quarter-end batch, key [redacted] rotated',
      grant: { amount: 10, expiresAt: '2026-12-01T11:00:00.000Z' },
    })
    expect(decided).toEqual(['apr_1:approved'])
    expect((await ks.agents.get('a')).grants).toEqual([
      { approvalId: 'apr_1', amount: 10, expiresAt: '2026-12-01T11:00:00.000Z' },
    ])
    // What the live grants add to the cap: the snapshot says it, so no reader sums them.
    expect((await ks.agents.get('a')).granted).toBe(10)
    const audit = await ks.audit('a')
    expect(audit.at(-1)).toMatchObject({
      type: 'approval',
      data: {
        event: 'approved',
        by: 'alice',
        amount: 10,
        reason: expect.stringContaining('quarter-end'),
      },
    })
    expect(JSON.stringify(audit)).not.toContain(key)
    // Expired, it adds nothing, listed or not yet swept.
    now = Date.parse('2026-12-01T11:00:00.001Z')
    expect((await ks.agents.get('a')).granted).toBe(0)
  })

  it('refuses bad grants and second decisions with the field named; a revoked agent is never approved', async () => {
    const ks = createKillSwitch({ runaway: false })
    await ks.agents.create({ handle: 'b', spendingCap: 5 })
    const now = Date.now()
    await ks.store.openApproval({
      id: 'apr_2',
      handle: 'b',
      requestedMicros: 1,
      reason: 'cap',
      ttlMs: 60_000,
      now,
    })
    await expect(
      ks.approvals.approve('apr_2', { amount: -1, ttlMs: 60_000 }),
    ).rejects.toMatchObject({ field: 'amount' })
    // Below a micro-dollar it would be recorded as a $0 grant.
    await expect(
      ks.approvals.approve('apr_2', { amount: 1e-7, ttlMs: 60_000 }),
    ).rejects.toMatchObject({ code: 'invalid_config', field: 'amount' })
    await expect(ks.approvals.approve('apr_2', { amount: 1, ttlMs: 0 })).rejects.toMatchObject({
      field: 'ttlMs',
    })
    const denied = await ks.approvals.deny('apr_2', { reason: 'looping' })
    expect(denied).toMatchObject({
      status: 'denied',
      decisionReason: 'looping',
      decidedBy: 'operator',
    })
    await expect(ks.approvals.deny('apr_2')).rejects.toSatisfy(InvalidConfigError.isInstance)
    // Revoked: its open requests are denied with it (the store refuses to approve them too:
    // the conformance suite's case), so nobody is asked a question with one answer.
    await ks.store.openApproval({
      id: 'apr_3',
      handle: 'b',
      requestedMicros: 1,
      reason: 'cap',
      ttlMs: 60_000,
      now,
    })
    await ks.agents.revoke('b', { reason: 'loop' })
    expect(await ks.approvals.get('apr_3')).toMatchObject({
      status: 'denied',
      decidedBy: 'killswitch',
      decisionReason: 'the agent was revoked',
    })
    await expect(ks.approvals.approve('apr_3', { amount: 1, ttlMs: 60_000 })).rejects.toSatisfy(
      InvalidConfigError.isInstance,
    )
    // An id no request has is not found (404), for reading and deciding alike.
    for (const attempt of [
      () => ks.approvals.get('nope'),
      () => ks.approvals.approve('nope', { amount: 1, ttlMs: 60_000 }),
      () => ks.approvals.deny('nope'),
    ]) {
      await expect(attempt()).rejects.toMatchObject({ code: 'approval_not_found', status: 404 })
    }
  })
})

describe('approvals.list', () => {
  it('refuses a status it does not know, naming the statuses: never an empty queue for a typo', async () => {
    const ks = createKillSwitch()
    for (const filter of [{ status: 'pendng' }, { state: 'pending' }, 'pending']) {
      await expect(ks.approvals.list(filter as never)).rejects.toMatchObject({
        code: 'invalid_config',
        message: expect.stringMatching(/pending|status|state|approvals\.list/),
      })
    }
    expect(await ks.approvals.list({ status: 'expired' })).toEqual([])
    expect(await ks.approvals.list()).toEqual([])
    await ks.close()
  })
})

describe('who decided, as the audit log keeps it', () => {
  it.each([
    ['a credential', `ks_${'Ab1'.repeat(14)}x`],
    ['a provider key', 'alice sk-proj-abc123DEF456ghi789JKL012'],
    ['control characters', 'alice\u001b[31m\nbob'],
    ["the detectors' name", 'runaway'],
  ])('refuses %s as `by`, naming the field, deciding nothing', async (_, by) => {
    const ks = createKillSwitch({ runaway: false })
    await ks.agents.create({
      handle: 'asker',
      spendingCap: 1,
      approvals: { enabled: true, waitMs: 0 },
    })
    await ks.store.openApproval({
      id: 'apr_by',
      handle: 'asker',
      requestedMicros: 500_000,
      reason: 'cap',
      ttlMs: 60_000,
      now: Date.now(),
    })
    for (const decide of [
      () => ks.approvals.approve('apr_by', { amount: 0.5, ttlMs: 60_000, by }),
      () => ks.approvals.deny('apr_by', { by }),
    ]) {
      await expect(decide()).rejects.toMatchObject({ code: 'invalid_config', field: 'by' })
    }
    expect(await ks.approvals.get('apr_by')).toMatchObject({ status: 'pending' })
  })
})
