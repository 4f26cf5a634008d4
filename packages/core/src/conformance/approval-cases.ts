// Conformance cases for approvals: one open request per agent, a decision once, a grant
// that raises what the agent may spend by exactly its amount until it expires, atomically
// with the ledger, and never for a revoked agent.
import { expect, it } from 'vitest'
import { AgentRevokedError, ApprovalNotFoundError, InvalidConfigError } from '../errors.js'
import { type SuiteContext, testAgentRecord, uniqueHandle } from './support.js'

export function approvalCases(context: SuiteContext): void {
  it('shares one open request between concurrent callers and decides it once', async () => {
    const store = await context.open()
    const handle = uniqueHandle('ask')
    await store.createAgent(testAgentRecord(handle, 1_000))
    const opened = await Promise.all(
      [1, 2, 3].map((i) =>
        store.openApproval({
          id: `${handle}-r${i}`,
          handle,
          requestedMicros: 500,
          reason: 'over the cap',
          ttlMs: 60_000,
          now: 1_000,
        }),
      ),
    )
    expect(opened.filter((result) => result.created)).toHaveLength(1)
    const id = opened[0]?.approval.id as string
    expect(new Set(opened.map((result) => result.approval.id))).toEqual(new Set([id]))
    const denied = await store.decideApproval({
      id,
      status: 'denied',
      by: 'ops',
      reason: 'looping',
      now: 2_000,
    })
    expect(denied).toMatchObject({
      status: 'denied',
      decidedBy: 'ops',
      decisionReason: 'looping',
      decidedAt: 2_000,
    })
    await expect(
      store.decideApproval({
        id,
        status: 'approved',
        by: 'ops',
        grant: { amountMicros: 1, ttlMs: 1_000 },
        now: 2_001,
      }),
    ).rejects.toSatisfy(InvalidConfigError.isInstance)
    // An id no request has: not found (404), not bad input, and nothing written.
    await expect(
      store.decideApproval({ id: `${handle}-never`, status: 'denied', by: 'ops', now: 2_002 }),
    ).rejects.toSatisfy(
      (error: unknown) => ApprovalNotFoundError.isInstance(error) && error.status === 404,
    )
    // Decided: the next caller opens a new request.
    const next = await store.openApproval({
      id: `${handle}-r4`,
      handle,
      requestedMicros: 500,
      reason: 'again',
      ttlMs: 60_000,
      now: 3_000,
    })
    expect(next.created).toBe(true)
    expect((await store.listApprovals(3_000, { status: 'pending' })).map((a) => a.id)).toContain(
      `${handle}-r4`,
    )
  })

  it('asks, in the one open request, for what every call waiting on it needs', async () => {
    const store = await context.open()
    const handle = uniqueHandle('joined')
    await store.createAgent(testAgentRecord(handle, 1_000))
    const ask = (i: number, requestedMicros: number, now = 1_000, waits = true) =>
      store.openApproval({
        id: `${handle}-j${i}`,
        handle,
        requestedMicros,
        reason: 'over the cap',
        ttlMs: 60_000,
        now,
        waits,
      })
    const first = await ask(1, 200_000)
    expect(first).toMatchObject({ created: true, approval: { requestedMicros: 200_000 } })
    const joined = await ask(2, 500_000, 1_500)
    expect(joined).toMatchObject({
      created: false,
      approval: { id: first.approval.id, requestedMicros: 700_000 },
    })
    // A caller that does not wait (refused at once, it may retry in a loop) adds nothing.
    for (const i of [10, 11, 12]) {
      const retry = await ask(i, 500_000, 1_600, false)
      expect(retry).toMatchObject({ created: false, approval: { requestedMicros: 700_000 } })
    }
    expect(await store.getApproval(first.approval.id, 2_000)).toMatchObject({
      requestedMicros: 700_000,
      createdAt: 1_000,
    })
    // Decided: the amount it was decided at stays; the next call asks afresh.
    await store.decideApproval({ id: first.approval.id, status: 'denied', by: 'ops', now: 2_000 })
    expect(await ask(3, 10_000, 2_100)).toMatchObject({
      created: true,
      approval: { requestedMicros: 10_000 },
    })
    expect(await store.getApproval(first.approval.id, 2_200)).toMatchObject({
      requestedMicros: 700_000,
    })
  })

  it('takes off what a call added when it stops waiting; the last leaves its need', async () => {
    const store = await context.open()
    const handle = uniqueHandle('left')
    await store.createAgent(testAgentRecord(handle, 1_000))
    const ask = (i: number, requestedMicros: number) =>
      store.openApproval({
        id: `${handle}-w${i}`,
        handle,
        requestedMicros,
        reason: 'over the cap',
        ttlMs: 60_000,
        now: 1_000,
        waits: true,
      })
    const asked = async (id: string) => (await store.getApproval(id, 1_500))?.requestedMicros
    const { approval } = await ask(1, 100_000)
    const { id } = approval
    await ask(2, 300_000)
    await ask(3, 300_000)
    expect(await asked(id)).toBe(700_000)
    const leave = (requestedMicros: number, leaving = id) =>
      store.leaveApproval({ id: leaving, handle, requestedMicros, now: 1_200 })
    await leave(300_000)
    expect(await asked(id)).toBe(400_000)
    // Another request's id, or a bad amount: nothing changes.
    await leave(300_000, `${handle}-other`)
    await expect(leave(-1)).rejects.toSatisfy(InvalidConfigError.isInstance)
    expect(await asked(id)).toBe(400_000)
    await leave(300_000)
    await leave(100_000)
    // The last to leave leaves its need: one call retried 30 times asks what it needs.
    expect(await asked(id)).toBe(100_000)
    for (let retry = 0; retry < 30; retry++) {
      await ask(10 + retry, 100_000)
      await leave(100_000)
    }
    expect(await asked(id)).toBe(100_000)
    // Decided: it stays at what it was decided at.
    await ask(50, 300_000)
    await store.decideApproval({ id, status: 'denied', by: 'ops', now: 1_300 })
    await leave(300_000)
    expect(await asked(id)).toBe(400_000)
  })

  it('grants exactly its amount past the cap, until it expires', async () => {
    const store = await context.open()
    const handle = uniqueHandle('grant')
    await store.createAgent(testAgentRecord(handle, 1_000))
    await store.reserve({ handle, holdId: 'a', amountMicros: 1_000, ttlMs: 600_000, now: 1_000 })
    await store.settle({ handle, holdId: 'a', costMicros: 1_000, now: 1_000 })
    expect(
      (await store.reserve({ handle, holdId: 'b', amountMicros: 1, ttlMs: 60_000, now: 1_000 })).ok,
    ).toBe(false)
    const { approval } = await store.openApproval({
      id: `${handle}-r`,
      handle,
      requestedMicros: 300,
      reason: 'cap',
      ttlMs: 60_000,
      now: 1_000,
    })
    const approved = await store.decideApproval({
      id: approval.id,
      status: 'approved',
      by: 'ops',
      grant: { amountMicros: 500, ttlMs: 10_000 },
      now: 2_000,
    })
    expect(approved.grant).toEqual({ amountMicros: 500, expiresAt: 12_000 })
    expect((await store.getAgent(handle, 2_000))?.grants).toEqual([
      { approvalId: approval.id, amountMicros: 500, expiresAt: 12_000 },
    ])
    const over = await store.reserve({
      handle,
      holdId: 'c',
      amountMicros: 501,
      ttlMs: 60_000,
      now: 2_000,
    })
    expect(over).toMatchObject({ ok: false, refusal: { level: 'agent', limitMicros: 1_500 } })
    const used = await store.reserve({
      handle,
      holdId: 'd',
      amountMicros: 500,
      ttlMs: 60_000,
      now: 2_000,
      audit: { at: 2_000, handle, type: 'hold', summary: 'd', data: {} },
    })
    expect(used.ok).toBe(true)
    expect((await store.readAudit(handle)).at(-1)?.data).toMatchObject({ grants: [approval.id] })
    await store.settle({ handle, holdId: 'd', costMicros: 200, now: 3_000 })
    expect(
      (await store.reserve({ handle, holdId: 'e', amountMicros: 300, ttlMs: 60_000, now: 3_000 }))
        .ok,
    ).toBe(true)
    await store.release({ handle, holdId: 'e', now: 3_000 })
    // Expired: the cap is the cap again; the expiry is audited once.
    expect(
      (await store.reserve({ handle, holdId: 'f', amountMicros: 1, ttlMs: 60_000, now: 12_000 }))
        .ok,
    ).toBe(false)
    expect((await store.getAgent(handle, 12_000))?.grants).toEqual([])
    const expiries = (await store.readAudit(handle)).filter(
      (entry) => entry.data.event === 'grant_expired',
    )
    expect(expiries).toHaveLength(1)
  })

  it('drops an expired grant on every read, audited once', async () => {
    const store = await context.open()
    // One agent per read: each read is the first to find its agent's grant expired.
    const reads: [string, (handle: string, now: number) => Promise<unknown>][] = [
      ['getAgent', (handle, now) => store.getAgent(handle, now)],
      ['find', (handle, now) => store.findAgentByCredentialHash(`hash-of-${handle}`, now)],
      [
        'listAgents',
        async (handle, now) => (await store.listAgents(now)).find((a) => a.handle === handle),
      ],
    ]
    for (const [name, read] of reads) {
      const handle = uniqueHandle(`grant-read-${name}`)
      await store.createAgent(testAgentRecord(handle, 100))
      await store.openApproval({
        id: `${handle}-r`,
        handle,
        requestedMicros: 500,
        reason: 'more',
        ttlMs: 60_000,
        now: 1_000,
      })
      await store.decideApproval({
        id: `${handle}-r`,
        status: 'approved',
        by: 'ops',
        grant: { amountMicros: 500, ttlMs: 1_000 },
        now: 1_000,
      })
      expect(await read(handle, 1_999), name).toMatchObject({ grants: [{ expiresAt: 2_000 }] })
      // Expired 3 s ago, and no write since: the read itself drops it.
      expect(await read(handle, 5_000), name).toMatchObject({ handle, grants: [] })
      expect(await read(handle, 6_000), name).toMatchObject({ handle, grants: [] })
      const expiries = (await store.readAudit(handle)).filter(
        (entry) => entry.data.event === 'grant_expired',
      )
      expect(expiries, name).toHaveLength(1)
      expect(expiries[0]?.data).toMatchObject({ approvalId: `${handle}-r`, amount: 0.0005 })
    }
  })

  it('never approves a revoked agent back, and lets a request expire undecided', async () => {
    const store = await context.open()
    const handle = uniqueHandle('revoked-ask')
    await store.createAgent(testAgentRecord(handle, 1_000))
    const { approval } = await store.openApproval({
      id: `${handle}-r`,
      handle,
      requestedMicros: 1,
      reason: 'cap',
      ttlMs: 60_000,
      now: 1_000,
    })
    await store.revokeAgent(handle, 'loop', 1_500)
    await expect(
      store.decideApproval({
        id: approval.id,
        status: 'approved',
        by: 'ops',
        grant: { amountMicros: 5, ttlMs: 1_000 },
        now: 2_000,
      }),
    ).rejects.toSatisfy(AgentRevokedError.isInstance)
    expect((await store.getAgent(handle, 2_000))?.grants).toEqual([])
    const other = uniqueHandle('stale-ask')
    await store.createAgent(testAgentRecord(other, 1_000))
    const stale = await store.openApproval({
      id: `${other}-r`,
      handle: other,
      requestedMicros: 1,
      reason: 'cap',
      ttlMs: 1_000,
      now: 1_000,
    })
    expect((await store.getApproval(stale.approval.id, 2_000))?.status).toBe('expired')
    await expect(
      store.decideApproval({
        id: stale.approval.id,
        status: 'approved',
        by: 'ops',
        grant: { amountMicros: 5, ttlMs: 1_000 },
        now: 2_000,
      }),
    ).rejects.toSatisfy(InvalidConfigError.isInstance)
  })
}
