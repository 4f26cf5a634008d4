// The CLI's budgets, windows and approvals, against a kill switch the test also holds.
import { Readable } from 'node:stream'

import { describe, expect, it } from 'vitest'
import { EXIT_CODES } from './exit-codes.js'
import { parseDurationMs, parseLimit, parseLimits } from './parse-input.js'
import { cliHarness } from './test-helpers.js'

const CREDENTIAL = /ks_[A-Za-z0-9_-]{43}/

describe('parseLimit', () => {
  it('reads AMOUNT/WINDOW with the usual spellings', () => {
    expect(parseLimit('5/hour', 'limit')).toEqual({ amount: 5, per: 'hour' })
    expect(parseLimit('$100/day', 'limit')).toEqual({ amount: 100, per: 'day' })
    expect(parseLimit('2_000/months', 'limit')).toEqual({ amount: 2000, per: 'month' })
    expect(parseLimit('0.5/h', 'limit')).toEqual({ amount: 0.5, per: 'hour' })
    expect(parseLimit('7/wk', 'limit')).toEqual({ amount: 7, per: 'week' })
  })

  it('names the flag and the fix when it cannot', () => {
    for (const bad of ['5', '5/fortnight', 'abc/day', '/day', '-1/day', '5/']) {
      expect(() => parseLimit(bad, 'limit')).toThrow(/--limit.*e\.g\. --limit 5\/hour/)
    }
    expect(() => parseLimits(['5/hour', '6/h'], 'limit')).toThrow(/two limits per hour/)
  })

  it('reads durations', () => {
    expect(parseDurationMs('1h', 'ttl')).toBe(3_600_000)
    expect(parseDurationMs('30m', 'ttl')).toBe(1_800_000)
    expect(parseDurationMs('2d', 'ttl')).toBe(172_800_000)
    expect(() => parseDurationMs('soon', 'ttl')).toThrow(/--ttl.*30m/)
  })
})

describe('killswitch budgets', () => {
  it('create, get, list and update a shared budget with windows', async () => {
    const { ks, run } = cliHarness()
    const created = await run([
      'budgets',
      'create',
      'team-research',
      '--limit',
      '100/day',
      '--limit',
      '2000/month',
      '--time-zone',
      'Europe/Paris',
    ])
    expect(created.code).toBe(0)
    expect(created.stdout).toContain('team-research')
    expect(created.stdout).toMatch(/\$0\.00 \/ \$100\.00 per day/)
    expect(await ks.budgets.get('team-research')).toMatchObject({
      timeZone: 'Europe/Paris',
      limits: [
        { amount: 100, per: 'day' },
        { amount: 2000, per: 'month' },
      ],
    })

    const json = await run(['budgets', 'get', 'team-research', '--json'])
    expect(JSON.parse(json.stdout).limits[0]).toMatchObject({
      amount: 100,
      per: 'day',
      available: 100,
      resetsAt: expect.any(String),
    })

    expect((await run(['budgets', 'list'])).stdout).toMatch(
      /team-research\s+\$0\.00\/\$100\.00 day/,
    )
    const updated = await run(['budgets', 'update', 'team-research', '--limit', '150/day'])
    expect(updated.code).toBe(0)
    expect((await ks.budgets.get('team-research')).limits).toEqual([
      expect.objectContaining({ amount: 150, per: 'day' }),
    ])
    await ks.close()
  })

  it('refuses a bad --limit, a missing --limit and an empty update, writing nothing', async () => {
    const { ks, run } = cliHarness()
    const bad = await run(['budgets', 'create', 'b', '--limit', '100/fortnight'])
    expect(bad.code).toBe(EXIT_CODES.usage)
    expect(bad.stderr).toMatch(/Invalid --limit: "100\/fortnight".*--limit 5\/hour/)
    expect(await ks.budgets.list()).toEqual([])
    expect((await run(['budgets', 'create', 'b'])).code).toBe(EXIT_CODES.usage)
    await run(['budgets', 'create', 'b', '--limit', '1/day'])
    const empty = await run(['budgets', 'update', 'b'])
    expect(empty.code).toBe(EXIT_CODES.usage)
    expect(empty.stderr).toMatch(/Nothing to change/)
    expect((await run(['budgets', 'get', 'nope'])).code).toBe(EXIT_CODES.notFound)
    await ks.close()
  })
})

