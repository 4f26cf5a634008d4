// The store conformance suite: the contract every Store must meet, run against the real
// thing (memory here; sqlite and Redis in their own packages). Import it in a vitest file:
//
//   import { describeStoreConformance } from '@killswitch/core/conformance'
//   describeStoreConformance('redis', () => redisStore({ url }))
import { afterEach, describe, expect, it } from 'vitest'
import { agentCases } from './conformance/agent-cases.js'
import { approvalCases } from './conformance/approval-cases.js'
import { auditRetentionCases } from './conformance/audit-retention-cases.js'
import { budgetCases } from './conformance/budget-cases.js'
import { ledgerCases } from './conformance/ledger-cases.js'
import { ledgerProperty } from './conformance/ledger-property.js'
import {
  type ConformanceStoreOptions,
  testAgentRecord,
  uniqueHandle,
  waitFor,
} from './conformance/support.js'
import type { Store, StoreEvent } from './store.js'

export {
  type ConformanceStoreOptions,
  reservedWindow,
  testAgentRecord,
} from './conformance/support.js'

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

/**
 * Registers the conformance tests for a store. `factory` opens the store under test with the
 * options a case asks for (pass them on: the audit retention cases need them).
 *
 * @example
 * describeStoreConformance('memory', (options) => memoryStore(options))
 */
export function describeStoreConformance(
  name: string,
  factory: (options?: ConformanceStoreOptions) => Store | Promise<Store>,
  options: ConformanceOptions = {},
): void {
  describe(`Store conformance: ${name}`, () => {
    const opened: Store[] = []
    const context = {
      async open(storeOptions?: ConformanceStoreOptions) {
        const store = await factory(storeOptions)
        opened.push(store)
        return store
      },
    }
    afterEach(async () => {
      await Promise.all(opened.splice(0).map((store) => store.close()))
    })

    agentCases(context)
    ledgerCases(context)
    budgetCases(context)
    approvalCases(context)
    auditRetentionCases(context)
    ledgerProperty(context, options.propertyRuns ?? 60)

    if (options.openPeer) {
      const openPeer = options.openPeer
      it('publishes a revocation to another instance on the same backend', async () => {
        const store = await context.open()
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
              ttlMs: 6999,
              now: 2_001,
            })
          ).ok,
        ).toBe(false)
      })
    }
  })
}
