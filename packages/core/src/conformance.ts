// The store conformance suite: the contract every Store must meet, run against the real
// thing (memory here; sqlite and Redis in their own packages). Import it in a vitest file:
//
//   import { describeStoreConformance } from '@killswitch/core/conformance'
//   describeStoreConformance('redis', () => redisStore({ url }))
import fc from 'fast-check'
import { afterEach, describe, expect, it } from 'vitest'
import type { AuditEntry } from './audit.js'
import { AgentExistsError, AgentNotFoundError } from './errors.js'
import { EMPTY_POLICY } from './policy.js'
import type { NewAgentRecord, Store, StoreEvent } from './store.js'

/** Options of the conformance suite. */
export interface ConformanceOptions {
  /**
   * Opens a second store on the same backend (another connection or process view), to
   * check that revocations reach other instances. Omit for single-process stores.
   */
  openPeer?: () => Store | Promise<Store>
  /** fast-check runs for the property tests (default 60). */
  propertyRuns?: number
}

let counter = 0
const uniqueHandle = (prefix: string) => `${prefix}-${process.pid}-${Date.now()}-${counter++}`

/** A new agent record for tests. */
export function testAgentRecord(handle: string, capMicros: number, now = 1_000): NewAgentRecord {
  return {
    handle,
    credentialHash: `hash-of-${handle}`,
    capMicros,
    currency: 'usd',
    createdAt: now,
    updatedAt: now,
    policy: EMPTY_POLICY,
  }
}

const entry = (handle: string, type: AuditEntry['type'], at: number): AuditEntry => ({
  at,
  handle,
  type,
  summary: `${type} at ${at}`,
  data: { n: at },
})

async function waitFor(check: () => boolean, timeoutMs = 3_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (check()) return true
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
  return check()
}

/**
 * Registers the conformance tests for a store.
 *
 * @example
 * describeStoreConformance('memory', () => memoryStore())
 */