describe('killswitch agents with windows and budgets', () => {
  it('create --limit --budget, get/list show each window and budget, update and cap replace them', async () => {
    const { ks, run } = cliHarness()
    await run(['budgets', 'create', 'team-research', '--limit', '100/day'])
    const created = await run([
      'agents',
      'create',
      'r7',
      '--cap',
      '50',
      '--limit',
      '5/hour',
      '--budget',
      'team-research',
    ])
    expect(created.code).toBe(0)
    const credential = CREDENTIAL.exec(created.stdout)?.[0] as string
    const guard = ks.guard(credential)
    const ticket = await guard.reserveSpend({ amountUsd: 1.5, kind: 'tool', description: 'x' })
    await guard.settleSpend(ticket)

    const got = await run(['agents', 'get', 'r7'])
    expect(got.stdout).toMatch(
      /window\s+\$1\.50 \/ \$5\.00 per hour .*available \$3\.50, resets \d{4}-/,
    )
    expect(got.stdout).toMatch(/budgets\s+team-research/)
    const list = await run(['agents', 'list'])
    expect(list.stdout).toMatch(/WINDOWS\s+BUDGETS/)
    expect(list.stdout).toMatch(/\$1\.50\/\$5\.00 hour\s+team-research/)
    expect((await run(['budgets', 'get', 'team-research'])).stdout).toMatch(
      /\$1\.50 \/ \$100\.00 per day[\s\S]*agents\s+r7/,
    )

    const updated = await run(['agents', 'update', 'r7', '--limit', '2/hour', '--limit', '10/day'])
    expect(updated.code).toBe(0)
    expect((await ks.agents.get('r7')).limits.map((l) => [l.amount, l.per])).toEqual([
      [2, 'hour'],
      [10, 'day'],
    ])
    const capped = await run(['cap', 'r7', '--budget', 'team-research', '--limit', '3/hour'])
    expect(capped.code).toBe(0)
    expect(capped.stdout).toMatch(/Windows: \$3\.00\/hour \(available \$1\.50\)/)
    // `cap` takes --no-limits and --no-budgets as `agents update` does.
    const capCleared = await run(['cap', 'r7', '--no-limits', '--no-budgets'])
    expect(capCleared.code).toBe(0)
    expect(capCleared.stdout).toMatch(/Windows: none\.\nBudgets: none\./)
    expect(await ks.agents.get('r7')).toMatchObject({ limits: [], budgets: [] })
    await run(['cap', 'r7', '--budget', 'team-research', '--limit', '3/hour'])
    const cleared = await run(['agents', 'update', 'r7', '--no-budgets', '--no-limits'])
    expect(cleared.code).toBe(0)
    expect(await ks.agents.get('r7')).toMatchObject({ limits: [], budgets: [] })

    const bad = await run(['agents', 'update', 'r7', '--limit', '3 per hour'])
    expect(bad.code).toBe(EXIT_CODES.usage)
    expect(bad.stderr).toMatch(/--limit/)
    const unknown = await run(['agents', 'create', 'r8', '--cap', '5', '--budget', 'nope'])
    expect(unknown.code).toBe(EXIT_CODES.usage)
    await expect(ks.agents.get('r8')).rejects.toThrow()
    expect((await run(['cap', 'r7'])).stderr).toMatch(/Nothing to change/)
    await ks.close()
  })

  it('verify (introspection) reports the tightest remaining amount across levels', async () => {
    const { ks, run } = cliHarness()
    await run(['budgets', 'create', 'team', '--limit', '4/day'])
    const created = await run([
      'agents',
      'create',
      'v',
      '--cap',
      '50',
      '--limit',
      '5/hour',
      '--budget',
      'team',
    ])
    const credential = CREDENTIAL.exec(created.stdout)?.[0] as string
    const guard = ks.guard(credential)
    await guard.settleSpend(
      await guard.reserveSpend({ amountUsd: 1, kind: 'tool', description: 'x' }),
    )
    // Cap leaves 49, the hour leaves 4, the team's day leaves 3: the budget is the tightest.
    expect(await ks.verify(credential)).toMatchObject({ active: true, available: 3 })
    await run(['budgets', 'update', 'team', '--limit', '100/day'])
    expect(await ks.verify(credential)).toMatchObject({ available: 4 })
    await ks.close()
  })
})

