// A reserve the store did not answer (a timeout, a dropped connection) refuses its call, which
// is never sent; yet the store may still run it (a stalled server catching up, an old
// connection's command delivered late). Its hold must not then lapse and be charged as spend:
// the guard releases it through the outbox, and a release that lands first ends the id, so
// the late reserve holds nothing.
import { describe, expect, it, vi } from 'vitest'
import { InvalidConfigError, StoreUnavailableError } from './errors.js'
import { createKillSwitch } from './kill-switch.js'
import type { ReleaseRequest, ReserveRequest, Store } from './store.js'
import { memoryStore } from './stores/memory-store.js'

const prices = { m: { inputPerMTok: 3, outputPerMTok: 15 } }

/**
 * A memory store that can stall: a reserve sent meanwhile times out at the caller, and runs
 * once the stall ends (as Redis runs a script queued behind `DEBUG SLEEP`). With
 * `releases: 'down'`, releases fail meanwhile too; with `'through'`, they reach the store at
 * once (a new connection overtaking the old one's reserve).
 */
function stallingStore() {
  const inner = memoryStore()
  let stall: 'off' | 'down' | 'through' = 'off'
  const late: ReserveRequest[] = []
  const lateErrors: unknown[] = []
  let releases = 0
  const noReply = () => Promise.reject(new Error('no reply within 1000 ms'))
  const store: Store = Object.assign(Object.create(inner) as Store, {
    reserve(request: ReserveRequest) {
      if (stall === 'off') return inner.reserve(request)
      late.push(request)
      return noReply()
    },
    release(request: ReleaseRequest) {
      releases++
      return stall === 'down' ? noReply() : inner.release(request)
    },
  })
  return {
    store,
    inner,
    lateErrors,
    releases: () => releases,
    stall(releasesDuring: 'down' | 'through') {
      stall = releasesDuring
    },
    /** The stall ends: the store runs the reserves it was sent, in order. */
    async resume() {
      stall = 'off'
      for (const request of late.splice(0)) {
        await Promise.resolve()
          .then(() => inner.reserve(request))
          .catch((error: unknown) => lateErrors.push(error))
      }
    },
  }
}

const isUnavailable = (result: PromiseSettledResult<unknown>) =>
  result.status === 'rejected' && result.reason instanceof StoreUnavailableError

/** An agent on a store that can stall, with a clock the test moves. */
async function stalledAgent(handle: string, spendingCap: number) {
  const clock = { now: 1_000_000 }
  const stalling = stallingStore()
  const ks = createKillSwitch({
    store: stalling.store,
    prices,
    holdTtlMs: 60_000,
    now: () => clock.now,
  })
  const { credential } = await ks.agents.create({ handle, spendingCap })
  return { stalling, ks, guard: ks.guard(credential), clock }
}

describe('a reserve the store did not answer', () => {
  it('is released once the store answers: never held, never lapsed, never charged', async () => {
    const { stalling, ks, guard, clock } = await stalledAgent('a', 1)
    await guard.check()

    stalling.stall('down')
    const calls = await Promise.allSettled([
      ...Array.from({ length: 10 }, () =>
        guard.startModelCall({ model: 'm', input: 'hello', maxOutputTokens: 1_000 }),
      ),
      guard.reserveSpend({ amountUsd: 0.05, kind: 'tool', description: 'search' }),
    ])
    // Fail closed: every call refused, none sent.
    expect(calls.every(isUnavailable)).toBe(true)

    await stalling.resume()
    // The store ran the reserves after all: their money is held ...
    expect((await stalling.inner.getAgent('a', clock.now))?.heldMicros).toBeGreaterThan(50_000)
    // ... until the outbox's releases land.
    await vi.waitFor(
      async () => expect((await stalling.inner.getAgent('a', clock.now))?.heldMicros).toBe(0),
      { timeout: 5_000, interval: 20 },
    )
    clock.now += 120_000 // past every lease: nothing is left to lapse
    expect(await ks.agents.get('a')).toMatchObject({ held: 0, spent: 0, unreconciled: 0 })
    const audit = await ks.audit('a')
    expect(audit.filter((entry) => entry.type === 'lapsed')).toEqual([])
    const released = audit.filter((entry) => entry.type === 'released')
    expect(released).toHaveLength(11)
    for (const entry of released) {
      expect(entry.data).toMatchObject({
        reason: 'not sent: the store did not answer its reserve',
        outcome: 'released',
      })
      expect(entry.summary).toContain('did not answer its reserve')
    }
    await ks.close()
  })

  it('ends the hold id when the release lands first, so the late reserve holds nothing', async () => {
    const { stalling, ks, guard, clock } = await stalledAgent('b', 0.01)
    // A reserve the store refused was answered: nothing to release.
    await expect(
      guard.reserveSpend({ amountUsd: 5, kind: 'tool', description: 'too dear' }),
    ).rejects.toMatchObject({ code: 'spending_cap_exceeded' })
    expect(stalling.releases()).toBe(0)

    stalling.stall('through')
    await expect(
      guard.startModelCall({ model: 'm', input: 'hello', maxOutputTokens: 100 }),
    ).rejects.toBeInstanceOf(StoreUnavailableError)
    expect(stalling.releases()).toBe(1)
    await stalling.resume()
    // The old connection's reserve, run after the release: refused, holding nothing.
    expect(stalling.lateErrors).toHaveLength(1)
    expect(InvalidConfigError.isInstance(stalling.lateErrors[0])).toBe(true)
    expect((stalling.lateErrors[0] as InvalidConfigError).field).toBe('holdId')
    expect(await ks.agents.get('b')).toMatchObject({ held: 0, spent: 0 })
    clock.now += 120_000
    expect(await ks.agents.get('b')).toMatchObject({ held: 0, spent: 0, unreconciled: 0 })
    const audit = await ks.audit('b')
    expect(audit.filter((entry) => ['hold', 'lapsed'].includes(entry.type))).toEqual([])
    await ks.close()
  })
})
