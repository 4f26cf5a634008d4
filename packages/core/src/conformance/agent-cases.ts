// Conformance cases for agents, revocation, events, audit, activity windows and marks.
import { expect, it } from 'vitest'
import { AgentExistsError, AgentNotFoundError, ConcurrentUpdateError } from '../errors.js'
import type { ActivityEvent, ReserveResult, Store, StoreEvent } from '../store.js'
import {
  entry,
  refusedField,
  reservedWindow,
  type SuiteContext,
  testAgentRecord,
  uniqueHandle,
  waitFor,
} from './support.js'

export function agentCases(context: SuiteContext): void {
  it('creates, gets, finds by credential hash and lists agents', async () => {
    const store = await context.open()
    const handle = uniqueHandle('create')
    const created = await store.createAgent(testAgentRecord(handle, 5_000_000))
    expect(created).toMatchObject({
      handle,
      status: 'active',
      capMicros: 5_000_000,
      spentMicros: 0,
      heldMicros: 0,
    })
    expect(await store.getAgent(handle, 1_000)).toMatchObject({
      handle,
      credentialHash: `hash-of-${handle}`,
    })
    expect((await store.findAgentByCredentialHash(`hash-of-${handle}`, 1_000))?.handle).toBe(handle)
    expect(await store.findAgentByCredentialHash('hash-of-nobody', 1_000)).toBeUndefined()
    expect(await store.getAgent(uniqueHandle('missing'), 1_000)).toBeUndefined()
    expect((await store.listAgents(1_000)).map((agent) => agent.handle)).toContain(handle)
  })

  it('refuses a duplicate handle instead of overwriting', async () => {
    const store = await context.open()
    const handle = uniqueHandle('dup')
    await store.createAgent(testAgentRecord(handle, 1_000_000))
    await store.reserve({
      handle,
      holdId: 'h1',
      amountMicros: 10,
      ttlMs: 9_998_999,
      now: 1_000,
    })
    await expect(store.createAgent(testAgentRecord(handle, 7))).rejects.toSatisfy(
      (error: unknown) =>
        AgentExistsError.isInstance(error) && (error as AgentExistsError).code === 'agent_exists',
    )
    expect(await store.getAgent(handle, 1_000)).toMatchObject({
      capMicros: 1_000_000,
      heldMicros: 10,
    })
  })

  it('answers a create retried with the same record (a timed-out create the store ran) with the agent', async () => {
    const store = await context.open()
    const handle = uniqueHandle('retried')
    const record = testAgentRecord(handle, 1_000_000)
    const first = await store.createAgent(record)
    await store.reserve({ handle, holdId: 'h1', amountMicros: 10, ttlMs: 9_998_999, now: 1_000 })

    const again = await store.createAgent(record)
    expect(again).toMatchObject({
      handle,
      credentialHash: first.credentialHash,
      capMicros: 1_000_000,
    })
    // Not created twice: the hold taken after the first create is still there.
    expect(await store.getAgent(handle, 1_000)).toMatchObject({ heldMicros: 10 })
    // Another credential for the handle is refused.
    await expect(
      store.createAgent({ ...record, credentialHash: `${record.credentialHash}x` }),
    ).rejects.toSatisfy(AgentExistsError.isInstance)
  })

  it('revokes for good: reserves are refused, the first reason is kept, subscribers hear it', async () => {
    const store = await context.open()
    const handle = uniqueHandle('revoke')
    const events: StoreEvent[] = []
    const unsubscribe = store.subscribe((event) => events.push(event))
    await store.createAgent(testAgentRecord(handle, 1_000_000))
    const first = await store.revokeAgent(handle, 'loop in search tool', 2_000)
    expect(first.alreadyRevoked).toBe(false)
    expect(first.agent).toMatchObject({
      status: 'revoked',
      revokedReason: 'loop in search tool',
      revokedAt: 2_000,
    })
    const second = await store.revokeAgent(handle, 'another reason', 3_000)
    expect(second.alreadyRevoked).toBe(true)
    expect(second.agent.revokedReason).toBe('loop in search tool')
    const reserve = await store.reserve({
      handle,
      holdId: 'after',
      amountMicros: 1,
      ttlMs: 6000,
      now: 3_000,
    })
    expect(reserve).toMatchObject({ ok: false, reason: 'revoked' })
    expect(
      await waitFor(() =>
        events.some((event) => event.type === 'revoked' && event.handle === handle),
      ),
    ).toBe(true)
    unsubscribe()
  })

  it('refuses a new agent with a poisoned cap or a bad time, naming the field and writing nothing', async () => {
    const store = await context.open()
    for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, -1, 0.5, 1e15 + 1, 1e21]) {
      const handle = uniqueHandle('poisoned')
      expect(await refusedField(() => store.createAgent(testAgentRecord(handle, bad)))).toBe(
        'capMicros',
      )
      expect(await store.getAgent(handle, 1_000)).toBeUndefined()
      expect(await store.findAgentByCredentialHash(`hash-of-${handle}`, 1_000)).toBeUndefined()
    }
    // One bound for a cap wherever it is set ($1 billion, as an update's): at it, accepted.
    const largest = uniqueHandle('largest')
    await store.createAgent(testAgentRecord(largest, 1_000_000_000_000_000))
    expect(await store.getAgent(largest, 1_000)).toMatchObject({
      capMicros: 1_000_000_000_000_000,
    })
    const late = uniqueHandle('poisoned')
    const record = { ...testAgentRecord(late, 1_000), createdAt: Number.NaN }
    expect(await refusedField(() => store.createAgent(record))).toBe('createdAt')
    expect(await store.getAgent(late, 1_000)).toBeUndefined()
    // Reads check their clock as writes do: NaN must not read as "nothing has lapsed".
    const known = uniqueHandle('clock')
    await store.createAgent(testAgentRecord(known, 1_000))
    expect(await refusedField(() => store.getAgent(known, Number.NaN))).toBe('now')
    expect(
      await refusedField(() => store.findAgentByCredentialHash(`hash-of-${known}`, Number.NaN)),
    ).toBe('now')
    expect(await refusedField(() => store.listAgents(Number.NaN))).toBe('now')
  })

  it('refuses a policy made from one that changed since, writing nothing', async () => {
    const store = await context.open()
    const handle = uniqueHandle('policy-race')
    await store.createAgent(testAgentRecord(handle, 1_000_000))
    const read = await store.getAgent(handle, 1_000)
    if (!read) throw new Error('no agent')
    const from = JSON.stringify(read.policy)
    const rules = { ...read.policy, spendRules: { allowedPayees: ['0xabc'] } }
    await store.updateAgent(handle, { policy: rules, policyFrom: from }, 2_000)
    // Made from the policy before that update: it would undo the spend rules.
    const stale = { ...read.policy, approvals: { enabled: true, waitMs: 0 } }
    const error = await store
      .updateAgent(handle, { policy: stale, policyFrom: from, capMicros: 5 }, 3_000)
      .catch((caught: unknown) => caught)
    expect(error).toBeInstanceOf(ConcurrentUpdateError)
    expect(error).toMatchObject({ code: 'concurrent_update', handle })
    const after = await store.getAgent(handle, 3_000)
    expect(after?.policy).toEqual(rules)
    expect(after?.capMicros).toBe(1_000_000)
    expect(after?.updatedAt).toBe(2_000)
    // Made from the policy as it is now: written.
    const fresh = { ...rules, approvals: { enabled: true, waitMs: 0 } }
    const current = JSON.stringify(after?.policy)
    await store.updateAgent(handle, { policy: fresh, policyFrom: current }, 4_000)
    expect((await store.getAgent(handle, 4_000))?.policy).toEqual(fresh)
  })

  it('refuses operations on unknown agents clearly', async () => {
    const store = await context.open()
    const handle = uniqueHandle('ghost')
    expect(
      await store.reserve({ handle, holdId: 'g', amountMicros: 1, ttlMs: 8000, now: 1_000 }),
    ).toMatchObject({
      ok: false,
      reason: 'not_found',
    })
    await expect(store.revokeAgent(handle, 'x', 1_000)).rejects.toSatisfy(
      AgentNotFoundError.isInstance,
    )
    await expect(store.updateAgent(handle, { capMicros: 5 }, 1_000)).rejects.toSatisfy(
      AgentNotFoundError.isInstance,
    )
  })

  it('publishes one event for a revocation, however often it is repeated', async () => {
    const store = await context.open()
    const handle = uniqueHandle('once')
    const heard: StoreEvent[] = []
    store.subscribe((event) => heard.push(event))
    await store.createAgent(testAgentRecord(handle, 10_000))
    await store.revokeAgent(handle, 'first', 2_000)
    await store.revokeAgent(handle, 'second', 3_000)
    await waitFor(() => heard.some((event) => event.type === 'revoked' && event.handle === handle))
    // Give a second, wrong event time to arrive before counting.
    await new Promise((resolve) => setTimeout(resolve, 100))
    const revoked = heard.filter((event) => event.type === 'revoked' && event.handle === handle)
    expect(revoked).toHaveLength(1)
    expect(revoked[0]).toMatchObject({ reason: 'first' })
  })

  it('answers edge cases alike: unknown marks, empty audit pages, settle after a release', async () => {
    const store = await context.open()
    const handle = uniqueHandle('edges')
    await expect(store.markOnce(uniqueHandle('nobody'), 'k')).rejects.toSatisfy(
      AgentNotFoundError.isInstance,
    )
    await store.createAgent(testAgentRecord(handle, 10_000))
    store.appendAudit(entry(handle, 'created', 1))
    expect(await store.readAudit(handle, { limit: 0 })).toEqual([])
    expect((await store.release({ handle, holdId: 'never', now: 1_000 })).outcome).toBe('none')
    // Money reported spent is recorded even for a hold released before it was ever held.
    expect(
      (await store.settle({ handle, holdId: 'never', costMicros: 5, now: 1_000 })).outcome,
    ).toBe('late')
  })

  it('keeps ledger audit entries with their operation, in order', async () => {
    const store = await context.open()
    const handle = uniqueHandle('audit')
    await store.createAgent(testAgentRecord(handle, 10_000))
    store.appendAudit(entry(handle, 'created', 1))
    await store.reserve({
      handle,
      holdId: 'h',
      amountMicros: 10,
      ttlMs: 98_998,
      now: 2,
      audit: entry(handle, 'hold', 2),
    })
    await store.settle({
      handle,
      holdId: 'h',
      costMicros: 5,
      now: 3,
      audit: entry(handle, 'settled', 3),
    })
    // A duplicate settle must not add a second entry.
    await store.settle({
      handle,
      holdId: 'h',
      costMicros: 5,
      now: 4,
      audit: entry(handle, 'settled', 4),
    })
    // A refused reserve must not add its entry.
    await store.reserve({
      handle,
      holdId: 'big',
      amountMicros: 99_999,
      ttlMs: 98_995,
      now: 5,
      audit: entry(handle, 'hold', 5),
    })
    await store.revokeAgent(handle, 'done', 6, entry(handle, 'revoked', 6))
    const audit = await store.readAudit(handle)
    expect(audit.map((item) => [item.type, item.at])).toEqual([
      ['created', 1],
      ['hold', 2],
      ['settled', 3],
      ['revoked', 6],
    ])
    expect(audit[1]).toMatchObject({ summary: 'hold at 2', data: { n: 2 } })
    expect(await store.readAudit(handle, { limit: 2 })).toHaveLength(2)
  })

  it('keeps a bounded activity window, newest last', async () => {
    const store = await context.open()
    const handle = uniqueHandle('activity')
    await store.createAgent(testAgentRecord(handle, 10_000))
    let window: Awaited<ReturnType<Store['recordActivity']>> = []
    for (let i = 0; i < 25; i++) {
      window = await store.recordActivity(
        handle,
        { at: i, kind: 'tool_call', tool: 'search', hash: `h${i}` },
        10,
      )
    }
    expect(window).toHaveLength(10)
    expect(window.map((event) => event.at)).toEqual([15, 16, 17, 18, 19, 20, 21, 22, 23, 24])
    expect(window[9]).toMatchObject({ kind: 'tool_call', tool: 'search', hash: 'h24' })
  })

  it('answers each reserve with the window as it stood then, whatever is appended after', async () => {
    const store = await context.open()
    const handle = uniqueHandle('window')
    await store.createAgent(testAgentRecord(handle, 1_000_000_000))
    const keep = 4
    const appended: number[] = []
    const answered: { result: ReserveResult; expected: number[] }[] = []
    // Batches of 1 to 3 events, past several times the window: a store that keeps its own
    // array and trims it (or starts a new one) must not change a window it answered before.
    for (let i = 0; i < 24; i++) {
      const events: ActivityEvent[] = Array.from({ length: 1 + (i % 3) }, (_, j) => ({
        at: 1_000 + i * 10 + j,
        kind: 'tool_call',
        tool: 'search',
        hash: `h${i}-${j}`,
      }))
      appended.push(...events.map((event) => event.at))
      const result = await store.reserve({
        handle,
        holdId: `w${i}`,
        amountMicros: 1,
        ttlMs: 60_000,
        now: 1_000,
        activity: { events, keep },
      })
      answered.push({ result, expected: appended.slice(-keep) })
      if (i % 4 === 3) await store.recordActivity(handle, [], keep)
    }
    for (const { result, expected } of answered) {
      expect(reservedWindow(result)?.map((event) => event.at)).toEqual(expected)
    }
  })

  it('sets a mark once, for exactly one of many concurrent callers', async () => {
    const store = await context.open()
    const handle = uniqueHandle('mark')
    await store.createAgent(testAgentRecord(handle, 10_000))
    const results = await Promise.all(
      Array.from({ length: 20 }, () => store.markOnce(handle, 'threshold:0.8')),
    )
    expect(results.filter(Boolean)).toHaveLength(1)
    expect(await store.markOnce(handle, 'threshold:0.5')).toBe(true)
  })

  it('pages the audit log by seq, newest page first, oldest first within a page', async () => {
    const store = await context.open()
    const handle = uniqueHandle('pages')
    await store.createAgent(testAgentRecord(handle, 10_000))
    for (let i = 1; i <= 25; i++) store.appendAudit(entry(handle, 'alert', i))
    await store.flush()
    const last = await store.readAudit(handle, { limit: 10 })
    expect(last.map((item) => item.at)).toEqual([16, 17, 18, 19, 20, 21, 22, 23, 24, 25])
    const seqs = last.map((item) => item.seq as number)
    expect(seqs.every((seq, i) => i === 0 || seq > (seqs[i - 1] as number))).toBe(true)
    const previous = await store.readAudit(handle, { limit: 10, before: seqs[0] })
    expect(previous.map((item) => item.at)).toEqual([6, 7, 8, 9, 10, 11, 12, 13, 14, 15])
    const first = await store.readAudit(handle, { limit: 10, before: previous[0]?.seq })
    expect(first.map((item) => item.at)).toEqual([1, 2, 3, 4, 5])
    expect(await store.readAudit(handle, { before: first[0]?.seq })).toEqual([])
    expect(await store.readAudit(handle)).toHaveLength(25)
  })
}
