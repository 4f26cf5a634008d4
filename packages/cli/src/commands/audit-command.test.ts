// killswitch audit: the hold id of each unreconciled charge, and --unreconciled, the ones still
// open to reconcile with the command for each (red team rt32: the text audit showed no hold
// id, and a grep of --json listed holds reconciled already).
import { type AuditEntry, UNRECONCILED_RETENTION_MS } from '@killswitch/core'
import { describe, expect, it } from 'vitest'
import { EXIT_CODES } from '../exit-codes.js'
import { cliHarness } from '../test-helpers.js'

const prices = { m: { inputPerMTok: 1, outputPerMTok: 1 } }
/** What the provider's bill says each failed call really cost, in micro-dollars. */
const BILL_MICROS = [3, 7]

/**
 * An agent with a $0.30 hold that lapsed, two model calls charged their bound as unreconciled
 * (a 502 after each was sent: nothing known of what they used), and one settled from usage.
 */
async function unreconciledAgent() {
  const harness = cliHarness({ USER: 'alice' }, { prices, runaway: false })
  const { ks } = harness
  const { credential } = await ks.agents.create({ handle: 'caller', spendingCap: 5 })
  const now = Date.now()
  const lost = { handle: 'caller', holdId: 'hold-lost', amountMicros: 300_000, ttlMs: 1 }
  await ks.store.reserve({ ...lost, now: now - 10 })
  const guard = ks.guard(credential)
  const failed: string[] = []
  for (let i = 0; i < 2; i++) {
    const ticket = await guard.beforeModelCall({ model: 'm', input: 'hi', maxOutputTokens: 1000 })
    await guard.failModelCall(ticket, new Error('bad gateway'), { sent: true })
    failed.push(ticket.id)
  }
  const ok = await guard.beforeModelCall({ model: 'm', input: 'hi', maxOutputTokens: 1000 })
  await guard.afterModelCall(ok, { usage: { inputTokens: 10, outputTokens: 20 } })
  const audit = await ks.audit('caller')
  const boundOf = (holdId: string) =>
    audit.find((entry) => entry.data.holdId === holdId && entry.data.outcome === 'unreconciled')
      ?.data.cost as number
  const bound = boundOf(failed[0] ?? '')
  expect(bound).toBeGreaterThan(0.001)
  expect(boundOf(failed[1] ?? '')).toBe(bound)
  // 0.30 lapsed + two bounds + the 30 tokens used, all but the 30 tokens unreconciled.
  expect(await ks.agents.get('caller')).toMatchObject({
    spent: Math.round((0.3 + 2 * bound + 0.00003) * 1e6) / 1e6,
    unreconciled: Math.round((0.3 + 2 * bound) * 1e6) / 1e6,
  })
  return { ...harness, failed, bound }
}

/** The RECONCILE WITH commands of `audit --unreconciled`, in order. */
const commands = (stdout: string) =>
  [...stdout.matchAll(/killswitch reconcile caller \S+ <usd>/g)].map(([command]) => command)

