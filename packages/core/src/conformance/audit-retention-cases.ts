// Conformance cases for the audit log's retention, the same on every store: kept for good by
// default; with `auditRetentionMs`, entries older than `now - auditRetentionMs` (the store's
// clock, as a reserve gives it) are pruned in small batches as reserves come, every agent's,
// and nothing newer is ever dropped. A store's batch size is its own; this only requires
// that repeated reserves finish the job.
import { expect, it } from 'vitest'
import { entry, type SuiteContext, testAgentRecord, uniqueHandle } from './support.js'

/** Reserves allowed to prune the aged entries (at least 610 / 200 = 4 batches of 200). */
const MAX_RESERVES = 200

export function auditRetentionCases(context: SuiteContext): void {
  it('keeps the audit log for good by default', async () => {
    const store = await context.open()
    const handle = uniqueHandle('audit-kept')
    await store.createAgent(testAgentRecord(handle, 1_000_000))
    for (let i = 0; i < 300; i++) store.appendAudit(entry(handle, 'alert', 1_000 + i))
    await store.flush()
    // Reserves a long time later: whatever pruning a store does has had its chances.
    for (let i = 0; i < 3; i++) {
      await store.reserve({
        handle,
        holdId: `late-${i}`,
        amountMicros: 1,
        ttlMs: 60_000,
        now: 10 ** 12 + i * 1_000,
      })
    }
    expect(await store.readAudit(handle)).toHaveLength(300)
  })

  it('prunes entries older than auditRetentionMs, every agent, keeping every newer one', async () => {
    const store = await context.open({ auditRetentionMs: 250_000 })
    const handle = uniqueHandle('audit-aged')
    const other = uniqueHandle('audit-aged-other')
    await store.createAgent(testAgentRecord(handle, 1_000_000))
    await store.createAgent(testAgentRecord(other, 1_000_000))
    for (let i = 0; i < 600; i++) store.appendAudit(entry(handle, 'alert', 1_000 + i))
    for (let i = 0; i < 10; i++) store.appendAudit(entry(other, 'alert', 1_000 + i))
    for (let i = 0; i < 10; i++) store.appendAudit(entry(handle, 'alert', 300_000 + i))
    await store.flush()
    const aged = async () =>
      [...(await store.readAudit(handle)), ...(await store.readAudit(other))].filter(
        (item) => item.at < 2_000,
      ).length
    expect(await aged()).toBe(610)
    // From now = 300,000 on (cutoff 50,000: every aged entry is due) the clock steps 1 s per
    // reserve; the cutoff stays below 300,000, so the newer entries are never due.
    let reserves = 0
    while ((await aged()) > 0 && reserves < MAX_RESERVES) {
      await store.reserve({
        handle,
        holdId: `r${reserves}`,
        amountMicros: 1,
        ttlMs: 60_000,
        now: 300_000 + reserves * 1_000,
      })
      reserves++
    }
    expect(
      await aged(),
      'aged entries left: the store factory must pass { auditRetentionMs } to the store',
    ).toBe(0)
    expect((await store.readAudit(handle)).map((item) => item.at)).toEqual(
      Array.from({ length: 10 }, (_, i) => 300_000 + i),
    )
    expect(await store.readAudit(other)).toEqual([])
  })
}