/** A request opened as a guarded call opens one: its audit entry says what it asked then. */
function opened(
  ks: ReturnType<typeof cliHarness>['ks'],
  id: string,
  requestedMicros: number,
  waits = false,
) {
  return ks.store.openApproval({
    id,
    handle: 'a',
    requestedMicros,
    reason: 'x',
    ttlMs: 60_000,
    now: Date.now(),
    waits,
    audit: {
      at: Date.now(),
      handle: 'a',
      type: 'approval',
      summary: 'approval requested',
      data: { event: 'requested', approvalId: id, requested: requestedMicros / 1_000_000 },
    },
  })
}

describe('killswitch approvals', () => {
  async function pending(ks: ReturnType<typeof cliHarness>['ks'], id = 'apr_1') {
    await ks.agents.create({ handle: 'a', spendingCap: 5, approvals: { enabled: true, waitMs: 0 } })
    await ks.store.openApproval({
      id,
      handle: 'a',
      requestedMicros: 2_000_000,
      reason: 'past the cap',
      ttlMs: 60_000,
      now: Date.now(),
    })
  }

  it('lists pending requests and approves with --amount and --ttl, once', async () => {
    const { ks, run } = cliHarness({ USER: 'alice' })
    await pending(ks)
    const list = await run(['approvals', 'list', '--status', 'pending'])
    expect(list.code).toBe(0)
    expect(list.stdout).toMatch(/apr_1\s+a\s+pending\s+\$2\.00\s+past the cap/)
    const approved = await run([
      'approvals',
      'approve',
      'apr_1',
      '--amount',
      '10',
      '--ttl',
      '1h',
      '--reason',
      'quarter-end batch',
    ])
    expect(approved.code).toBe(0)
    expect(approved.stdout).toMatch(/apr_1 for a: approved by cli:alice: up to \$10\.00 more until/)
    expect((await ks.approvals.get('apr_1')).decisionReason).toBe('quarter-end batch')
    const grant = (await ks.agents.get('a')).grants[0]
    expect(grant?.amount).toBe(10)
    const ttl = Date.parse(grant?.expiresAt ?? '') - Date.now()
    expect(ttl).toBeGreaterThan(3_500_000)
    expect(ttl).toBeLessThanOrEqual(3_600_000)
    expect((await run(['approvals', 'list', '--status', 'pending'])).stdout).toMatch(/No pending/)
    const again = await run(['approvals', 'deny', 'apr_1'])
    expect(again.code).toBe(EXIT_CODES.usage)
    expect(again.stderr).toMatch(/approved already/)
    await ks.close()
  })

  it('approve defaults to the requested amount; deny records the reason; bad input is refused', async () => {
    const { ks, run } = cliHarness()
    await pending(ks, 'apr_2')
    expect((await run(['approvals', 'list', '--status', 'open'])).stderr).toMatch(
      /Invalid --status: "open"/,
    )
    expect((await run(['approvals', 'approve', 'apr_2', '--ttl', 'forever'])).stderr).toMatch(
      /--ttl/,
    )
    expect((await ks.approvals.get('apr_2')).status).toBe('pending')
    const denied = await run(['approvals', 'deny', 'apr_2', '--reason', 'looping', '--json'])
    expect(JSON.parse(denied.stdout)).toMatchObject({ status: 'denied', decisionReason: 'looping' })

    await opened(ks, 'apr_3', 2_500_000)
    await run(['approvals', 'approve', 'apr_3'])
    expect((await ks.approvals.get('apr_3')).grant?.amount).toBe(2.5)
    await ks.close()
  })

  it('approve without --amount refuses a request calls have raised since it was opened', async () => {
    const { ks, run } = cliHarness()
    await pending(ks, 'apr_0')
    await ks.approvals.deny('apr_0')
    await opened(ks, 'apr_4', 500_000)
    // Another waiting call joins: the request asks for both now.
    await opened(ks, 'apr_4-joiner', 3_000_000, true)
    const refused = await run(['approvals', 'approve', 'apr_4'])
    expect(refused.code).toBe(EXIT_CODES.usage)
    expect(refused.stderr).toContain(
      'the request by a grew from $0.50 when it was opened to $3.50 (calls that wait on it add what they need): choose the grant with --amount',
    )
    expect((await ks.approvals.get('apr_4')).status).toBe('pending')
    expect((await run(['approvals', 'approve', 'apr_4', '--amount', '3.5'])).code).toBe(0)
    expect((await ks.approvals.get('apr_4')).grant?.amount).toBe(3.5)
    await ks.close()
  })
})

