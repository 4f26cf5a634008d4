// The console's figures are the CLI's: for any caps and spends, each row's SPENT / CAP,
// percentage and AVAILABLE equal what `killswitch agents list` prints for the same store.

import { createKillSwitch } from '@killswitch/core'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { runCli } from '../run-cli.js'
import { buffer } from '../test-helpers.js'
import { pageRows, toConsoleRow } from './console-rows.js'

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
          const rows = (await ks.agents.list()).map(toConsoleRow)
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
    const row = toConsoleRow(await ks.agents.get('windowed'))
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

  it('pages, filters and orders without losing or repeating an agent (property)', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.stringMatching(/^[a-z]{1,6}$/), { maxLength: 60 }),
        fc.integer({ min: 1, max: 25 }),
        fc.constantFrom('listed', 'handle', 'spent', 'percent' as const),
        (handles, pageSize, order) => {
          const rows = handles.map((handle, i) => ({
            ...toConsoleRow({
              handle,
              status: 'active',
              currency: 'usd',
              spendingCap: 10,
              spent: i % 10,
              unreconciled: 0,
              held: 0,
              available: 10 - (i % 10),
              createdAt: '',
              updatedAt: '',
              alerts: [],
              runaway: {} as never,
              limits: [],
              budgets: [],
              approvals: { enabled: false, waitMs: 0 },
              grants: [],
              spendRules: {},
            }),
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
