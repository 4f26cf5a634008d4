// The agents API: provision, cap, alert, revoke, inspect. Inputs are validated at this
// boundary; everything below trusts the types.

import type { z } from 'zod'
import { type AgentSnapshot, toSnapshot } from './agent-snapshot.js'
import { formatPct } from './alerts/alert-format.js'
import { redactWebhookUrl } from './alerts/webhook-url.js'
import type { AuditEntry } from './audit.js'
import { type Limit, limitsWithUsage, toLimitRecords } from './budget-limits.js'
import {
  actorSchema,
  alertRuleSchema,
  createAgentSchema,
  handleSchema,
  parseInput,
  updateAgentSchema,
} from './config.js'
import { generateCredential, hashCredential } from './credentials.js'
import { type Engine, storeCall } from './engine.js'
import {
  AgentNotFoundError,
  ConcurrentUpdateError,
  InvalidConfigError,
  StoreUnavailableError,
} from './errors.js'
import { toMicros, toUsd } from './money.js'
import type { AgentPolicy, AlertRule } from './policy.js'
import { type ReconcileInput, type ReconcileResult, reconcileHold } from './reconcile.js'
import type { RunawayConfig } from './runaway/config.js'
import type { SpendRules } from './spend-rules.js'
import type { AgentRecord, NewAgentRecord } from './store.js'
import { type TightestLevel, tightestLevels } from './tightest-level.js'

/** A newly provisioned agent: its snapshot plus its credential, shown this once. */
export interface ProvisionedAgent extends AgentSnapshot {
  /** The agent's secret (`ks_...`). Returned here and never again: store it now. */
  credential: string
}

/** Input of `agents.create`. */
export interface CreateAgentInput {
  /** Unique, 1-64 of letters, digits, `.`, `_`, `-`. */
  handle: string
  /** Dollars; 0 denies everything. */
  spendingCap: number
  currency?: 'usd'
  runaway?: RunawayConfig
  alerts?: AlertRule[]
  /** Windows beside the lifetime cap: `[{ amount: 5, per: 'hour' }, { amount: 20, per: 'day' }]`. */
  limits?: Limit[]
  /** Shared budgets to draw on, by id (create them with `ks.budgets.create`). */
  budgets?: string[]
  /** Past the cap, ask a person instead of refusing: `{ enabled: true, waitMs: 120_000 }`. */
  approvals?: { enabled: boolean; waitMs?: number }
  /**
   * Rules every spend that is not a model call must pass (an x402 payment, a paid API):
   * `{ allowedPayees: ['0x2096...'], maxSpendUsd: 0.5 }`.
   */
  spendRules?: SpendRules
}

/** Input of `agents.update`. */
export interface UpdateAgentInput {
  spendingCap?: number
  runaway?: RunawayConfig
  /**
   * Replaces the agent's windows. A window it did not have counts from now: what the agent
   * spent earlier in it is not in it (its spendingCap, which counts everything, still holds).
   * To slow an agent that already spent, lower its spendingCap.
   */
  limits?: Limit[]
  /** Replaces the shared budgets it draws on. */
  budgets?: string[]
  /** Turns approvals past the cap on or off. */
  approvals?: { enabled: boolean; waitMs?: number }
  /** Replaces the agent's spend rules (`{}` removes them). */
  spendRules?: SpendRules
}

/** Options of `agents.revoke`, each read leniently (never a reason to refuse a revoke). */
export interface RevokeOptions {
  /** Why, for the audit log (at most 500 characters kept). */
  reason?: string
  /** Who revoked, for the audit log: 1 to 200 characters ("operator" otherwise). */
  by?: string
}

/** What `agents.revoke` answers: the agent's snapshot, and whether it was revoked already. */
export interface RevokedAgent extends AgentSnapshot {
  /**
   * True when the agent was revoked before this call (by anyone, anywhere): this call changed
   * nothing and its reason and `by` were not recorded. Decided by the store's write, so no
   * read before the revoke can race it. (A revoke retried after a store outage may find its own
   * earlier attempt written: true then too.)
   */
  alreadyRevoked: boolean
}