describe('killswitch audit: unreconciled charges', () => {
  it('names the hold id and the bound of each unreconciled charge in the text log', async () => {
    const { run, failed, bound } = await unreconciledAgent()
    const { code, stdout } = await run(['audit', 'caller'])
    expect(code).toBe(0)
    const line = (holdId: string) => stdout.split('\n').find((row) => row.endsWith(` ${holdId}]`))
    expect(line('hold-lost')).toMatch(
      /lapsed\s+hold of \$0\.3 lapsed at .*\[unreconciled: \$0\.30 charged, its bound; hold hold-lost\]$/,
    )
    for (const holdId of failed) {
      expect(line(holdId)).toMatch(/settled\s+settled \$[\d.]+ for m \(no usage reported/)
      expect(line(holdId)).toContain(`[unreconciled: $${bound} charged, its bound; hold ${holdId}]`)
    }
    // The call settled from its usage is not marked.
    expect(stdout.match(/\[unreconciled/g)).toHaveLength(3)
    expect(stdout).toContain(
      'Unreconciled holds still open, each with its reconcile command: killswitch audit caller --unreconciled\n',
    )
  })

  it('--unreconciled lists only the holds still open, each with its reconcile command, which clears it', async () => {
    const { ks, run, failed, bound } = await unreconciledAgent()
    // One corrected already: its entry keeps outcome unreconciled, but it is no longer open.
    const first = await run(['reconcile', 'caller', failed[0] ?? '', '0.000001'])
    expect(first.code).toBe(0)
    const open = await run(['audit', 'caller', '--unreconciled'])
    expect(open.code).toBe(0)
    expect(open.stdout.split('\n')[0]).toMatch(/^TIME\s+CHARGED\s+RECONCILE WITH\s+SUMMARY$/)
    expect(commands(open.stdout)).toEqual([
      'killswitch reconcile caller hold-lost <usd>',
      `killswitch reconcile caller ${failed[1]} <usd>`,
    ])
    expect(open.stdout).toMatch(/\$0\.30\s+killswitch reconcile caller hold-lost <usd>\s+hold of/)
    expect(open.stdout).toContain(`$${bound}  killswitch reconcile caller ${failed[1]} <usd>`)
    // The same entries as JSON Lines, for scripts.
    const json = await run(['audit', 'caller', '--unreconciled', '--json'])
    const entries = json.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as AuditEntry)
    expect(entries.map((entry) => [entry.type, entry.data.holdId])).toEqual([
      ['lapsed', 'hold-lost'],
      ['settled', failed[1]],
    ])

    // Each printed command, given the bill's figure, clears its hold: to the micro-dollar.
    for (const [i, command] of commands(open.stdout).entries()) {
      const usd = `0.00000${BILL_MICROS[i]}`
      const argv = command.replace('<usd>', usd).split(' ').slice(1)
      expect(await run(argv)).toMatchObject({ code: 0, stderr: '' })
    }
    // 1 + 3 + 7 micro-dollars from the bill, and the 30 tokens the settled call used.
    expect(await ks.agents.get('caller')).toMatchObject({ spent: 0.000041, unreconciled: 0 })
    expect((await run(['audit', 'caller', '--unreconciled'])).stdout).toBe(
      'No unreconciled holds of caller are open to reconcile.\n',
    )
    const log = await run(['audit', 'caller'])
    expect(log.stdout).not.toContain('Unreconciled holds still open')
  })

  it('an older page (--before) does not say a hold is open that a newer page corrected (red team rt34)', async () => {
    const { ks, run, failed } = await unreconciledAgent()
    expect((await run(['reconcile', 'caller', failed[0] ?? '', '0.000001'])).code).toBe(0)
    expect((await run(['reconcile', 'caller', failed[1] ?? '', '0.000001'])).code).toBe(0)
    expect((await run(['reconcile', 'caller', 'hold-lost', '0.000001'])).code).toBe(0)
    const corrections = (await ks.audit('caller')).filter((entry) => entry.data.replaces)
    const page = await run(['audit', 'caller', '--before', String(corrections[0]?.seq)])
    // Before: "Unreconciled holds still open, each with its reconcile command".
    expect(page.stdout).not.toContain('still open')
    expect(page.stdout).toContain(
      'Unreconciled holds shown may be open still: killswitch audit caller --unreconciled lists those that are.',
    )
  })

  it('--unreconciled reads the whole log, page by page: a hold corrected a page later is not open', async () => {
    const { ks, run } = cliHarness({}, { runaway: false })
    await ks.agents.create({ handle: 'caller', spendingCap: 5 })
    const now = Date.now()
    for (const holdId of ['old-open', 'old-fixed']) {
      await ks.store.reserve({ handle: 'caller', holdId, amountMicros: 100_000, ttlMs: 1, now })
    }
    // More than a page (1,000 entries) between the lapses and the correction.
    const settled = (i: number): AuditEntry => ({
      at: now,
      handle: 'caller',
      type: 'settled',
      summary: `settled $0.000001 for call ${i}`,
      data: { holdId: `call-${i}`, cost: 0.000001 },
    })
    for (let i = 0; i < 1_200; i++) {
      const holdId = `call-${i}`
      await ks.store.reserve({ handle: 'caller', holdId, amountMicros: 1, ttlMs: 60_000, now })
      await ks.store.settle({ handle: 'caller', holdId, costMicros: 1, now, audit: settled(i) })
    }
    expect((await run(['reconcile', 'caller', 'old-fixed', '0.05'])).code).toBe(0)
    // The lapses on the older page, their correction on the newest.
    expect((await ks.audit('caller')).length).toBeGreaterThan(1_000 + 3)
    expect(commands((await run(['audit', 'caller', '--unreconciled'])).stdout)).toEqual([
      'killswitch reconcile caller old-open <usd>',
    ])
  })

  it('--unreconciled takes no --limit or --before, and puts the --store given on its commands', async () => {
    const { run } = await unreconciledAgent()
    for (const page of [
      ['--limit', '5'],
      ['--before', '3'],
    ]) {
      const refused = await run(['audit', 'caller', '--unreconciled', ...page])
      expect(refused).toMatchObject({ code: EXIT_CODES.usage, stdout: '' })
      expect(refused.stderr).toContain('--unreconciled reads the whole log')
    }
    const flagged = await run(['audit', 'caller', '--unreconciled', '--store', 'sqlite:/srv/ks.db'])
    expect(flagged.stdout).toContain(
      'killswitch reconcile caller hold-lost <usd> --store sqlite:/srv/ks.db',
    )
  })

  it('a charge written off after 35 days unreconciled is no longer open, and the log says why', async () => {
    const { ks, run } = cliHarness({}, { runaway: false })
    await ks.agents.create({ handle: 'caller', spendingCap: 5 })
    const then = Date.now() - UNRECONCILED_RETENTION_MS - 60_000
    const reserve = (holdId: string, at: number, ttlMs: number) =>
      ks.store.reserve({ handle: 'caller', holdId, amountMicros: 100_000, ttlMs, now: at })
    await reserve('old-lost', then, 1)
    await reserve('old-next', then + 10, 1) // its sweep lapses old-lost, 35 days ago
    await reserve('today', Date.now(), 60_000) // forgets old-lost: written off
    expect(await ks.agents.get('caller')).toMatchObject({ unreconciled: 0.1, spent: 0.2 })
    expect((await run(['audit', 'caller', '--unreconciled'])).stdout).not.toContain('old-lost')
    const log = (await run(['audit', 'caller'])).stdout
    expect(log).toMatch(
      /unreconciled charge of \$0\.1 for hold old-lost written off after 35 days: no settlement corrected it/,
    )
  })
})
