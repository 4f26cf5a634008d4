// The console's figures are the CLI's and the store's: for any caps and spends, each row's
// SPENT / CAP and percentage equal what `killswitch agents list` prints for the same store,
// and its AVAILABLE (with the level that limits it) what `ks.verify` answers for the agent,
// whatever its windows, shared budgets and grants. Which is the CLI's AVAILABLE for an agent
// with none of them.

import { createKillSwitch, type KillSwitch, type Limit } from '@killswitch/core'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { runCli } from '../run-cli.js'
import { buffer } from '../test-helpers.js'
import { pageRows, toConsoleRow, usd } from './console-rows.js'
import { readBudgets } from './spend-left.js'

// A kill switch (no runaway detection: these spends are instant) and the CLI run against it.
function harness() {
  const ks = createKillSwitch({ runaway: false })
  const run = async (argv: string[]) => {
    const stdout = buffer()
    await runCli(argv, {
      stdout,
      stderr: buffer(),
      env: {},
      cwd: '/nonexistent',
      openKillSwitch: async () => ({ killSwitch: ks, close: async () => {} }),
    })
    return stdout.text()
  }
  return { ks, run }
}

/** A live grant past the agent's cap, approved as a person would. */
async function grant(ks: KillSwitch, handle: string, amount: number) {
  const id = `apr_${handle}`
  await ks.store.openApproval({
    id,
    handle,
    requestedMicros: 1_000_000,
    reason: 'test',
    ttlMs: 3_600_000,
    now: Date.now(),
  })
  await ks.approvals.approve(id, { amount, ttlMs: 3_600_000 })
}

const micros = (max: number) => fc.integer({ min: 0, max }).map((n) => n / 1_000_000)

