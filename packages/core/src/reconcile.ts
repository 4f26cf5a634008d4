// A reconciliation: the real cost of a hold that lapsed (or was charged a bound as
// unreconciled: a payment whose outcome was unknown), delivered afterwards. A hold lapses
// when its owner vanished after its request may have left (a crash, a lost store), and the
// whole hold is charged as unreconciled spend. The operator learns the truth later (the
// provider's bill, the payee's receipt) and delivers it here by the hold id its `lapsed` audit
// entry names: the real cost replaces the lapse's charge, once. Only a lapsed hold: a live
// one is its owner's to settle, and a released, unknown or long-gone one is not corrected by
// guesswork (red team r25: after a restart, no public call could deliver a late settlement).

import { z } from 'zod'
import type { AgentSnapshot } from './agent-snapshot.js'
import type { AuditEntry } from './audit.js'
import { actorSchema, parseInput } from './config.js'
import { type Engine, storeCall } from './engine.js'
import { InvalidConfigError } from './errors.js'
import { chargeMicros, MAX_CAP_USD, toUsd } from './money.js'
import { redactSecrets } from './redact.js'
import type { AgentRecord } from './store.js'

/** Input of `agents.reconcile`. */
export interface ReconcileInput {
  /** The lapsed hold, as its `lapsed` audit entry names it (`data.holdId`). */
  holdId: string
  /** What the hold really cost, in dollars (the provider's bill, the payee's receipt). */
  amountUsd: number
  /** Where the figure comes from, for the audit log (at most 500 characters). */
  note?: string
  /** Who reconciled, for the audit log ("operator" otherwise). */
  by?: string
  /**
   * Accept a cost above what the lapse charged (the whole hold: the most its call could cost
   * as held). Refused without it: a figure past the hold is a typo until the bill says so.
   */
  aboveHold?: boolean
}

/** What a reconciliation did. */
export interface ReconcileResult {
  /**
   * `corrected`: the cost replaced the lapse's charge. `duplicate`: the hold was settled
   * already (by its call, late, or an earlier reconcile): its figure kept, nothing written.
   */
  outcome: 'corrected' | 'duplicate'
  /** The agent after it. */
  agent: AgentSnapshot
}

const reconcileSchema = z
  .object({
    holdId: z.string({ error: 'a hold id is required' }).min(1).max(200),
    // Each check says its own: the schema's message stood for all (rt32: -1 and 1e12 were
    // told "a number of dollars is required").
    amountUsd: z
      .number({
        error: ({ input }) =>
          typeof input === 'number'
            ? 'a finite number of dollars'
            : 'a number of dollars is required',
      })
      .min(0, { error: 'at least 0 dollars' })
      .max(MAX_CAP_USD, { error: `at most ${MAX_CAP_USD} dollars (the largest cap)` }),
    note: z.string().max(500).optional(),
    by: actorSchema.optional(),
    aboveHold: z.boolean().optional(),
  })
  .strict()

/** Delivers the real cost of a lapsed hold of agent `handle` (checked by the caller). */
export async function reconcileHold(
  engine: Engine,
  handle: string,
  input: ReconcileInput,
): Promise<{ outcome: ReconcileResult['outcome']; agent: AgentRecord }> {
  const {
    holdId,
    amountUsd,
    note,
    by = 'operator',
    aboveHold = false,
  } = parseInput(reconcileSchema, input, 'agents.reconcile', 'input')
  const costMicros = chargeMicros(amountUsd)
  const now = engine.now()
  // People paste what they saw (a receipt with a key in it): masked like a revoke's reason.
  const said = note === undefined ? undefined : redactSecrets(note)
  const audit: AuditEntry = {
    at: now,
    handle,
    type: 'settled',
    summary: `settled $${toUsd(costMicros)} for unreconciled hold ${holdId}: reconciled by ${by}${said ? ` (${said})` : ''}`,
    data: {
      holdId,
      cost: toUsd(costMicros),
      reconciled: true,
      by,
      ...(said === undefined ? {} : { note: said }),
    },
  }
  const result = await storeCall(engine.store, () =>
    engine.store.settle({
      handle,
      holdId,
      costMicros,
      now,
      audit,
      onlyIfLapsed: true,
      atMostCharged: !aboveHold,
    }),
  )
  if (result.outcome === 'above_charge') {
    const charged = toUsd(result.chargedMicros ?? 0)
    throw new InvalidConfigError(
      'amountUsd',
      `Invalid amountUsd: $${toUsd(costMicros)} is more than the $${charged} hold ${holdId} of agent "${handle}" was charged as unreconciled (a lapse's whole hold, or an unknown outcome's bound: the most it could cost as held). Check the figure; if the bill really says more, pass { aboveHold: true } (killswitch reconcile --above-hold).`,
    )
  }
  if (result.outcome === 'not_lapsed') {
    throw new InvalidConfigError(
      'holdId',
      `Invalid holdId: agent "${handle}" has no lapsed or unreconciled hold "${holdId}" (it is live and its call settles it, or it was released, or it is not known: the stores keep lapsed holds 35 days, then write their charge off as final). Reconcile the hold id a lapsed entry, or a settled one of outcome unreconciled, of its audit log names (killswitch audit ${handle}).`,
    )
  }
  if (result.outcome !== 'corrected' && result.outcome !== 'duplicate') {
    // onlyIfLapsed settles nothing else (the conformance suite holds every store to it).
    throw new Error(`The store answered "${result.outcome}" to a settle of lapsed holds only.`)
  }
  if (result.outcome === 'corrected') engine.afterSpend(result.agent)
  return { outcome: result.outcome, agent: result.agent }
}