describe('killswitch audit --limit', () => {
  it('reads one page from the store, and --before the previous one', async () => {
    const { ks, run } = cliHarness()
    await ks.agents.create({ handle: 'p', spendingCap: 50 })
    for (let i = 1; i <= 5; i++) await ks.agents.update('p', { spendingCap: 50 + i })
    const page = await run(['audit', 'p', '--limit', '2', '--json'])
    const entries = page.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line))
    expect(entries).toHaveLength(2)
    expect(entries[1].summary).toMatch(/55/)
    const previous = await run([
      'audit',
      'p',
      '--limit',
      '2',
      '--before',
      String(entries[0].seq),
      '--json',
    ])
    const older = previous.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line))
    expect(older.map((entry) => entry.seq)).toEqual([entries[0].seq - 2, entries[0].seq - 1])
    await ks.close()
  })
})

describe('killswitch verify', () => {
  it('reads the credential from the environment or stdin, never argv, and names the tightest level', async () => {
    const { ks, run } = cliHarness()
    await run(['budgets', 'create', 'team', '--limit', '4/day'])
    const created = await run([
      'agents',
      'create',
      'v',
      '--cap',
      '50',
      '--limit',
      '5/hour',
      '--budget',
      'team',
    ])
    const credential = CREDENTIAL.exec(created.stdout)?.[0] as string
    const guard = ks.guard(credential)
    await guard.settleSpend(
      await guard.reserveSpend({ amountUsd: 1, kind: 'tool', description: 'x' }),
    )

    const fromEnv = await run(['verify', '--credential-env', 'CRED', '--json'], {
      env: { CRED: credential },
    })
    expect(fromEnv.code).toBe(0)
    const json = JSON.parse(fromEnv.stdout)
    expect(json).toMatchObject({ active: true, handle: 'v', available: 3 })
    expect(
      json.levels.map((level: { level: string; available: number }) => [
        level.level,
        level.available,
      ]),
    ).toEqual([
      ['budget team day', 3],
      ['agent hour', 4],
      ['cap', 49],
    ])
    expect(fromEnv.stdout + fromEnv.stderr).not.toContain(credential)

    const piped = await run(['verify'], { stdin: Readable.from([`${credential}\n`]) })
    expect(piped.stdout).toMatch(
      /active: v may spend \$3\.00 more \(tightest: budget team day, resets /,
    )
    expect(piped.stdout).not.toContain(credential)

    await ks.agents.revoke('v', { reason: 'done' })
    const revoked = await run(['verify'], { env: { KILLSWITCH_CREDENTIAL: credential } })
    expect(revoked.stdout).toMatch(/inactive/)
    // A gate (`killswitch verify && start-agent`) must not let a revoked agent through.
    expect(revoked.code).toBe(EXIT_CODES.refused)
    expect(revoked.stderr).toMatch(/refused: The credential is unknown, malformed or revoked/)
    const missing = await run(['verify', '--credential-env', 'NOPE'])
    expect(missing.code).toBe(EXIT_CODES.usage)
    await ks.close()
  })

  it('exits 4 for an unknown or malformed credential, in text and JSON', async () => {
    const { ks, run } = cliHarness()
    const unknown = `ks_${'A'.repeat(43)}`
    for (const given of [unknown, 'not-a-credential']) {
      for (const argv of [['verify'], ['verify', '--json']]) {
        const result = await run(argv, { env: { KILLSWITCH_CREDENTIAL: given } })
        expect(result.code, `${argv.join(' ')} ${given}`).toBe(EXIT_CODES.refused)
        expect(result.stderr).toMatch(/refused: /)
        expect(result.stdout + result.stderr).not.toContain(unknown)
      }
    }
    const json = await run(['verify', '--json'], { env: { KILLSWITCH_CREDENTIAL: unknown } })
    expect(JSON.parse(json.stdout)).toMatchObject({ active: false })
    await ks.close()
  })

  it('exits 4 when nothing is left at the tightest level, naming it and the CLI fix', async () => {
    const { ks, run } = cliHarness()
    const { credential } = await ks.agents.create({ handle: 'capped', spendingCap: 1 })
    const guard = ks.guard(credential)
    await guard.settleSpend(
      await guard.reserveSpend({ amountUsd: 1, kind: 'tool', description: 'x' }),
    )
    const env = { KILLSWITCH_CREDENTIAL: credential }
    const result = await run(['verify'], { env })
    expect(result.code).toBe(EXIT_CODES.refused)
    expect(result.stdout).toMatch(/^refused: capped may spend \$0\.00 more/)
    expect(result.stderr).toMatch(/refused: Agent "capped" has no budget left: its spending cap/)
    expect(result.stderr).toMatch(/CLI: killswitch cap capped <usd>/)
    // The same verdict as JSON, the same exit code.
    const json = await run(['verify', '--json'], { env })
    expect(json.code).toBe(EXIT_CODES.refused)
    expect(JSON.parse(json.stdout)).toMatchObject({ active: true, available: 0 })

    // A shared budget spent: refused at the budget, with the CLI command that raises it.
    await run(['budgets', 'create', 'team', '--limit', '1/day'])
    const member = (
      await ks.agents.create({ handle: 'member', spendingCap: 50, budgets: ['team'] })
    ).credential
    const memberGuard = ks.guard(member)
    await memberGuard.settleSpend(
      await memberGuard.reserveSpend({ amountUsd: 1, kind: 'tool', description: 'x' }),
    )
    const budget = await run(['verify'], { env: { KILLSWITCH_CREDENTIAL: member } })
    expect(budget.code).toBe(EXIT_CODES.refused)
    expect(budget.stderr).toMatch(/shared budget "team" \(per day\) is spent/)
    expect(budget.stderr).toMatch(/CLI: killswitch budgets update team --limit/)
    await ks.close()
  })

  it('exits 0 for an agent at its cap with approvals on (its next call asks a person), not past a budget', async () => {
    const { ks, run } = cliHarness()
    await run(['budgets', 'create', 'team', '--limit', '2/day'])
    const { credential } = await ks.agents.create({
      handle: 'asks',
      spendingCap: 1,
      budgets: ['team'],
      approvals: { enabled: true, waitMs: 0 },
    })
    const guard = ks.guard(credential)
    await guard.settleSpend(
      await guard.reserveSpend({ amountUsd: 1, kind: 'tool', description: 'x' }),
    )
    const env = { KILLSWITCH_CREDENTIAL: credential }
    const atCap = await run(['verify'], { env })
    expect(atCap.code).toBe(0)
    expect(atCap.stdout).toMatch(/^active: asks may spend \$0\.00 more/)
    expect(atCap.stdout).toMatch(/next call asks a person/)
    expect(atCap.stderr).toBe('')

    // Approvals lift the agent's own cap only: a spent shared budget is refused all the same.
    await run(['budgets', 'update', 'team', '--limit', '1/day'])
    const budget = await run(['verify'], { env })
    expect(budget.code).toBe(EXIT_CODES.refused)
    expect(budget.stderr).toMatch(/shared budget "team"/)
    await ks.close()
  })
})
