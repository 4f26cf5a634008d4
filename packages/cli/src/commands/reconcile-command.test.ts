// killswitch reconcile: a lapsed hold's real cost, delivered by the operator.
import { describe, expect, it } from 'vitest'
import { EXIT_CODES } from '../exit-codes.js'
import { cliHarness } from '../test-helpers.js'

/** An agent whose $0.30 hold lapsed: its process died after the request may have left. */
async function lapsedHold() {
  const harness = cliHarness({ USER: 'alice' })
  await harness.ks.agents.create({ handle: 'payer', spendingCap: 5 })
  const now = Date.now()
  const reserve = { handle: 'payer', holdId: 'hold-lost', amountMicros: 300_000, ttlMs: 1 }
  await harness.ks.store.reserve({ ...reserve, now: now - 10 })
  expect(await harness.ks.agents.get('payer')).toMatchObject({ spent: 0.3, unreconciled: 0.3 })
  return harness
}

describe('killswitch reconcile', () => {
  it('replaces the lapse charge with the real cost, says so, and records who and why', async () => {
    const { ks, run } = await lapsedHold()
    const done = await run(['reconcile', 'payer', 'hold-lost', '0.10', '--note', 'invoice 7'])
    expect(done).toMatchObject({ code: 0, stderr: '' })
    expect(done.stdout).toBe(
      'Reconciled hold hold-lost of payer at $0.10: it spent $0.10 of $5.00.\n',
    )
    expect(await ks.agents.get('payer')).toMatchObject({ spent: 0.1, unreconciled: 0 })
    expect((await ks.audit('payer')).at(-1)?.data).toMatchObject({
      holdId: 'hold-lost',
      by: 'cli:alice',
      note: 'invoice 7',
      outcome: 'corrected',
      replaces: 0.3,
    })
    const again = await run(['reconcile', 'payer', 'hold-lost', '0.10'])
    expect(again.stdout).toBe(
      'Hold hold-lost of payer was settled before (by its call, or an earlier reconcile): its charge stands, nothing changed. Only a hold charged as unreconciled (lapsed, or charged its bound) can be reconciled, once.\n',
    )
  })

  it('refuses a cost above the whole hold unless --above-hold says the bill is higher', async () => {
    const { ks, run } = await lapsedHold()
    const before = await ks.audit('payer')
    // $5 typed for the $0.30 hold: refused, the hold's figure and the flag named.
    const typo = await run(['reconcile', 'payer', 'hold-lost', '5'])
    expect(typo.code).toBe(EXIT_CODES.usage)
    expect(typo.stderr).toContain('error: Invalid usd: $5 is more than the $0.3 hold hold-lost')
    // The CLI's flag, not the library's option (red team rt32).
    expect(typo.stderr).toContain('if the bill really says more, pass --above-hold.')
    expect(typo.stderr).not.toMatch(/aboveHold|amountUsd/)
    expect(await ks.audit('payer')).toEqual(before)
    const higher = await run(['reconcile', 'payer', 'hold-lost', '0.45', '--above-hold'])
    expect(higher).toMatchObject({ code: 0, stderr: '' })
    expect(await ks.agents.get('payer')).toMatchObject({ spent: 0.45, unreconciled: 0 })
  })

  it('says in its help that a charge at a bound is reconciled too, and where its hold id is', async () => {
    const { stdout } = await cliHarness().run(['reconcile', '--help'])
    const help = stdout.replace(/\s+/g, ' ')
    expect(help).toContain(
      'a hold that lapsed, or a call charged its bound with nothing known of what it used',
    )
    expect(help).toContain('as `killswitch audit <handle> --unreconciled` lists it')
    expect(help).not.toContain('as its lapsed entry')
  })

  it('refuses a hold that did not lapse and a bad amount, naming them, writing nothing', async () => {
    const { ks, run } = await lapsedHold()
    const before = await ks.audit('payer')
    const unknown = await run(['reconcile', 'payer', 'no-such-hold', '0.10'])
    expect(unknown.code).toBe(EXIT_CODES.usage)
    expect(unknown.stderr).toContain('no lapsed or unreconciled hold "no-such-hold"')
    const bad = await run(['reconcile', 'payer', 'hold-lost', 'ten'])
    expect(bad.code).toBe(EXIT_CODES.usage)
    expect(bad.stderr).toContain('Invalid usd')
    expect(await ks.audit('payer')).toEqual(before)
  })
})