/** `ks.agents`. */
export interface AgentsApi {
  create(input: CreateAgentInput): Promise<ProvisionedAgent>
  update(handle: string, input: UpdateAgentInput): Promise<AgentSnapshot>
  setAlert(handle: string, rule: AlertRule): Promise<AgentSnapshot>
  /**
   * Revokes the agent everywhere. The reason and who revoked (`by`, a short name as
   * approvals take it; "operator" by default) go in the audit log; a kill switch never
   * refuses to fire for want of either: a missing or bad one is the default, never an error.
   * The answer says whether the agent was revoked already (its first reason kept).
   */
  revoke(handle: string, options?: RevokeOptions): Promise<RevokedAgent>
  /**
   * Delivers the real cost of a hold that lapsed (its process died after the request may
   * have left, so the whole hold was charged as unreconciled spend): by the hold id its
   * `lapsed` audit entry names, at the provider's or payee's figure. It replaces the lapse's
   * charge once; a hold settled already (by its call, late, or an earlier reconcile) answers
   * `duplicate` and keeps its figure; a hold that is live, released or unknown is refused
   * (InvalidConfigError naming `holdId`). Neither writes anything.
   */
  reconcile(handle: string, input: ReconcileInput): Promise<ReconcileResult>
  get(handle: string): Promise<AgentSnapshot>
  list(): Promise<AgentSnapshot[]>
}

const entry = (
  handle: string,
  type: AuditEntry['type'],
  at: number,
  summary: string,
  data: Record<string, unknown>,
): AuditEntry => ({
  at,
  handle,
  type,
  summary,
  data,
})

type UpdateInput = z.output<typeof updateAgentSchema>
type AlertRuleInput = z.output<typeof alertRuleSchema>

/**
 * Tries of a policy change while other updates of the agent keep landing first: each try
 * reads afresh. Past this, ConcurrentUpdateError (nothing written) reaches the caller.
 */
/**
 * How long a create the store did not answer is tried again (the same record: a store that
 * ran it meanwhile answers the agent, `sameCreation`), every CREATE_RETRY_EVERY_MS. Its
 * credential is shown once, by this call: a create given up as it ran (a Redis stalled past
 * its command timeout, red team rt41b) lost it, and its retry was refused as "exists".
 */
const CREATE_RETRY_MS = 5_000
const CREATE_RETRY_EVERY_MS = 250

/** Creates the agent, retrying a store that did not answer (see CREATE_RETRY_MS). */
async function createRetried(engine: Engine, record: NewAgentRecord): Promise<AgentRecord> {
  const { store } = engine
  const deadline = Date.now() + CREATE_RETRY_MS
  for (;;) {
    try {
      return await storeCall(store, () => store.createAgent(record))
    } catch (error) {
      if (!(error instanceof StoreUnavailableError)) throw error
      if (Date.now() >= deadline) {
        throw new StoreUnavailableError(
          `${error.message}. Agent "${record.handle}" may still be created once the store recovers: if agents.get finds it, its credential was never shown (only its hash is kept): revoke it and create an agent of another handle.`,
          { cause: error },
        )
      }
      await new Promise((resolve) => setTimeout(resolve, CREATE_RETRY_EVERY_MS))
    }
  }
}

const POLICY_WRITE_ATTEMPTS = 8

/** The audit entry of an alert rule set (its webhook URL redacted, never its secret). */
function alertSetEntry(handle: string, rule: AlertRule, now: number): AuditEntry {
  return entry(handle, 'alert_set', now, `alert at ${formatPct(rule.thresholdPct)} of the cap`, {
    thresholdPct: rule.thresholdPct,
    webhookUrl: redactWebhookUrl(rule.webhookUrl),
    signed: rule.secret !== undefined,
  })
}

/** The audit log's reason for a revocation given without one. */
export const DEFAULT_REVOKE_REASON = 'revoked by operator (no reason given)'

/** Who revoked when a revocation does not say (or says it in a way that cannot be kept). */
export const DEFAULT_REVOKER = 'operator'

/**
 * The reason and the revoker a revocation is given, read leniently: never a reason to refuse
 * it (none, not a string, a `by` that is no short name, or an options object whose fields
 * throw when read is the default).
 */
export function revokeOptions(options: unknown): { reason: string; by: string } {
  const reason = optionOf(options, 'reason')
  const trimmed = typeof reason === 'string' ? reason.trim() : ''
  const by = actorSchema.safeParse(optionOf(options, 'by'))
  return {
    reason: trimmed.length === 0 ? DEFAULT_REVOKE_REASON : trimmed,
    by: by.success ? by.data : DEFAULT_REVOKER,
  }
}

function optionOf(options: unknown, key: 'reason' | 'by'): unknown {
  try {
    // Even an options object whose fields throw when read (a proxy, a getter).
    return options !== null && typeof options === 'object'
      ? (options as Record<string, unknown>)[key]
      : undefined
  } catch {
    return undefined
  }
}

