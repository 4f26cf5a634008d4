// Deciding WHEN to alert: a threshold crossing (once per crossing, across processes, via the
// store's atomic mark), a revocation, a runaway trip. HOW an alert is delivered (signed
// webhooks, retries) is the dispatcher's job. Everything here is off the guarded call's
// path: the caller never waits for a mark or a delivery.
import { type AlertEvent, createAlertEvent } from './alerts/alert-event.js'
import { alertSummary, formatPct } from './alerts/alert-format.js'
import { type ApprovalLinksOptions, approvalLinkUrl } from './alerts/approval-link.js'
import type { WebhookDispatcher } from './alerts/webhook-dispatcher.js'
import { redactWebhookUrl } from './alerts/webhook-url.js'
import type { AuditEntry } from './audit.js'
import type { ApprovalEvent, EventHub } from './events.js'
import { windowKey } from './ledger/levels.js'
import { windowEnd } from './ledger/windows.js'
import { toUsd } from './money.js'
import { redactSecrets } from './redact.js'
import type { DetectorFinding } from './runaway/types.js'
import type { AgentRecord, LimitRecord, Store } from './store.js'

/** Delivers alert events. `dispatch` must return at once; `flush` waits for deliveries. */
export type AlertDispatcher = Pick<WebhookDispatcher, 'dispatch' | 'flush' | 'close'>

export interface Alerting {
  /**
   * Checks the agent's thresholds against a fresh record of it: after a settlement, and
   * whenever spend may have grown or a cap or limit shrunk another way (a lapsed hold
   * charged by a sweep, a lowered cap). Cheap when nothing crossed; idempotent (the store's
   * mark fires each crossing once).
   */
  afterSpend(agent: AgentRecord): void
  notifyRevoked(agent: AgentRecord): void
  notifyRunaway(agent: AgentRecord, finding: DetectorFinding, action: string): void
  /** Sends an approval request (with signed one-click links when configured). */
  notifyApproval(agent: AgentRecord, approval: ApprovalEvent): void
  /**
   * Waits for marks in progress and for the dispatcher's deliveries (`deliveries: false`:
   * the marks only, as `ks.close()` does before the dispatcher's bounded close).
   */
  flush(options?: { deliveries?: boolean }): Promise<void>
  /** Marks remembered by this process (bounded: see `DecidedMarks`). For tests. */
  readonly remembered: number
}

/** Marks remembered by one process, at most. */
export const MAX_DECIDED_MARKS = 16_384

/**
 * The marks this process already took or lost, so the next spend skips the store's round
 * trip. Bounded: past `max`, the marks of windows that ended go first, then the oldest. A
 * mark dropped here costs one more round trip to the store, whose mark still decides:
 * never a second alert.
 */
