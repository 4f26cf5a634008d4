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
import { toUsd } from './money.js'
import type { DetectorFinding } from './runaway/types.js'
import type { AgentRecord, Store } from './store.js'

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