/** Builds the agents API over an engine. */
export function createAgentsApi(engine: Engine): AgentsApi {
  const store = engine.store
  const call = <T>(operation: () => Promise<T>) => storeCall(store, operation)

  /** Public views of records, their windows' figures read in one store call. */
  const view = async (records: AgentRecord[]): Promise<AgentSnapshot[]> => {
    const usage = await call(() =>
      limitsWithUsage(
        store,
        records.map((record) => ({
          scope: 'agent' as const,
          id: record.handle,
          limits: record.limits,
        })),
        engine.now(),
      ),
    )
    const now = engine.now()
    const tightest = await call(() => tightestLevels(store, records, now))
    return records.map((record, i) =>
      toSnapshot(record, usage[i] ?? [], tightest[i] as TightestLevel, now),
    )
  }
  const viewOne = async (record: AgentRecord) => (await view([record]))[0] as AgentSnapshot

  const checkBudgets = async (budgets: readonly string[] | undefined) => {
    for (const [i, id] of (budgets ?? []).entries()) {
      if (!(await call(() => store.getBudget(id)))) {
        throw new InvalidConfigError(
          `budgets.${i}`,
          `Invalid budgets.${i}: no budget has the id "${id}"; create it first (ks.budgets.create).`,
        )
      }
    }
  }

  const load = async (handle: string) => {
    const checked = parseInput(handleSchema, handle, 'agents', 'handle')
    const agent = await call(() => store.getAgent(checked, engine.now()))
    if (!agent) throw new AgentNotFoundError(checked)
    return agent
  }

  /**
   * Runs `write` on the agent as read, and again on a fresh read when another update of its
   * policy landed in between (ConcurrentUpdateError): two updates at once both apply, never
   * one undoing the other with a policy made from what it read before.
   */
  const tryFresh = async <T>(handle: string, write: (current: AgentRecord) => Promise<T>) => {
    for (let attempt = 1; ; attempt++) {
      const current = await load(handle)
      try {
        return await write(current)
      } catch (error) {
        if (!(error instanceof ConcurrentUpdateError) || attempt >= POLICY_WRITE_ATTEMPTS) {
          throw error
        }
        // Another process's update landed: let it settle before reading again.
        await new Promise((resolve) => setTimeout(resolve, Math.random() * 10 * attempt))
      }
    }
  }
  // This process's policy changes of one agent, one after another: they never conflict with
  // each other (only with another process's, which the store refuses and `tryFresh` retries).
  const writing = new Map<string, Promise<unknown>>()
  const fromFresh = <T>(handle: string, write: (current: AgentRecord) => Promise<T>) => {
    // The queue holds settled promises only: a failed change never holds up the next.
    const next = (writing.get(handle) ?? Promise.resolve()).then(() => tryFresh(handle, write))
    const settled = next.catch(() => undefined)
    writing.set(handle, settled)
    void settled.then(() => {
      if (writing.get(handle) === settled) writing.delete(handle)
    })
    return next
  }

  // Reading an agent sweeps its lapsed holds into spend (a spender that died mid-call, whose
  // settlement never comes to check thresholds): an agent with lapsed spend has them checked
  // here, as a settlement would (once per crossing: the store's mark; from memory after).
  const afterSweep = (agent: AgentRecord) => {
    if (agent.unreconciledMicros > 0) engine.afterSpend(agent)
  }

  /** An update as parsed, written over the agent as read (`fromFresh` retries it). */
  const applyUpdate = async (current: AgentRecord, parsed: UpdateInput) => {
    const now = engine.now()
    const capMicros = parsed.spendingCap === undefined ? undefined : toMicros(parsed.spendingCap)
    const policy =
      parsed.runaway === undefined &&
      parsed.approvals === undefined &&
      parsed.spendRules === undefined
        ? undefined
        : {
            ...current.policy,
            ...(parsed.runaway === undefined ? {} : { runaway: parsed.runaway }),
            ...(parsed.approvals === undefined ? {} : { approvals: parsed.approvals }),
            ...(parsed.spendRules === undefined ? {} : { spendRules: parsed.spendRules }),
          }
    const limits = parsed.limits === undefined ? undefined : toLimitRecords(parsed.limits)
    const summary = [
      capMicros === undefined
        ? undefined
        : `cap $${toUsd(current.capMicros)} -> $${toUsd(capMicros)}`,
      parsed.runaway === undefined ? undefined : 'runaway settings changed',
      parsed.approvals === undefined
        ? undefined
        : `approvals ${parsed.approvals.enabled ? `on (wait ${parsed.approvals.waitMs} ms)` : 'off'}`,
      parsed.spendRules === undefined ? undefined : 'spend rules changed',
      limits === undefined
        ? undefined
        : `limits ${parsed.limits?.map((limit) => `$${limit.amount}/${limit.per}`).join(', ') || 'none'}`,
      parsed.budgets === undefined ? undefined : `budgets ${parsed.budgets.join(', ') || 'none'}`,
    ]
      .filter(Boolean)
      .join('; ')
    const updated = await call(() =>
      store.updateAgent(
        current.handle,
        {
          capMicros,
          policy,
          ...(policy && { policyFrom: JSON.stringify(current.policy) }),
          limits,
          budgets: parsed.budgets,
        },
        now,
        entry(
          current.handle,
          capMicros === undefined ? 'policy_changed' : 'cap_changed',
          now,
          summary || 'no change',
          {
            ...(capMicros === undefined
              ? {}
              : { from: toUsd(current.capMicros), to: toUsd(capMicros) }),
            ...(parsed.runaway === undefined ? {} : { runaway: parsed.runaway }),
            ...(parsed.approvals === undefined ? {} : { approvals: parsed.approvals }),
            ...(parsed.spendRules === undefined ? {} : { spendRules: parsed.spendRules }),
            ...(parsed.limits === undefined ? {} : { limits: parsed.limits }),
            ...(parsed.budgets === undefined ? {} : { budgets: parsed.budgets }),
          },
        ),
      ),
    )
    if (capMicros !== undefined)
      engine.events.emit('cap_changed', {
        handle: current.handle,
        from: toUsd(current.capMicros),
        to: toUsd(capMicros),
      })
    // A cap or a limit lowered under what is spent crosses thresholds with no spend.
    engine.afterSpend(updated)
    return viewOne(updated)
  }

  /** One alert rule set, over the agent's rules as read (`fromFresh` retries it). */
  const applyAlert = async (current: AgentRecord, parsed: AlertRuleInput) => {
    const now = engine.now()
    // One rule per (threshold, URL): setting it again replaces it (a new secret, say).
    const alerts = current.policy.alerts.filter(
      (existing) =>
        !(
          existing.thresholdPct === parsed.thresholdPct && existing.webhookUrl === parsed.webhookUrl
        ),
    )
    alerts.push(parsed)
    const updated = await call(() =>
      store.updateAgent(
        current.handle,
        { policy: { ...current.policy, alerts }, policyFrom: JSON.stringify(current.policy) },
        now,
        alertSetEntry(current.handle, parsed, now),
      ),
    )
    return viewOne(updated)
  }

  return {
    async create(input) {
      const parsed = parseInput(createAgentSchema, input, 'agents.create')
      await checkBudgets(parsed.budgets)
      const credential = generateCredential()
      const now = engine.now()
      const policy: AgentPolicy = {
        alerts: parsed.alerts ?? [],
        runaway: parsed.runaway ?? {},
        ...(parsed.approvals === undefined ? {} : { approvals: parsed.approvals }),
        ...(parsed.spendRules === undefined ? {} : { spendRules: parsed.spendRules }),
      }
      const record = await createRetried(engine, {
        handle: parsed.handle,
        credentialHash: hashCredential(credential),
        capMicros: toMicros(parsed.spendingCap),
        currency: parsed.currency,
        createdAt: now,
        updatedAt: now,
        policy,
        limits: toLimitRecords(parsed.limits ?? []),
        budgets: parsed.budgets ?? [],
      })
      engine.audit(
        entry(record.handle, 'created', now, `created with a cap of $${parsed.spendingCap}`, {
          spendingCap: parsed.spendingCap,
          currency: parsed.currency,
        }),
      )
      for (const rule of policy.alerts) {
        engine.audit(alertSetEntry(record.handle, rule, now))
      }
      engine.events.emit('created', { handle: record.handle, spendingCap: parsed.spendingCap })
      return { ...(await viewOne(record)), credential }
    },

    async update(handle, input) {
      const parsed = parseInput(updateAgentSchema, input, 'agents.update')
      return fromFresh(handle, (current) => applyUpdate(current, parsed))
    },

    async setAlert(handle, rule) {
      const parsed = parseInput(alertRuleSchema, rule, 'agents.setAlert')
      return fromFresh(handle, (current) => applyAlert(current, parsed))
    },

    async revoke(handle, options) {
      // The reason is a comment for the audit log: none, an empty one, one of the wrong type
      // or too long never stops a revocation (it is replaced or cut, never refused).
      const { reason, by } = revokeOptions(options)
      const checked = parseInput(handleSchema, handle, 'agents.revoke', 'handle')
      const { agent, alreadyRevoked } = await engine.revoke(checked, reason, by)
      return { ...(await viewOne(agent)), alreadyRevoked }
    },

    async reconcile(handle, input) {
      const checked = parseInput(handleSchema, handle, 'agents.reconcile', 'handle')
      const { outcome, agent } = await reconcileHold(engine, checked, input)
      return { outcome, agent: await viewOne(agent) }
    },

    async get(handle) {
      const agent = await load(handle)
      afterSweep(agent)
      return viewOne(agent)
    },

    async list() {
      const agents = await call(() => store.listAgents(engine.now()))
      for (const agent of agents) afterSweep(agent)
      return view(agents)
    },
  }
}