export class DecidedMarks {
  readonly #until = new Map<string, number>()
  readonly max: number
  // A plain field, not a parameter property: the package's source also runs type-stripped.
  constructor(max = MAX_DECIDED_MARKS) {
    this.max = max
  }
  get size(): number {
    return this.#until.size
  }
  has(key: string): boolean {
    return this.#until.has(key)
  }
  /** Remembers `key` until `until` (ms; the end of its window, or forever). */
  add(key: string, until: number, now: number): void {
    this.#until.set(key, until)
    if (this.#until.size <= this.max) return
    for (const [known, end] of this.#until) if (end <= now) this.#until.delete(known)
    // Still full of live marks: the oldest quarter goes (not one per add, which would scan
    // the whole set on every crossing from then on).
    const keep = Math.floor((this.max * 3) / 4)
    for (const known of this.#until.keys()) {
      if (this.#until.size <= keep) break
      this.#until.delete(known)
    }
  }
  delete(key: string): void {
    this.#until.delete(key)
  }
}

// What a runaway trip did, in on-call's words (the raw `block` read as a contradiction of
// "throttled"); a throttle's summary already says "throttled, retry after 5 s".
const RUNAWAY_DONE: Record<string, string> = {
  warn: 'warned only',
  block: 'throttled',
  stop: 'run stopped',
  revoke: 'revoked',
}

function runawayReason(finding: DetectorFinding, action: string): string {
  const summary = finding.summary ?? finding.detector
  const done = RUNAWAY_DONE[action] ?? action
  return summary.includes(done) ? summary : `${summary} (${done})`
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
  const decided = new DecidedMarks()
  // Per agent, what its windows were last checked at (spend, limits, budgets, rules): a
  // record that shows nothing new skips the store reads. Bounded like `decided`.
  const windowsChecked = new Map<string, string>()
  const pending = new Set<Promise<unknown>>()

  const track = (promise: Promise<unknown>) => {
    const tracked = promise.catch(onError).finally(() => pending.delete(tracked))
    pending.add(tracked)
  }

  /**
   * Asks the store for the mark `key` once per process; on a store failure forgets it, so
   * the next check asks again (a blip never loses the alert for the life of the process).
   */
  const markOnce = (
    agent: AgentRecord,
    key: string,
    until: number,
    onWon: () => void,
  ): Promise<void> | undefined => {
    const local = `${agent.handle}\u0000${key}`
    if (decided.has(local)) return undefined
    decided.add(local, until, now())
    return store.markOnce(agent.handle, key).then(
      (won) => {
        if (won) onWon()
      },
      (error: unknown) => {
        decided.delete(local)
        throw error
      },
    )
  }

  const alertEvent = (
    agent: AgentRecord,
    event: Omit<AlertEvent, 'id' | 'at' | 'agent' | 'spent' | 'spendingCap'>,
  ): AlertEvent =>
    createAlertEvent({
      agent: agent.handle,
      spent: toUsd(agent.spentMicros),
      spendingCap: toUsd(agent.capMicros),
      at: now(),
      ...event,
    })

  /**
   * Sends `body` to the agent's alert webhooks (those in `urls` when given), once each. Each
   * webhook's `alert` audit entry (the event's id, type, masked URL) is written BEFORE its
   * dispatch: an `alert` with no `alert_delivery` is one whose process ended mid-delivery
   * (README, Alerts), for a revocation or a runaway trip as for a threshold.
   */
  const deliver = (
    agent: AgentRecord,
    body: AlertEvent,
    entry: { summary: string; data?: Record<string, unknown> },
    urls?: ReadonlySet<string>,
  ) => {
    const seen = new Set<string>()
    for (const rule of agent.policy.alerts) {
      if (urls && !urls.has(rule.webhookUrl)) continue
      if (seen.has(rule.webhookUrl)) continue
      seen.add(rule.webhookUrl)
      audit({
        at: now(),
        handle: agent.handle,
        type: 'alert',
        summary: entry.summary,
        data: {
          ...entry.data,
          eventType: body.type,
          webhookUrl: redactWebhookUrl(rule.webhookUrl),
          ...(dispatcher ? { eventId: body.id } : {}),
        },
      })
      dispatcher?.dispatch(body, {
        url: rule.webhookUrl,
        ...(rule.secret ? { secret: rule.secret } : {}),
        ...(rule.format ? { format: rule.format } : {}),
        ...(rule.routingKey ? { routingKey: rule.routingKey } : {}),
      })
    }
  }
  const send = (
    agent: AgentRecord,
    event: Omit<AlertEvent, 'id' | 'at' | 'agent' | 'spent' | 'spendingCap'>,
  ) => {
    const body = alertEvent(agent, event)
    deliver(agent, body, { summary: alertSummary(body) })
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
    const marks: Array<Promise<void>> = []
    levels.forEach((level, i) => {
      const spentMicros = usage[i]?.spentMicros ?? 0
      const resetsAt = windowEnd(level.limit.per, at, level.timeZone)
      for (const rule of agent.policy.alerts) {
        if (spentMicros < Math.ceil(level.limit.amountMicros * rule.thresholdPct)) continue
        const key = `threshold:${keys[i]}:${rule.thresholdPct}:${level.limit.amountMicros}:${rule.webhookUrl}`
        const mark = markOnce(agent, key, resetsAt ?? Number.POSITIVE_INFINITY, () => {
          const spent = toUsd(spentMicros)
          const amount = toUsd(level.limit.amountMicros)
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
          const body = alertEvent(agent, {
            type: 'threshold',
            ...crossed,
            ...(resetsAt === undefined ? {} : { windowResetsAt: new Date(resetsAt).toISOString() }),
          })
          deliver(
            agent,
            body,
            {
              summary: `${where} ${level.limit.per} window: spend $${spent} crossed ${formatPct(rule.thresholdPct)} of $${amount}`,
              data: crossed,
            },
            new Set([rule.webhookUrl]),
          )
        })
        // Each failed mark is reported on its own; the others go on.
        if (mark) marks.push(mark.catch(onError))
      }
    })
    await Promise.all(marks)
  }

  // What an agent's windows were checked at: a record with the same spend, limits, budgets
  // and rules cannot have crossed anything new in its own windows (a window's spend grows
  // only with the agent's), so its check is skipped. A shared budget's spend by other
  // agents is seen at this agent's next spend, as before.
  const windowsSignature = (agent: AgentRecord) =>
    `${agent.spentMicros}|${agent.limits.map((limit) => `${limit.per}:${limit.amountMicros}`).join(',')}|${agent.budgets.join(',')}|${agent.policy.alerts.map((rule) => rule.thresholdPct).join(',')}`

  const checkWindows = (agent: AgentRecord) => {
    // Without budgets the agent's windows hold at most its lifetime spend: below the lowest
    // threshold of the smallest limit nothing can have crossed, and nothing is read.
    if (agent.budgets.length === 0) {
      let lowest = Number.POSITIVE_INFINITY
      for (const rule of agent.policy.alerts) lowest = Math.min(lowest, rule.thresholdPct)
      let smallest = Number.POSITIVE_INFINITY
      for (const limit of agent.limits) {
        if (limit.amountMicros > 0) smallest = Math.min(smallest, limit.amountMicros)
      }
      if (agent.spentMicros < Math.ceil(smallest * lowest)) return
    }
    const signature = windowsSignature(agent)
    if (windowsChecked.get(agent.handle) === signature) return
    windowsChecked.delete(agent.handle) // re-inserted last: the oldest agent goes first
    windowsChecked.set(agent.handle, signature)
    if (windowsChecked.size > MAX_DECIDED_MARKS) {
      const oldest = windowsChecked.keys().next().value
      if (oldest !== undefined) windowsChecked.delete(oldest)
    }
    track(
      windowThresholds(agent).catch((error: unknown) => {
        // Not checked after all (the store failed): the next record checks again.
        if (windowsChecked.get(agent.handle) === signature) windowsChecked.delete(agent.handle)
        throw error
      }),
    )
  }

  return {
    afterSpend(agent) {
      if (agent.policy.alerts.length === 0 || agent.capMicros <= 0) return
      for (const rule of agent.policy.alerts) {
        // Crossing = spent reached the fraction of the cap in force; a new cap re-arms it.
        if (agent.spentMicros < Math.ceil(agent.capMicros * rule.thresholdPct)) continue
        const key = `threshold:${rule.thresholdPct}:${agent.capMicros}:${rule.webhookUrl}`
        const mark = markOnce(agent, key, Number.POSITIVE_INFINITY, () => {
          const body = alertEvent(agent, { type: 'threshold', thresholdPct: rule.thresholdPct })
          events.emit('threshold', {
            handle: agent.handle,
            thresholdPct: rule.thresholdPct,
            spent: toUsd(agent.spentMicros),
            spendingCap: toUsd(agent.capMicros),
          })
          deliver(
            agent,
            body,
            {
              summary: `spend $${toUsd(agent.spentMicros)} crossed ${formatPct(rule.thresholdPct)} of the $${toUsd(agent.capMicros)} cap`,
              data: {
                thresholdPct: rule.thresholdPct,
                spent: toUsd(agent.spentMicros),
                spendingCap: toUsd(agent.capMicros),
              },
            },
            new Set([rule.webhookUrl]),
          )
        })
        if (mark) track(mark)
      }
      if (agent.limits.length > 0 || agent.budgets.length > 0) checkWindows(agent)
    },

    // The stored reason is masked already (`storedReason`, as every revocation is).
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
        reason: redactSecrets(runawayReason(finding, action)),
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

    async flush({ deliveries = true } = {}) {
      while (pending.size > 0) await Promise.all([...pending])
      if (deliveries) await dispatcher?.flush()
    },

    get remembered() {
      return decided.size
    },
  }
}
