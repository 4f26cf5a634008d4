// The agents API: provision, cap, alert, revoke, inspect. Inputs are validated at this
// boundary; everything below trusts the types.
import { type AgentSnapshot, toSnapshot } from './agent-snapshot.js'
import { redactWebhookUrl } from './alerts/webhook-url.js'
import type { AuditEntry } from './audit.js'
import {
  alertRuleSchema,
  createAgentSchema,
  handleSchema,
  parseInput,
  revokeSchema,
  updateAgentSchema,
} from './config.js'
import { generateCredential, hashCredential } from './credentials.js'
import { type Engine, storeCall } from './engine.js'
import { AgentNotFoundError } from './errors.js'
import { toMicros, toUsd } from './money.js'
import type { AgentPolicy, AlertRule } from './policy.js'
import type { RunawayConfig } from './runaway/config.js'

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
}

/** Input of `agents.update`. */
export interface UpdateAgentInput {
  spendingCap?: number
  runaway?: RunawayConfig
}

/** `ks.agents`. */
export interface AgentsApi {
  create(input: CreateAgentInput): Promise<ProvisionedAgent>
  update(handle: string, input: UpdateAgentInput): Promise<AgentSnapshot>
  setAlert(handle: string, rule: AlertRule): Promise<AgentSnapshot>
  revoke(handle: string, options: { reason: string }): Promise<AgentSnapshot>
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

/** Builds the agents API over an engine. */
export function createAgentsApi(engine: Engine): AgentsApi {
  const store = engine.store
  const call = <T>(operation: () => Promise<T>) => storeCall(store, operation)

  const load = async (handle: string) => {
    const checked = parseInput(handleSchema, handle, 'agents')
    const agent = await call(() => store.getAgent(checked, engine.now()))
    if (!agent) throw new AgentNotFoundError(checked)
    return agent
  }

  return {
    async create(input) {
      const parsed = parseInput(createAgentSchema, input, 'agents.create')
      const credential = generateCredential()
      const now = engine.now()
      const policy: AgentPolicy = { alerts: parsed.alerts ?? [], runaway: parsed.runaway ?? {} }
      const record = await call(() =>
        store.createAgent({
          handle: parsed.handle,
          credentialHash: hashCredential(credential),
          capMicros: toMicros(parsed.spendingCap),
          currency: parsed.currency,
          createdAt: now,
          updatedAt: now,
          policy,
        }),
      )
      engine.audit(
        entry(record.handle, 'created', now, `created with a cap of $${parsed.spendingCap}`, {
          spendingCap: parsed.spendingCap,
          currency: parsed.currency,
        }),
      )
      for (const rule of policy.alerts) {
        engine.audit(
          entry(
            record.handle,
            'alert_set',
            now,
            `alert at ${rule.thresholdPct * 100}% of the cap`,
            {
              thresholdPct: rule.thresholdPct,
              webhookUrl: redactWebhookUrl(rule.webhookUrl),
              signed: rule.secret !== undefined,
            },
          ),
        )
      }
      engine.events.emit('created', { handle: record.handle, spendingCap: parsed.spendingCap })
      return { ...toSnapshot(record), credential }
    },

    async update(handle, input) {
      const parsed = parseInput(updateAgentSchema, input, 'agents.update')
      const current = await load(handle)
      const now = engine.now()
      const capMicros = parsed.spendingCap === undefined ? undefined : toMicros(parsed.spendingCap)
      const policy =
        parsed.runaway === undefined ? undefined : { ...current.policy, runaway: parsed.runaway }
      const summary = [
        capMicros === undefined
          ? undefined
          : `cap $${toUsd(current.capMicros)} -> $${toUsd(capMicros)}`,
        policy === undefined ? undefined : 'runaway settings changed',
      ]
        .filter(Boolean)
        .join('; ')
      const updated = await call(() =>
        store.updateAgent(
          current.handle,
          { capMicros, policy },
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
              ...(policy === undefined ? {} : { runaway: parsed.runaway }),
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
      return toSnapshot(updated)
    },

    async setAlert(handle, rule) {
      const parsed = parseInput(alertRuleSchema, rule, 'agents.setAlert')
      const current = await load(handle)
      const now = engine.now()
      // One rule per (threshold, URL): setting it again replaces it (a new secret, say).
      const alerts = current.policy.alerts.filter(
        (existing) =>
          !(
            existing.thresholdPct === parsed.thresholdPct &&
            existing.webhookUrl === parsed.webhookUrl
          ),
      )
      alerts.push(parsed)
      const updated = await call(() =>
        store.updateAgent(
          current.handle,
          { policy: { ...current.policy, alerts } },
          now,
          entry(
            current.handle,
            'alert_set',
            now,
            `alert at ${parsed.thresholdPct * 100}% of the cap`,
            {
              thresholdPct: parsed.thresholdPct,
              webhookUrl: redactWebhookUrl(parsed.webhookUrl),
              signed: parsed.secret !== undefined,
            },
          ),
        ),
      )
      return toSnapshot(updated)
    },

    async revoke(handle, options) {
      const { reason } = parseInput(revokeSchema, options, 'agents.revoke')
      const checked = parseInput(handleSchema, handle, 'agents.revoke')
      return toSnapshot(await engine.revoke(checked, reason, 'operator'))
    },

    async get(handle) {
      return toSnapshot(await load(handle))
    },

    async list() {
      const agents = await call(() => store.listAgents(engine.now()))
      return agents.map(toSnapshot)
    },
  }
}
