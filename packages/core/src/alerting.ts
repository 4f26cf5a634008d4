// Deciding WHEN to alert: a threshold crossing (once per crossing, across processes, via the
// store's atomic mark), a revocation, a runaway trip. HOW an alert is delivered (signed
// webhooks, retries) is the dispatcher's job. Everything here is off the guarded call's
// path: the caller never waits for a mark or a delivery.
import { type AlertEvent, createAlertEvent } from './alerts/alert-event.js'
import { type ApprovalLinksOptions, approvalLinkUrl } from './alerts/approval-link.js'
import type { WebhookDispatcher } from './alerts/webhook-dispatcher.js'
import { redactWebhookUrl } from './alerts/webhook-url.js'
import type { AuditEntry } from './audit.js'
import type { ApprovalEvent, EventHub } from './events.js'
import { windowKey } from './ledger/levels.js'
import { windowEnd } from './ledger/windows.js'
import { toUsd } from './money.js'
import type { DetectorFinding } from './runaway/types.js'
import type { AgentRecord, LimitRecord, Store } from './store.js'

/** Delivers alert events. `dispatch` must return at once; `flush` waits for deliveries. */
export type AlertDispatcher = Pick<WebhookDispatcher, 'dispatch' | 'flush' | 'close'>

export interface Alerting {
  afterSpend(agent: AgentRecord): void
  notifyRevoked(agent: AgentRecord): void
  notifyRunaway(agent: AgentRecord, finding: DetectorFinding, action: string): void
  /** Sends an approval request (with signed one-click links when configured). */
  notifyApproval(agent: AgentRecord, approval: ApprovalEvent): void
  /** Waits for marks in progress and for the dispatcher's deliveries. */
  flush(): Promise<void>
}