export function describeStoreConformance(
  name: string,
  factory: () => Store | Promise<Store>,
  options: ConformanceOptions = {},
): void {
  describe(`Store conformance: ${name}`, () => {
    const opened: Store[] = []
    const open = async () => {
      const store = await factory()
      opened.push(store)
      return store
    }
    afterEach(async () => {
      await Promise.all(opened.splice(0).map((store) => store.close()))
    })

    it('creates, gets, finds by credential hash and lists agents', async () => {
      const store = await open()
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
      expect((await store.findAgentByCredentialHash(`hash-of-${handle}`, 1_000))?.handle).toBe(
        handle,
      )
      expect(await store.findAgentByCredentialHash('hash-of-nobody', 1_000)).toBeUndefined()
      expect(await store.getAgent(uniqueHandle('missing'), 1_000)).toBeUndefined()
      expect((await store.listAgents(1_000)).map((agent) => agent.handle)).toContain(handle)
    })

    it('refuses a duplicate handle instead of overwriting', async () => {
      const store = await open()
      const handle = uniqueHandle('dup')
      await store.createAgent(testAgentRecord(handle, 1_000_000))
      await store.reserve({
        handle,
        holdId: 'h1',
        amountMicros: 10,
        expiresAt: 9_999_999,
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

    it('admits a reserve up to exactly the cap and refuses the micro-dollar past it', async () => {
      const store = await open()
      const handle = uniqueHandle('boundary')
      await store.createAgent(testAgentRecord(handle, 1_000))
      const past = await store.reserve({
        handle,
        holdId: 'a',
        amountMicros: 1_001,
        expiresAt: 10_000,
        now: 1_000,
      })
      expect(past).toMatchObject({ ok: false, reason: 'cap' })
      const exact = await store.reserve({
        handle,
        holdId: 'b',
        amountMicros: 1_000,
        expiresAt: 10_000,
        now: 1_000,
      })
      expect(exact.ok).toBe(true)
      const zero = await store.reserve({
        handle,
        holdId: 'c',
        amountMicros: 0,
        expiresAt: 10_000,
        now: 1_000,
      })
      expect(zero).toMatchObject({ ok: false, reason: 'cap' })
    })

    it('denies everything, even a free call, on a $0 cap', async () => {
      const store = await open()
      const handle = uniqueHandle('zero')
      await store.createAgent(testAgentRecord(handle, 0))
      const result = await store.reserve({
        handle,
        holdId: 'z',
        amountMicros: 0,
        expiresAt: 10_000,
        now: 1_000,
      })
      expect(result).toMatchObject({ ok: false, reason: 'cap' })
    })

    it('settles a hold at its real cost and releases the rest, idempotently', async () => {
      const store = await open()
      const handle = uniqueHandle('settle')
      await store.createAgent(testAgentRecord(handle, 10_000))
      await store.reserve({
        handle,
        holdId: 'h',
        amountMicros: 4_000,
        expiresAt: 99_000,
        now: 1_000,
      })
      const first = await store.settle({ handle, holdId: 'h', costMicros: 1_500, now: 2_000 })
      expect(first.outcome).toBe('settled')
      expect(first.agent).toMatchObject({ spentMicros: 1_500, heldMicros: 0 })
      const again = await store.settle({ handle, holdId: 'h', costMicros: 1_500, now: 2_000 })
      expect(again.outcome).toBe('duplicate')
      expect(again.agent).toMatchObject({ spentMicros: 1_500, heldMicros: 0 })
      const releaseAfter = await store.release({ handle, holdId: 'h', now: 2_000 })
      expect(releaseAfter.outcome).toBe('none')
      expect(releaseAfter.agent.spentMicros).toBe(1_500)
    })

    it('releases a hold once; a settle after the release changes nothing', async () => {
      const store = await open()
      const handle = uniqueHandle('release')
      await store.createAgent(testAgentRecord(handle, 10_000))
      await store.reserve({
        handle,
        holdId: 'r',
        amountMicros: 3_000,
        expiresAt: 99_000,
        now: 1_000,
      })
      expect((await store.release({ handle, holdId: 'r', now: 1_500 })).outcome).toBe('released')
      expect((await store.release({ handle, holdId: 'r', now: 1_500 })).outcome).toBe('none')
      const settle = await store.settle({ handle, holdId: 'r', costMicros: 3_000, now: 1_600 })
      expect(settle.outcome).toBe('duplicate')
      expect(settle.agent).toMatchObject({ spentMicros: 0, heldMicros: 0 })
    })

    it('lets holds expire so a crashed caller cannot lock the budget; a late settle still counts', async () => {
      const store = await open()
      const handle = uniqueHandle('expiry')
      await store.createAgent(testAgentRecord(handle, 1_000))
      await store.reserve({
        handle,
        holdId: 'x',
        amountMicros: 1_000,
        expiresAt: 5_000,
        now: 1_000,
      })
      expect(
        (
          await store.reserve({
            handle,
            holdId: 'y',
            amountMicros: 1,
            expiresAt: 9_000,
            now: 4_999,
          })
        ).ok,
      ).toBe(false)
      expect(await store.getAgent(handle, 5_000)).toMatchObject({ heldMicros: 0, spentMicros: 0 })
      const late = await store.settle({ handle, holdId: 'x', costMicros: 400, now: 6_000 })
      expect(late.outcome).toBe('late')
      expect(late.agent).toMatchObject({ spentMicros: 400, heldMicros: 0 })
      expect(
        (await store.settle({ handle, holdId: 'x', costMicros: 400, now: 6_000 })).outcome,
      ).toBe('duplicate')
      expect(
        (
          await store.reserve({
            handle,
            holdId: 'y',
            amountMicros: 600,
            expiresAt: 9_000,
            now: 6_000,
          })
        ).ok,
      ).toBe(true)
    })

    it('audits a hold that lapsed at its expiry, once, when it is swept', async () => {
      const store = await open()
      const handle = uniqueHandle('lapse')
      await store.createAgent(testAgentRecord(handle, 10_000))
      await store.reserve({
        handle,
        holdId: 'crashed',
        amountMicros: 2_500,
        expiresAt: 5_000,
        now: 1_000,
      })
      await store.reserve({
        handle,
        holdId: 'next',
        amountMicros: 1,
        expiresAt: 90_000,
        now: 6_000,
      })
      await store.reserve({
        handle,
        holdId: 'later',
        amountMicros: 1,
        expiresAt: 90_000,
        now: 7_000,
      })
      const lapsed = (await store.readAudit(handle)).filter((item) => item.type === 'released')
      expect(lapsed).toHaveLength(1)
      expect(lapsed[0]).toMatchObject({
        handle,
        data: { holdId: 'crashed', reason: 'expired', amount: 0.0025, expiredAt: 5_000 },
      })
      expect(lapsed[0]?.summary).toContain('lapsed')
    })

    it('revokes for good: reserves are refused, the first reason is kept, subscribers hear it', async () => {
      const store = await open()
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
        expiresAt: 9_000,
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

    it('refuses operations on unknown agents clearly', async () => {
      const store = await open()
      const handle = uniqueHandle('ghost')
      expect(
        await store.reserve({ handle, holdId: 'g', amountMicros: 1, expiresAt: 9_000, now: 1_000 }),
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

    it('refuses every further call once the cap is lowered below what is spent', async () => {
      const store = await open()
      const handle = uniqueHandle('lower')
      await store.createAgent(testAgentRecord(handle, 10_000))
      await store.reserve({
        handle,
        holdId: 'a',
        amountMicros: 6_000,
        expiresAt: 99_000,
        now: 1_000,
      })
      await store.settle({ handle, holdId: 'a', costMicros: 6_000, now: 1_000 })
      const updated = await store.updateAgent(handle, { capMicros: 5_000 }, 2_000)
      expect(updated.capMicros).toBe(5_000)
      expect(
        (
          await store.reserve({
            handle,
            holdId: 'b',
            amountMicros: 1,
            expiresAt: 99_000,
            now: 2_000,
          })
        ).ok,
      ).toBe(false)
    })

    it('never lets concurrent reserves overspend the cap', async () => {
      const store = await open()
      const handle = uniqueHandle('burst')
      await store.createAgent(testAgentRecord(handle, 1_000_000))
      const results = await Promise.all(
        Array.from({ length: 200 }, (_, i) =>
          store.reserve({
            handle,
            holdId: `c${i}`,
            amountMicros: 7_000,
            expiresAt: 99_000,
            now: 1_000,
          }),
        ),
      )
      const admitted = results.filter((result) => result.ok).length
      expect(admitted).toBe(Math.floor(1_000_000 / 7_000))
      await Promise.all(
        results.map((result, i) =>
          result.ok
            ? store.settle({ handle, holdId: `c${i}`, costMicros: 7_000, now: 1_001 })
            : undefined,
        ),
      )
      const agent = await store.getAgent(handle, 1_002)
      expect(agent?.spentMicros).toBe(admitted * 7_000)
      expect(agent?.spentMicros).toBeLessThanOrEqual(1_000_000)
      expect(agent?.heldMicros).toBe(0)
    })

    it('keeps ledger audit entries with their operation, in order', async () => {
      const store = await open()
      const handle = uniqueHandle('audit')
      await store.createAgent(testAgentRecord(handle, 10_000))
      store.appendAudit(entry(handle, 'created', 1))
      await store.reserve({
        handle,
        holdId: 'h',
        amountMicros: 10,
        expiresAt: 99_000,
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
        expiresAt: 99_000,
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

    it('holds once when a reserve is retried with the same hold id', async () => {
      const store = await open()
      const handle = uniqueHandle('retry')
      await store.createAgent(testAgentRecord(handle, 10_000))
      const request = { handle, holdId: 'same', amountMicros: 4_000, expiresAt: 99_000, now: 1_000 }
      expect((await store.reserve(request)).ok).toBe(true)
      expect((await store.reserve(request)).ok).toBe(true)
      expect((await store.getAgent(handle, 1_000))?.heldMicros).toBe(4_000)
      const settled = await store.settle({ handle, holdId: 'same', costMicros: 1_000, now: 1_001 })
      expect(settled.agent).toMatchObject({ heldMicros: 0, spentMicros: 1_000 })
    })

    it('publishes one event for a revocation, however often it is repeated', async () => {
      const store = await open()
      const handle = uniqueHandle('once')
      const heard: StoreEvent[] = []
      store.subscribe((event) => heard.push(event))
      await store.createAgent(testAgentRecord(handle, 10_000))
      await store.revokeAgent(handle, 'first', 2_000)
      await store.revokeAgent(handle, 'second', 3_000)
      await waitFor(() =>
        heard.some((event) => event.type === 'revoked' && event.handle === handle),
      )
      // Give a second, wrong event time to arrive before counting.
      await new Promise((resolve) => setTimeout(resolve, 100))
      const revoked = heard.filter((event) => event.type === 'revoked' && event.handle === handle)
      expect(revoked).toHaveLength(1)
      expect(revoked[0]).toMatchObject({ reason: 'first' })
    })

    it('answers edge cases alike: unknown marks, empty audit pages, settle after release', async () => {
      const store = await open()
      const handle = uniqueHandle('edges')
      await expect(store.markOnce(uniqueHandle('nobody'), 'k')).rejects.toSatisfy(
        AgentNotFoundError.isInstance,
      )
      await store.createAgent(testAgentRecord(handle, 10_000))
      store.appendAudit(entry(handle, 'created', 1))
      expect(await store.readAudit(handle, { limit: 0 })).toEqual([])
      expect((await store.release({ handle, holdId: 'never', now: 1_000 })).outcome).toBe('none')
      expect(
        (await store.settle({ handle, holdId: 'never', costMicros: 5, now: 1_000 })).outcome,
      ).toBe('duplicate')
    })

    it('keeps a bounded activity window, newest last', async () => {
      const store = await open()
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

    it('sets a mark once, for exactly one of many concurrent callers', async () => {
      const store = await open()
      const handle = uniqueHandle('mark')
      await store.createAgent(testAgentRecord(handle, 10_000))
      const results = await Promise.all(
        Array.from({ length: 20 }, () => store.markOnce(handle, 'threshold:0.8')),
      )
      expect(results.filter(Boolean)).toHaveLength(1)
      expect(await store.markOnce(handle, 'threshold:0.5')).toBe(true)
    })

    it('keeps spent + held <= cap and held = live holds over random interleavings', async () => {
      const store = await open()
      type Op =
        | { op: 'reserve'; amount: number; ttl: number }
        | { op: 'settle'; pick: number; fraction: number }
        | { op: 'release'; pick: number }
        | { op: 'tick'; ms: number }
        | { op: 'cap'; cap: number }
        | { op: 'revoke' }
      const opArb: fc.Arbitrary<Op> = fc.oneof(
        {
          weight: 5,
          arbitrary: fc.record({
            op: fc.constant('reserve' as const),
            amount: fc.integer({ min: 0, max: 400 }),
            ttl: fc.integer({ min: 1, max: 50 }),
          }),
        },
        {
          weight: 3,
          arbitrary: fc.record({
            op: fc.constant('settle' as const),
            pick: fc.nat(),
            fraction: fc.double({ min: 0, max: 1, noNaN: true }),
          }),
        },
        {
          weight: 2,
          arbitrary: fc.record({ op: fc.constant('release' as const), pick: fc.nat() }),
        },
        {
          weight: 2,
          arbitrary: fc.record({
            op: fc.constant('tick' as const),
            ms: fc.integer({ min: 0, max: 30 }),
          }),
        },
        {
          weight: 1,
          arbitrary: fc.record({
            op: fc.constant('cap' as const),
            cap: fc.integer({ min: 0, max: 2_000 }),
          }),
        },
        { weight: 1, arbitrary: fc.constant({ op: 'revoke' as const }) },
      )
      await fc.assert(
        fc.asyncProperty(
          fc.integer({ min: 0, max: 2_000 }),
          fc.array(fc.array(opArb, { minLength: 1, maxLength: 4 }), { maxLength: 25 }),
          async (cap, batches) => {
            const handle = uniqueHandle('prop')
            await store.createAgent(testAgentRecord(handle, cap))
            let now = 1_000
            let capNow = cap
            let revoked = false
            let spentModel = 0
            const live = new Map<string, { amount: number; expiresAt: number }>()
            let next = 0
            for (const batch of batches) {
              // Operations in a batch run concurrently: the store must stay consistent.
              const runs = batch.map(async (item) => {
                if (item.op === 'reserve') {
                  const holdId = `p${next++}`
                  const expiresAt = now + item.ttl
                  // A revocation issued before this reserve must refuse it.
                  const revokedBefore = revoked
                  const result = await store.reserve({
                    handle,
                    holdId,
                    amountMicros: item.amount,
                    expiresAt,
                    now,
                  })
                  if (result.ok) {
                    expect(revokedBefore).toBe(false)
                    // The atomic invariant: a granted hold never takes spent + held past the cap.
                    expect(result.agent.spentMicros + result.agent.heldMicros).toBeLessThanOrEqual(
                      result.agent.capMicros,
                    )
                    expect(
                      result.agent.capMicros -
                        result.agent.spentMicros -
                        result.agent.heldMicros +
                        item.amount,
                    ).toBeGreaterThan(0)
                    live.set(holdId, { amount: item.amount, expiresAt })
                  }
                } else if (item.op === 'settle' || item.op === 'release') {
                  const ids = [...live.keys()]
                  if (ids.length === 0) return
                  const holdId = ids[item.pick % ids.length] as string
                  const hold = live.get(holdId)
                  if (!hold) return
                  live.delete(holdId)
                  if (hold.expiresAt <= now) return
                  if (item.op === 'settle') {
                    const cost = Math.floor(hold.amount * item.fraction)
                    const result = await store.settle({ handle, holdId, costMicros: cost, now })
                    expect(result.outcome).toBe('settled')
                    spentModel += cost
                  } else {
                    expect((await store.release({ handle, holdId, now })).outcome).toBe('released')
                  }
                } else if (item.op === 'tick') {
                  now += item.ms
                } else if (item.op === 'cap') {
                  capNow = item.cap
                  await store.updateAgent(handle, { capMicros: item.cap }, now)
                } else {
                  revoked = true
                  await store.revokeAgent(handle, 'property test', now)
                }
              })
              await Promise.all(runs)
              const agent = await store.getAgent(handle, now)
              if (!agent) throw new Error('agent vanished')
              for (const [id, hold] of live) if (hold.expiresAt <= now) live.delete(id)
              const liveSum = [...live.values()].reduce((sum, hold) => sum + hold.amount, 0)
              expect(agent.heldMicros).toBe(liveSum)
              expect(agent.spentMicros).toBe(spentModel)
              expect(agent.capMicros).toBe(capNow)
            }
          },
        ),
        { numRuns: options.propertyRuns ?? 60 },
      )
    })

    if (options.openPeer) {
      const openPeer = options.openPeer
      it('publishes a revocation to another instance on the same backend', async () => {
        const store = await open()
        const peer = await openPeer()
        opened.push(peer)
        const handle = uniqueHandle('peer')
        await store.createAgent(testAgentRecord(handle, 1_000_000))
        const heard: StoreEvent[] = []
        peer.subscribe((event) => heard.push(event))
        await store.revokeAgent(handle, 'revoked elsewhere', 2_000)
        expect(
          await waitFor(() =>
            heard.some((event) => event.type === 'revoked' && event.handle === handle),
          ),
        ).toBe(true)
        const seen = await peer.getAgent(handle, 2_001)
        expect(seen?.status).toBe('revoked')
        expect(
          (
            await peer.reserve({
              handle,
              holdId: 'p',
              amountMicros: 1,
              expiresAt: 9_000,
              now: 2_001,
            })
          ).ok,
        ).toBe(false)
      })
    }
  })
}