describe('console rows', () => {
  it('equal `killswitch agents list`, agent for agent (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc
            .tuple(micros(5_000_000_000), fc.double({ min: 0, max: 1.2, noNaN: true }))
            .map(([cap, share]) => ({
              cap,
              spend: Math.floor(cap * Math.min(share, 1) * 1e6) / 1e6,
            })),
          { minLength: 1, maxLength: 6 },
        ),
        async (agents) => {
          const { ks, run } = harness()
          for (const [i, agent] of agents.entries()) {
            const { credential } = await ks.agents.create({
              handle: `a${i}`,
              spendingCap: agent.cap,
            })
            if (agent.spend > 0) {
              const guard = ks.guard(credential)
              const ticket = await guard.reserveSpend({
                amountUsd: agent.spend,
                kind: 'tool',
                description: 'x',
              })
              await guard.settleSpend(ticket)
            }
          }
          const cli = (await run(['agents', 'list']))
            .trim()
            .split('\n')
            .slice(1)
            .map((line) => {
              const match =
                /^(\S+)\s+(\S+)\s+(\$\S+ \/ \$\S+)\s+[█░]+\s+(\d+)%\s+(\$\S+)(?:\s|$)/.exec(
                  line.trim(),
                )
              return match?.slice(1)
            })
          const rows = (await ks.agents.list()).map((agent) => toConsoleRow(agent, new Map()))
          expect(
            rows.map((row) => [
              row.handle,
              row.status,
              row.spentText,
              String(row.percent),
              row.availableText,
            ]),
          ).toEqual(cli)
          await ks.close()
        },
      ),
      { numRuns: 25 },
    )
  })

  it('shows each budget window with its own figures', async () => {
    const { ks } = harness()
    const { credential } = await ks.agents.create({
      handle: 'windowed',
      spendingCap: 100,
      limits: [{ amount: 5, per: 'hour' }],
    })
    const guard = ks.guard(credential)
    await guard.settleSpend(
      await guard.reserveSpend({ amountUsd: 1.2, kind: 'tool', description: 'x' }),
    )
    const row = toConsoleRow(await ks.agents.get('windowed'), new Map())
    expect(row.limits).toEqual([
      expect.objectContaining({
        per: 'hour',
        spentText: '$1.20 / $5.00',
        percent: 24,
        availableText: '$3.80',
      }),
    ])
    expect(row.limits[0]?.resetsAt).toMatch(/^\d{4}-\d\d-\d\dT/)
    await ks.close()
  })

  it('say what an agent can really spend and what limits it, as ks.verify does (property)', async () => {
    const windows = fc.constantFrom('hour', 'day', 'lifetime' as const)
    const pers = fc.uniqueArray(windows, { maxLength: 2 })
    // A budget has at least one limit (core refuses one with none).
    const budgetPers = fc.uniqueArray(windows, { minLength: 1, maxLength: 2 })
    const limits = (per: Array<Limit['per']>) =>
      fc
        .tuple(...per.map(() => micros(20_000_000)))
        .map((amounts) => amounts.map((amount, i) => ({ amount, per: per[i] as Limit['per'] })))
    const agent = fc.record({
      cap: micros(30_000_000),
      limits: pers.chain(limits),
      budgets: fc.subarray(['b0', 'b1']),
      grant: fc.option(
        micros(10_000_000).filter((amount) => amount > 0),
        { nil: undefined },
      ),
      spends: fc.array(fc.tuple(micros(8_000_000), fc.boolean()), { maxLength: 4 }),
    })
    await fc.assert(
      fc.asyncProperty(
        fc.tuple(budgetPers.chain(limits), budgetPers.chain(limits)),
        fc.array(agent, { minLength: 1, maxLength: 4 }),
        async (budgetLimits, agents) => {
          const { ks } = harness()
          for (const [i, limits] of budgetLimits.entries()) {
            await ks.budgets.create({ id: `b${i}`, limits })
          }
          const credentials: string[] = []
          for (const [i, spec] of agents.entries()) {
            const handle = `a${i}`
            const { credential } = await ks.agents.create({
              handle,
              spendingCap: spec.cap,
              limits: spec.limits,
              budgets: spec.budgets,
              approvals: { enabled: spec.grant !== undefined, waitMs: 0 },
            })
            credentials.push(credential)
            if (spec.grant !== undefined) await grant(ks, handle, spec.grant)
            const guard = ks.guard(credential)
            for (const [amountUsd, settle] of spec.spends) {
              // Some are refused (past a window or budget): what was let through is the state.
              const ticket = await guard
                .reserveSpend({ amountUsd, kind: 'tool', description: 'x' })
                .catch(() => undefined)
              if (ticket && settle) await guard.settleSpend(ticket)
            }
          }
          const snapshots = await ks.agents.list()
          const budgets = await readBudgets(ks, snapshots)
          for (const [i, snapshot] of snapshots.entries()) {
            const verified = await ks.verify(credentials[i] as string)
            const row = toConsoleRow(snapshot, budgets)
            expect(row.availableText).toBe(usd(verified.available as number))
            expect(row.limitedBy).toEqual({
              level: verified.limitedBy,
              ...(verified.budgetId === undefined ? {} : { budgetId: verified.budgetId }),
              ...(verified.per === undefined ? {} : { per: verified.per }),
              ...(verified.resetsAt === undefined ? {} : { resetsAt: verified.resetsAt }),
            })
          }
          await ks.close()
        },
      ),
      { numRuns: 40 },
    )
  })

  it('shows an agent refused by a spent shared budget as $0 available, naming the budget', async () => {
    const { ks } = harness()
    await ks.budgets.create({ id: 'team-a', limits: [{ amount: 2, per: 'day' }] })
    const spender = await ks.agents.create({
      handle: 'spender',
      spendingCap: 5,
      budgets: ['team-a'],
    })
    await ks.agents.create({ handle: 'budget-agent', spendingCap: 50, budgets: ['team-a'] })
    const guard = ks.guard(spender.credential)
    await guard.settleSpend(
      await guard.reserveSpend({ amountUsd: 2, kind: 'payment', description: 'x' }),
    )
    const agent = await ks.agents.get('budget-agent')
    const row = toConsoleRow(agent, await readBudgets(ks, [agent]))
    expect(row).toMatchObject({
      spentText: '$0.00 / $50.00',
      availableText: '$0.00',
      limitedBy: { level: 'budget', budgetId: 'team-a', per: 'day' },
      limitedByText: 'budget team-a, per day',
      budgets: [
        {
          id: 'team-a',
          limits: [
            { per: 'day', spentText: '$2.00 / $2.00', percent: 100, availableText: '$0.00' },
          ],
        },
      ],
    })
    await ks.close()
  })

  it('shows an agent whose own window is spent as $0 available, naming the window', async () => {
    const { ks } = harness()
    const { credential } = await ks.agents.create({
      handle: 'win-agent',
      spendingCap: 50,
      limits: [{ amount: 1, per: 'hour' }],
    })
    const guard = ks.guard(credential)
    await guard.settleSpend(
      await guard.reserveSpend({ amountUsd: 1, kind: 'payment', description: 'x' }),
    )
    const row = toConsoleRow(await ks.agents.get('win-agent'), new Map())
    expect(row).toMatchObject({
      availableText: '$0.00',
      limitedBy: { level: 'agent', per: 'hour' },
      limitedByText: 'its per hour window',
    })
    await ks.close()
  })

  it('counts a live grant past the cap in what is available, and says so', async () => {
    let now = Date.now()
    const ks = createKillSwitch({ runaway: false, now: () => now })
    await ks.agents.create({
      handle: 'granted',
      spendingCap: 5,
      approvals: { enabled: true, waitMs: 0 },
    })
    await grant(ks, 'granted', 2)
    const row = toConsoleRow(await ks.agents.get('granted'), new Map())
    expect(row).toMatchObject({
      availableText: '$7.00',
      grantedText: '$2.00',
      limitedBy: { level: 'agent' },
      limitedByText: 'its cap, with $2.00 granted past it',
    })
    // Once expired it lifts nothing.
    now = Date.parse((await ks.agents.get('granted')).grants[0]?.expiresAt ?? '') + 1
    const expired = toConsoleRow(await ks.agents.get('granted'), new Map())
    expect(expired).toMatchObject({ availableText: '$5.00', limitedByText: 'its cap' })
    await ks.close()
  })

  it('shows a budget missing from the budgets read as the ledger holds it: a limit of $0', async () => {
    const { ks } = harness()
    await ks.budgets.create({ id: 'team-a', limits: [{ amount: 2, per: 'day' }] })
    await ks.agents.create({ handle: 'orphan', spendingCap: 50, budgets: ['team-a'] })
    // As if the budget were gone by the time the budgets were read: its bar is a $0 limit.
    const row = toConsoleRow(await ks.agents.get('orphan'), new Map())
    expect(row).toMatchObject({
      budgets: [{ id: 'team-a', missing: true, limits: [{ spentText: '$0.00 / $0.00' }] }],
    })
    await ks.close()
  })

  it('shows the unreconciled part of the spend, only when there is one', async () => {
    let now = Date.now()
    const ks = createKillSwitch({ runaway: false, now: () => now })
    const { credential } = await ks.agents.create({ handle: 'lapse-agent', spendingCap: 5 })
    const guard = ks.guard(credential)
    const before = toConsoleRow(await ks.agents.get('lapse-agent'), new Map())
    expect(before).toMatchObject({ unreconciled: 0 })
    expect(before).not.toHaveProperty('unreconciledText')
    await guard.reserveSpend({ amountUsd: 0.75, kind: 'payment', description: 'lost', ttlMs: 1000 })
    now += 5_000
    const row = toConsoleRow(await ks.agents.get('lapse-agent'), new Map())
    expect(row).toMatchObject({
      spentText: '$0.75 / $5.00',
      unreconciled: 0.75,
      unreconciledText: '$0.75',
      heldText: '$0.00',
    })
    await ks.close()
  })

  it('escapes the control, bidi and invisible characters of a revocation reason', async () => {
    const { ks } = harness()
    await ks.agents.create({ handle: 'bidi', spendingCap: 5 })
    await ks.agents.revoke('bidi', { reason: 'looped on search\u202E10.0$ rof\u200b\u001b[2J' })
    const row = toConsoleRow(await ks.agents.get('bidi'), new Map())
    expect(row.revokedReason).toBe('looped on search\\u202e10.0$ rof\\u200b\\x1b[2J')
    await ks.close()
  })

  it('orders by spent and held: an agent whose cap is held by calls in flight comes first', async () => {
    const { ks } = harness()
    await ks.agents.create({ handle: 'settled', spendingCap: 10 })
    const streaming = await ks.agents.create({ handle: 'streaming', spendingCap: 5 })
    const settler = ks.guard(
      (await ks.agents.create({ handle: 'settler', spendingCap: 100 })).credential,
    )
    await settler.settleSpend(
      await settler.reserveSpend({ amountUsd: 3, kind: 'tool', description: 'x' }),
    )
    // Nothing settled yet, $4.99 of its $5 held by a call in flight.
    await ks
      .guard(streaming.credential)
      .reserveSpend({ amountUsd: 4.99, kind: 'tool', description: 'stream' })
    const rows = (await ks.agents.list()).map((agent) => toConsoleRow(agent, new Map()))
    const order = (by: 'spent' | 'percent') =>
      pageRows(rows, { order: by, page: 1, pageSize: 10 }).rows.map((row) => row.handle)
    expect(order('spent')).toEqual(['streaming', 'settler', 'settled'])
    expect(order('percent')).toEqual(['streaming', 'settler', 'settled'])
    expect(rows.find((row) => row.handle === 'streaming')).toMatchObject({
      spentText: '$0.00 / $5.00',
      held: 4.99,
      heldText: '$4.99',
      percent: 0,
      committedPercent: 99,
    })
    await ks.close()
  })

  it('pages, filters and orders without losing or repeating an agent (property)', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.stringMatching(/^[a-z]{1,6}$/), { maxLength: 60 }),
        fc.integer({ min: 1, max: 25 }),
        fc.constantFrom('listed', 'handle', 'spent', 'percent' as const),
        (handles, pageSize, order) => {
          const rows = handles.map((handle, i) => ({
            ...toConsoleRow(
              {
                handle,
                status: 'active',
                currency: 'usd',
                spendingCap: 10,
                spent: i % 10,
                unreconciled: 0,
                held: 0,
                available: 10 - (i % 10),
                limitedBy: 'agent',
                createdAt: '',
                updatedAt: '',
                alerts: [],
                runaway: {} as never,
                limits: [],
                budgets: [],
                approvals: { enabled: false, waitMs: 0 },
                grants: [],
                granted: 0,
                spendRules: {},
              },
              new Map(),
            ),
          }))
          const first = pageRows(rows, { page: 1, pageSize, order })
          const seen: string[] = []
          for (let page = 1; page <= first.pages; page++) {
            seen.push(...pageRows(rows, { page, pageSize, order }).rows.map((row) => row.handle))
          }
          expect(seen.toSorted()).toEqual(handles.toSorted())
          expect(first.total).toBe(handles.length)
        },
      ),
    )
  })
})