export function createAlerting(deps: {
  store: Store
  events: EventHub
  dispatcher: AlertDispatcher | undefined
  now: () => number
  audit: (entry: AuditEntry) => void
  onError: (error: unknown) => void
  /** Signs one-click approve/deny links into `approval_requested` alerts. */
  approvalLinks?: ApprovalLinksOptions
}): Alerting {
  const { store, events, dispatcher, now, audit, onError, approvalLinks } = deps
  // Marks this process already took or lost: skip the store round trip next time.
  const decided = new Set<string>()
  const pending = new Set<Promise<unknown>>()

  const track = (promise: Promise<unknown>) => {
    const tracked = promise.catch(onError).finally(() => pending.delete(tracked))
    pending.add(tracked)
  }

  const send = (
    agent: AgentRecord,
    event: Omit<AlertEvent, 'id' | 'at' | 'agent' | 'spent' | 'spendingCap'>,
    urls?: ReadonlySet<string>,
  ) => {
    if (!dispatcher) return
    const body = createAlertEvent({
      agent: agent.handle,
      spent: toUsd(agent.spentMicros),
      spendingCap: toUsd(agent.capMicros),
      at: now(),
      ...event,
    })
    const seen = new Set<string>()
    for (const rule of agent.policy.alerts) {
      if (urls && !urls.has(rule.webhookUrl)) continue
      if (seen.has(rule.webhookUrl)) continue
      seen.add(rule.webhookUrl)
      dispatcher.dispatch(body, {
        url: rule.webhookUrl,
        ...(rule.secret ? { secret: rule.secret } : {}),
        ...(rule.format ? { format: rule.format } : {}),
        ...(rule.routingKey ? { routingKey: rule.routingKey } : {}),
      })
    }
  }

  // The agent's alert rules also watch every window it draws on: its own and each of its
  // budgets'. A window's crossing fires once per window (the mark's key holds the window's
  // start, so the next day's crossing fires again) across processes, and once more if the
  // limit changes. A budget shared by several agents alerts through each agent's rules.
  const windowThresholds = async (agent: AgentRecord) => {
    const at = now()
    const budgets = await Promise.all(agent.budgets.map((id) => store.getBudget(id)))
    const levels: Array<{
      scope: 'agent' | 'budget'
      id: string
      limit: LimitRecord
      timeZone?: string
    }> = [
      ...agent.limits.map((limit) => ({ scope: 'agent' as const, id: agent.handle, limit })),
      ...budgets.flatMap((budget) =>
        budget === undefined
          ? []
          : budget.limits.map((limit) => ({
              scope: 'budget' as const,
              id: budget.id,
              limit,
              ...(budget.timeZone === undefined ? {} : { timeZone: budget.timeZone }),
            })),
      ),
    ].filter((level) => level.limit.amountMicros > 0)
    if (levels.length === 0) return
    const keys = levels.map((level) =>
      windowKey(level.scope, level.id, level.limit, at, level.timeZone),
    )
    const usage = await store.readUsage(keys)
    const marks: Array<Promise<unknown>> = []
    levels.forEach((level, i) => {
      const spentMicros = usage[i]?.spentMicros ?? 0
      for (const rule of agent.policy.alerts) {
        if (spentMicros < Math.ceil(level.limit.amountMicros * rule.thresholdPct)) continue
        const key = `threshold:${keys[i]}:${rule.thresholdPct}:${level.limit.amountMicros}:${rule.webhookUrl}`
        const local = `${agent.handle}\u0000${key}`
        if (decided.has(local)) continue
        decided.add(local)
        marks.push(
          store.markOnce(agent.handle, key).then((won) => {
            if (!won) return
            const spent = toUsd(spentMicros)
            const amount = toUsd(level.limit.amountMicros)
            const resetsAt = windowEnd(level.limit.per, at, level.timeZone)
            const where = level.scope === 'budget' ? `budget ${level.id}` : 'its'
            // What crossed: the same figures in the audit entry and in the webhook.
            const crossed = {
              thresholdPct: rule.thresholdPct,
              level: level.scope,
              ...(level.scope === 'budget' ? { budgetId: level.id } : {}),
              per: level.limit.per,
              windowSpent: spent,
              windowAmount: amount,
            }
            audit({
              at: now(),
              handle: agent.handle,
              type: 'alert',
              summary: `${where} ${level.limit.per} window: spend $${spent} crossed ${rule.thresholdPct * 100}% of $${amount}`,
              data: { ...crossed, webhookUrl: redactWebhookUrl(rule.webhookUrl) },
            })
            send(
              agent,
              {
                type: 'threshold',
                ...crossed,
                ...(resetsAt === undefined
                  ? {}
                  : { windowResetsAt: new Date(resetsAt).toISOString() }),
              },
              new Set([rule.webhookUrl]),
            )
          }),
        )
      }
    })
    await Promise.all(marks)
  }

  return {
    afterSpend(agent) {
      if (agent.policy.alerts.length === 0 || agent.capMicros <= 0) return
      for (const rule of agent.policy.alerts) {
        // Crossing = spent reached the fraction of the cap in force; a new cap re-arms it.
        if (agent.spentMicros < Math.ceil(agent.capMicros * rule.thresholdPct)) continue
        const key = `threshold:${rule.thresholdPct}:${agent.capMicros}:${rule.webhookUrl}`
        const local = `${agent.handle}\u0000${key}`
        if (decided.has(local)) continue
        decided.add(local)
        track(
          store.markOnce(agent.handle, key).then((won) => {
            if (!won) return
            const summary = `spend $${toUsd(agent.spentMicros)} crossed ${rule.thresholdPct * 100}% of the $${toUsd(agent.capMicros)} cap`
            audit({
              at: now(),
              handle: agent.handle,
              type: 'alert',
              summary,
              data: {
                thresholdPct: rule.thresholdPct,
                spent: toUsd(agent.spentMicros),
                spendingCap: toUsd(agent.capMicros),
                webhookUrl: redactWebhookUrl(rule.webhookUrl),
              },
            })
            events.emit('threshold', {
              handle: agent.handle,
              thresholdPct: rule.thresholdPct,
              spent: toUsd(agent.spentMicros),
              spendingCap: toUsd(agent.capMicros),
            })
            send(
              agent,
              { type: 'threshold', thresholdPct: rule.thresholdPct },
              new Set([rule.webhookUrl]),
            )
          }),
        )
      }
      if (agent.limits.length > 0 || agent.budgets.length > 0) track(windowThresholds(agent))
    },

    notifyRevoked(agent) {
      send(agent, {
        type: 'revoked',
        ...(agent.revokedReason ? { reason: agent.revokedReason } : {}),
      })
    },

    notifyRunaway(agent, finding, action) {
      send(agent, {
        type: 'runaway',
        detector: finding.detector,
        reason: `${finding.summary ?? finding.detector} (${action})`,
      })
    },

    notifyApproval(agent, approval) {
      // A link expires with its request: after that there is nothing left to decide.
      const expiresAt = Date.parse(approval.expiresAt)
      send(agent, {
        type: 'approval_requested',
        approvalId: approval.id,
        requested: approval.requested,
        reason: approval.reason,
        expiresAt: approval.expiresAt,
        ...(approvalLinks === undefined
          ? {}
          : {
              approveUrl: approvalLinkUrl(approvalLinks, approval.id, 'approve', expiresAt),
              denyUrl: approvalLinkUrl(approvalLinks, approval.id, 'deny', expiresAt),
            }),
      })
    },

    async flush() {
      while (pending.size > 0) await Promise.all([...pending])
      await dispatcher?.flush()
    },
  }
}
