// Conformance cases for budgets at every level: an agent's windows, shared budgets, a
// call's extra budget and run budgets, all held in one atomic reserve, windows rolling over
// exactly at their boundary with no job.
import { expect, it } from 'vitest'
import { windowKey } from '../ledger/levels.js'
import type { ReserveRequest, Store } from '../store.js'
import { type SuiteContext, testAgentRecord, uniqueHandle } from './support.js'

const HOUR = 3_600_000
const T0 = Date.parse('2026-12-01T10:00:00Z')

async function agentWith(
  store: Store,
  prefix: string,
  cap: number,
  patch: Parameters<Store['updateAgent']>[1],
) {
  const handle = uniqueHandle(prefix)
  await store.createAgent(testAgentRecord(handle, cap, T0))
  await store.updateAgent(handle, patch, T0)
  return handle
}

/** A reserve of `amountMicros` on run `run`, in a minute-long lease at `now`. */
function holdOnRun(
  store: Store,
  handle: string,
  run: NonNullable<ReserveRequest['run']>,
  holdId: string,
  amountMicros: number,
  now = T0,
) {
  return store.reserve({ handle, holdId, amountMicros, ttlMs: 60_000, now, run })
}

export function budgetCases(context: SuiteContext): void {
  it('refuses past an agent window, names it, and admits again when the window rolls over', async () => {
    const store = await context.open()
    const handle = await agentWith(store, 'window', 1_000_000, {
      limits: [{ amountMicros: 5_000, per: 'hour' }],
    })
    const first = await store.reserve({
      handle,
      holdId: 'a',
      amountMicros: 5_000,
      ttlMs: 60_000,
      now: T0,
    })
    expect(first).toMatchObject({ ok: true, levels: [`agent:${handle}/hour@${T0}`] })
    const refused = await store.reserve({
      handle,
      holdId: 'b',
      amountMicros: 1,
      ttlMs: 60_000,
      now: T0 + 1,
    })
    expect(refused).toMatchObject({
      ok: false,
      reason: 'cap',
      availableMicros: 0,
      refusal: {
        level: 'agent',
        per: 'hour',
        resetsAt: T0 + HOUR,
        limitMicros: 5_000,
        heldMicros: 5_000,
      },
    })
    await store.settle({ handle, holdId: 'a', costMicros: 4_000, now: T0 + 2 })
    // 1,000 left this hour; the last millisecond of the hour is still this hour.
    expect(
      (
        await store.reserve({
          handle,
          holdId: 'c',
          amountMicros: 1_001,
          ttlMs: 60_000,
          now: T0 + HOUR - 1,
        })
      ).ok,
    ).toBe(false)
    expect(
      (
        await store.reserve({
          handle,
          holdId: 'd',
          amountMicros: 5_000,
          ttlMs: 60_000,
          now: T0 + HOUR,
        })
      ).ok,
    ).toBe(true)
  })

  it('charges a hold to the window it was taken in, even when settled in the next', async () => {
    const store = await context.open()
    const handle = await agentWith(store, 'straddle', 1_000_000, {
      limits: [{ amountMicros: 5_000, per: 'hour' }],
    })
    await store.reserve({
      handle,
      holdId: 'late',
      amountMicros: 3_000,
      ttlMs: 600_000,
      now: T0 + HOUR - 10,
    })
    await store.settle({ handle, holdId: 'late', costMicros: 2_500, now: T0 + HOUR + 10 })
    const [before, after] = await store.readUsage([
      windowKey('agent', handle, { amountMicros: 0, per: 'hour' }, T0),
      windowKey('agent', handle, { amountMicros: 0, per: 'hour' }, T0 + HOUR),
    ])
    expect(before).toEqual({ spentMicros: 2_500, heldMicros: 0 })
    expect(after).toEqual({ spentMicros: 0, heldMicros: 0 })
  })

  it('holds against a shared budget for every agent that draws on it, and names the budget', async () => {
    const store = await context.open()
    const team = uniqueHandle('team')
    await store.createBudget({
      id: team,
      limits: [{ amountMicros: 10_000, per: 'day' }],
      createdAt: T0,
      updatedAt: T0,
    })
    const a = await agentWith(store, 'a', 1_000_000, { budgets: [team] })
    const b = await agentWith(store, 'b', 1_000_000, { budgets: [team] })
    expect(
      (await store.reserve({ handle: a, holdId: 'x', amountMicros: 6_000, ttlMs: 60_000, now: T0 }))
        .ok,
    ).toBe(true)
    const refused = await store.reserve({
      handle: b,
      holdId: 'y',
      amountMicros: 5_000,
      ttlMs: 60_000,
      now: T0,
    })
    expect(refused).toMatchObject({
      ok: false,
      reason: 'cap',
      availableMicros: 4_000,
      refusal: { level: 'budget', budgetId: team, per: 'day' },
    })
    expect(
      (await store.reserve({ handle: b, holdId: 'z', amountMicros: 4_000, ttlMs: 60_000, now: T0 }))
        .ok,
    ).toBe(true)
    // The next day, with no job run, the budget is whole again.
    expect(
      (
        await store.reserve({
          handle: b,
          holdId: 'w',
          amountMicros: 10_000,
          ttlMs: 60_000,
          now: T0 + 24 * HOUR,
        })
      ).ok,
    ).toBe(true)
  })

  it('never overspends a shared budget under concurrency across agents', async () => {
    const store = await context.open()
    const shared = uniqueHandle('burst-budget')
    await store.createBudget({
      id: shared,
      limits: [{ amountMicros: 100_000, per: 'day' }],
      createdAt: T0,
      updatedAt: T0,
    })
    const handles = await Promise.all(
      [1, 2, 3].map((i) => agentWith(store, `burst${i}`, 1_000_000, { budgets: [shared] })),
    )
    const results = await Promise.all(
      Array.from({ length: 150 }, (_, i) =>
        store.reserve({
          handle: handles[i % 3] as string,
          holdId: `c${i}`,
          amountMicros: 7_000,
          ttlMs: 60_000,
          now: T0,
        }),
      ),
    )
    expect(results.filter((result) => result.ok)).toHaveLength(Math.floor(100_000 / 7_000))
    const refusals = results.filter((result) => !result.ok)
    expect(refusals.every((result) => !result.ok && result.refusal?.budgetId === shared)).toBe(true)
  })

  it('draws on a budget chosen for one call (an end customer) and refuses one that does not exist', async () => {
    const store = await context.open()
    const customer = uniqueHandle('customer')
    await store.createBudget({
      id: customer,
      limits: [{ amountMicros: 2_000, per: 'month' }],
      createdAt: T0,
      updatedAt: T0,
    })
    const handle = await agentWith(store, 'saas', 1_000_000, {})
    expect(
      (
        await store.reserve({
          handle,
          holdId: 'a',
          amountMicros: 2_000,
          ttlMs: 60_000,
          now: T0,
          budgets: [customer],
        })
      ).ok,
    ).toBe(true)
    expect(
      await store.reserve({
        handle,
        holdId: 'b',
        amountMicros: 1,
        ttlMs: 60_000,
        now: T0,
        budgets: [customer],
      }),
    ).toMatchObject({
      ok: false,
      refusal: { budgetId: customer, per: 'month' },
    })
    // The same agent for another customer is not held back by the first.
    expect(
      (await store.reserve({ handle, holdId: 'c', amountMicros: 1, ttlMs: 60_000, now: T0 })).ok,
    ).toBe(true)
    expect(
      await store.reserve({
        handle,
        holdId: 'd',
        amountMicros: 1,
        ttlMs: 60_000,
        now: T0,
        budgets: ['no-such-budget'],
      }),
    ).toMatchObject({
      ok: false,
      refusal: { level: 'budget', budgetId: 'no-such-budget', limitMicros: 0 },
    })
  })

  it('gives a run its own budget, and a sub-run draws on its parent run too', async () => {
    const store = await context.open()
    const handle = await agentWith(store, 'runner', 1_000_000, {})
    const run = uniqueHandle('run')
    const child = uniqueHandle('child')
    expect(
      (
        await store.reserve({
          handle,
          holdId: 'p1',
          amountMicros: 6_000,
          ttlMs: 60_000,
          now: T0,
          run: { id: run, capMicros: 10_000 },
        })
      ).ok,
    ).toBe(true)
    // The child has 5,000 of its own, but its parent has only 4,000 left.
    const refused = await store.reserve({
      handle,
      holdId: 'c1',
      amountMicros: 4_500,
      ttlMs: 60_000,
      now: T0,
      run: { id: child, capMicros: 5_000, parentId: run },
    })
    expect(refused).toMatchObject({
      ok: false,
      availableMicros: 4_000,
      refusal: { level: 'budget', budgetId: `run:${run}` },
    })
    expect(
      (
        await store.reserve({
          handle,
          holdId: 'c2',
          amountMicros: 4_000,
          ttlMs: 60_000,
          now: T0,
          run: { id: child, capMicros: 5_000, parentId: run },
        })
      ).ok,
    ).toBe(true)
    expect(await store.getBudget(`run:${child}`)).toMatchObject({
      parentId: `run:${run}`,
      limits: [{ amountMicros: 5_000, per: 'lifetime' }],
    })
    expect(
      (
        await store.reserve({
          handle,
          holdId: 'p2',
          amountMicros: 1,
          ttlMs: 60_000,
          now: T0,
          run: { id: run },
        })
      ).ok,
    ).toBe(false)
  })

  it('holds a call to its own runCap even when the run was made with a larger one (red team: $4.00 spent on a run capped at $0.30)', async () => {
    const store = await context.open()
    const handle = await agentWith(store, 'runcap', 1_000_000, {})
    const id = uniqueHandle('run')
    const hold = (holdId: string, amountMicros: number, capMicros?: number) =>
      holdOnRun(
        store,
        handle,
        capMicros === undefined ? { id } : { id, capMicros },
        holdId,
        amountMicros,
      )
    // The run is made by a call that gives $0.005; a later call gives $0.003.
    expect(await hold('big1', 1_000, 5_000)).toMatchObject({ ok: true })
    expect(await hold('small1', 2_500, 3_000)).toMatchObject({
      ok: false,
      reason: 'cap',
      availableMicros: 2_000,
      refusal: {
        level: 'budget',
        budgetId: `run:${id}`,
        per: 'lifetime',
        limitMicros: 3_000,
        spentMicros: 0,
        heldMicros: 1_000,
      },
    })
    expect(await hold('small2', 2_000, 3_000)).toMatchObject({ ok: true })
    expect(await hold('small3', 1, 3_000)).toMatchObject({
      ok: false,
      refusal: { budgetId: `run:${id}`, limitMicros: 3_000, heldMicros: 3_000 },
    })
    // The run keeps its first cap: the larger call, and one that gives none, are held to it.
    expect(await store.getBudget(`run:${id}`)).toMatchObject({
      limits: [{ amountMicros: 5_000, per: 'lifetime' }],
    })
    expect(await hold('big2', 2_000, 5_000)).toMatchObject({ ok: true })
    expect(await hold('none', 1)).toMatchObject({
      ok: false,
      refusal: { budgetId: `run:${id}`, limitMicros: 5_000, heldMicros: 5_000 },
    })
    expect(await hold('bigger', 1, 9_000)).toMatchObject({
      ok: false,
      refusal: { budgetId: `run:${id}`, limitMicros: 5_000 },
    })
    // A poisoned cap on a run that exists is refused by name too, and holds nothing.
    const before = await store.getAgent(handle, T0)
    await expect(Promise.resolve().then(() => hold('poison', 1, Number.NaN))).rejects.toMatchObject(
      { field: 'run.capMicros' },
    )
    expect(await store.getAgent(handle, T0)).toEqual(before)
  })

  it('a run made without a cap takes the first cap a later call gives, once that call is granted', async () => {
    const store = await context.open()
    const handle = await agentWith(store, 'runcap-late', 1_000_000, {})
    const id = uniqueHandle('run')
    const parentId = uniqueHandle('parent')
    const hold = (holdId: string, amountMicros: number, capMicros?: number) =>
      holdOnRun(
        store,
        handle,
        { id, parentId, ...(capMicros === undefined ? {} : { capMicros }) },
        holdId,
        amountMicros,
        T0 + 1,
      )
    // Only a parent: the run's budget is made with no cap.
    expect(await hold('free', 4_000)).toMatchObject({ ok: true })
    expect(await store.getBudget(`run:${id}`)).toMatchObject({ limits: [] })
    // A call that gives $0.005 is held to it (counted from the first call that gives a cap);
    // refused, it sets nothing.
    expect(await hold('over', 6_000, 5_000)).toMatchObject({
      ok: false,
      availableMicros: 5_000,
      refusal: { level: 'budget', budgetId: `run:${id}`, limitMicros: 5_000, heldMicros: 0 },
    })
    expect(await store.getBudget(`run:${id}`)).toMatchObject({ limits: [] })
    expect(await hold('capped', 1_000, 5_000)).toMatchObject({ ok: true })
    expect(await store.getBudget(`run:${id}`)).toEqual({
      id: `run:${id}`,
      limits: [{ amountMicros: 5_000, per: 'lifetime' }],
      parentId: `run:${parentId}`,
      createdAt: T0 + 1,
      updatedAt: T0 + 1,
    })
    // Now the run's cap: a call with none, or a larger one, is held to it.
    expect(await hold('after', 4_001)).toMatchObject({
      ok: false,
      refusal: { budgetId: `run:${id}`, limitMicros: 5_000, heldMicros: 1_000 },
    })
    expect(await hold('larger', 4_001, 8_000)).toMatchObject({
      ok: false,
      refusal: { budgetId: `run:${id}`, limitMicros: 5_000, heldMicros: 1_000 },
    })
    expect(await hold('fits', 4_000)).toMatchObject({ ok: true })
  })

  it("a sub-run's reserve that its parent run refuses saves nothing: neither the new run nor its first cap", async () => {
    const store = await context.open()
    const handle = await agentWith(store, 'runcap-parent', 1_000_000, {})
    const parent = uniqueHandle('parent')
    const id = uniqueHandle('child')
    const hold = (holdId: string, amountMicros: number, run: { capMicros?: number }) =>
      holdOnRun(store, handle, { id, parentId: parent, ...run }, holdId, amountMicros)
    await holdOnRun(store, handle, { id: parent, capMicros: 1_000 }, 'p', 900)
    const refusedByParent = { ok: false, refusal: { budgetId: `run:${parent}` } }
    expect(await hold('new', 500, { capMicros: 800 })).toMatchObject(refusedByParent)
    expect(await store.getBudget(`run:${id}`)).toBeUndefined()
    expect(await hold('uncapped', 50, {})).toMatchObject({ ok: true })
    expect(await hold('cap', 500, { capMicros: 800 })).toMatchObject(refusedByParent)
    expect(await store.getBudget(`run:${id}`)).toMatchObject({ limits: [] })
    expect(await hold('capped', 40, { capMicros: 800 })).toMatchObject({ ok: true })
    expect(await store.getBudget(`run:${id}`)).toMatchObject({
      limits: [{ amountMicros: 800, per: 'lifetime' }],
    })
  })

  it('a sub-run whose parent run has no budget draws on its own only (a missing run limits nothing)', async () => {
    const store = await context.open()
    const handle = await agentWith(store, 'orphan', 1_000_000, {})
    const child = { id: uniqueHandle('child'), capMicros: 5_000, parentId: uniqueHandle('parent') }
    const hold = (holdId: string, amountMicros: number) =>
      store.reserve({ handle, holdId, amountMicros, ttlMs: 60_000, now: T0, run: child })
    expect(await hold('c1', 4_000)).toMatchObject({ ok: true })
    expect(await hold('c2', 2_000)).toMatchObject({
      ok: false,
      refusal: { level: 'budget', budgetId: `run:${child.id}` },
    })
    // The parent is still not made: nothing was asked of it.
    expect(await store.getBudget(`run:${child.parentId}`)).toBeUndefined()
  })

  it('refuses to attach a budget that does not exist, and writes nothing', async () => {
    const store = await context.open()
    const handle = uniqueHandle('attach')
    await store.createAgent(testAgentRecord(handle, 1_000, T0))
    await expect(
      store.updateAgent(handle, { budgets: ['missing-budget'], capMicros: 5 }, T0),
    ).rejects.toMatchObject({ field: 'budgets.0' })
    expect(await store.getAgent(handle, T0)).toMatchObject({ capMicros: 1_000, budgets: [] })
    const id = uniqueHandle('dup')
    await store.createBudget({ id, limits: [], createdAt: T0, updatedAt: T0 })
    await expect(
      store.createBudget({ id, limits: [], createdAt: T0, updatedAt: T0 }),
    ).rejects.toMatchObject({ field: 'id' })
  })

  it('charges a lapsed hold to its windows too, and corrects them on a late settle', async () => {
    const store = await context.open()
    const team = uniqueHandle('lapse-team')
    await store.createBudget({
      id: team,
      limits: [{ amountMicros: 10_000, per: 'day' }],
      createdAt: T0,
      updatedAt: T0,
    })
    const handle = await agentWith(store, 'lapse-budget', 1_000_000, { budgets: [team] })
    await store.reserve({ handle, holdId: 'x', amountMicros: 4_000, ttlMs: 1_000, now: T0 })
    const key = windowKey('budget', team, { amountMicros: 0, per: 'day' }, T0)
    expect(await store.readUsage([key])).toEqual([{ spentMicros: 0, heldMicros: 4_000 }])
    await store.getAgent(handle, T0 + 2_000)
    expect(await store.readUsage([key])).toEqual([{ spentMicros: 4_000, heldMicros: 0 }])
    await store.settle({ handle, holdId: 'x', costMicros: 1_500, now: T0 + 3_000 })
    expect(await store.readUsage([key])).toEqual([{ spentMicros: 1_500, heldMicros: 0 }])
    await store.reserve({ handle, holdId: 'y', amountMicros: 500, ttlMs: 1_000, now: T0 + 4_000 })
    await store.getAgent(handle, T0 + 6_000)
    await store.release({ handle, holdId: 'y', now: T0 + 6_000 })
    expect(await store.readUsage([key])).toEqual([{ spentMicros: 1_500, heldMicros: 0 }])
  })

  it('refuses a taken id, an unknown id and a bad limit, naming the field and writing nothing; an update keeps the usage', async () => {
    const store = await context.open()
    const id = uniqueHandle('shared')
    const record = {
      id,
      limits: [{ amountMicros: 10_000, per: 'day' as const }],
      createdAt: T0,
      updatedAt: T0,
    }
    await store.createBudget(record)
    await expect(store.createBudget({ ...record, limits: [] })).rejects.toMatchObject({
      field: 'id',
    })
    expect(await store.getBudget(id)).toMatchObject({ limits: record.limits })
    const other = uniqueHandle('shared')
    await expect(
      store.createBudget({ ...record, id: other, limits: [{ amountMicros: -1, per: 'day' }] }),
    ).rejects.toMatchObject({ field: 'limits.0.amountMicros' })
    expect(await store.getBudget(other)).toBeUndefined()
    await expect(
      store.updateBudget(uniqueHandle('missing'), { limits: [] }, T0),
    ).rejects.toMatchObject({ field: 'id' })
    await expect(
      store.updateBudget(id, { limits: [{ amountMicros: Number.NaN, per: 'day' }] }, T0),
    ).rejects.toMatchObject({ field: 'limits.0.amountMicros' })
    expect(await store.getBudget(id)).toMatchObject({ limits: record.limits, updatedAt: T0 })

    const handle = await agentWith(store, 'updated', 1_000_000, { budgets: [id] })
    await store.reserve({ handle, holdId: 'u', amountMicros: 8_000, ttlMs: 60_000, now: T0 })
    await store.settle({ handle, holdId: 'u', costMicros: 8_000, now: T0 })
    const updated = await store.updateBudget(
      id,
      { limits: [{ amountMicros: 9_000, per: 'day' }] },
      T0 + 1,
    )
    expect(updated).toMatchObject({ id, limits: [{ amountMicros: 9_000, per: 'day' }] })
    expect(updated.updatedAt).toBe(T0 + 1)
    expect(await store.getBudget(id)).toEqual(updated)
    // Today's 8,000 still count against the new 9,000 a day.
    const over = { handle, amountMicros: 1_001, ttlMs: 60_000, now: T0 + 2 }
    expect((await store.reserve({ ...over, holdId: 'v' })).ok).toBe(false)
    expect((await store.reserve({ ...over, holdId: 'w', amountMicros: 1_000 })).ok).toBe(true)
  })
}
