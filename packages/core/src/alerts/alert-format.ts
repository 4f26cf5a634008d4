// The shape of an alert's body for the tool on-call watches. `json` is the event as is;
// `slack` is an incoming-webhook message (`text` plus Block Kit blocks, with Approve / Deny
// buttons when the alert carries signed links); `pagerduty` is an Events API v2 `trigger`
// (routing key from the rule, one dedup key per agent and event, so a retry or a repeat
// updates the incident instead of paging twice). Every format is signed the same way
// (Killswitch-Signature over the exact body sent): a relay in front of Slack or PagerDuty
// can verify it before forwarding.

import { formatUsd } from '../format-usd.js'
import type { AlertEvent } from './alert-event.js'

/** Where on-call lives. */
export type AlertFormat = 'json' | 'slack' | 'pagerduty'

export const ALERT_FORMATS: readonly AlertFormat[] = ['json', 'slack', 'pagerduty']

/** What the format needs from the alert rule. */
export interface AlertFormatTarget {
  format?: AlertFormat
  /** PagerDuty Events v2 integration (routing) key: required for `pagerduty`. */
  routingKey?: string
}

/**
 * A threshold fraction as a percentage for people, to a tenth of a percent: 0.07 is "7%",
 * never the float's "7.000000000000001%".
 *
 * @example
 * formatPct(0.07) // '7%'
 */
export function formatPct(fraction: number): string {
  return `${Math.round(fraction * 1000) / 10}%`
}

/** One line for people: what happened to which agent, with the figures. */
export function alertSummary(event: AlertEvent): string {
  const money = `${formatUsd(event.spent)} of its ${formatUsd(event.spendingCap)} cap`
  switch (event.type) {
    case 'threshold': {
      const pct = formatPct(event.thresholdPct ?? 0)
      if (event.per !== undefined) {
        const level = event.level === 'budget' ? `budget ${event.budgetId}` : 'its'
        const figures =
          event.windowSpent === undefined || event.windowAmount === undefined
            ? ''
            : `: spent ${formatUsd(event.windowSpent)} of ${formatUsd(event.windowAmount)}`
        const resets = event.windowResetsAt ? `, resets ${event.windowResetsAt}` : ''
        return `${event.agent}: ${level} ${event.per} window crossed ${pct}${figures}${resets}`
      }
      return `${event.agent} crossed ${pct} of its cap: spent ${money}`
    }
    case 'revoked':
      return `${event.agent} was revoked at ${money}${event.reason ? `: ${event.reason}` : ''}`
    case 'runaway':
      return `${event.agent} runaway${event.detector ? ` (${event.detector})` : ''}: ${event.reason ?? 'stopped'}`
    case 'approval_requested':
      return `${event.agent} asks to spend ${formatUsd(event.requested ?? 0)} past its cap (spent ${money})${event.reason ? `: ${event.reason}` : ''}`
  }
}

/**
 * What on-call does next, by command; `code` marks a command up (Slack's backticks).
 *
 * @example
 * nextStep(event) // 'Stop it: killswitch revoke agent-a · Details: killswitch audit agent-a'
 */
export function nextStep(event: AlertEvent, code = (command: string) => command): string {
  const details = `Details: ${code(`killswitch audit ${event.agent}`)}`
  switch (event.type) {
    case 'revoked': // nothing left to stop
      return details
    case 'approval_requested':
      return `Decide: ${code(`killswitch approvals approve ${event.approvalId}`)} or ${code('deny')} · ${details}`
    default:
      return `Stop it: ${code(`killswitch revoke ${event.agent}`)} · ${details}`
  }
}

const SEVERITY: Record<AlertEvent['type'], 'critical' | 'error' | 'warning' | 'info'> = {
  revoked: 'critical',
  runaway: 'error',
  threshold: 'warning',
  approval_requested: 'warning',
}

// Per agent and event: a threshold per fraction (and window), an approval per request.
function dedupKey(event: AlertEvent): string {
  const detail =
    event.type === 'threshold'
      ? `:${event.level ?? 'agent'}:${event.budgetId ?? ''}:${event.per ?? 'cap'}:${event.thresholdPct}`
      : event.type === 'approval_requested'
        ? `:${event.approvalId}`
        : event.type === 'runaway'
          ? `:${event.detector ?? ''}`
          : ''
  return `killswitch:${event.agent}:${event.type}${detail}`.slice(0, 255)
}

function slackText(text: string): string {
  // Slack's mrkdwn control characters: an agent's reason must not inject a link or mention.
  return text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;')
}

function slackBody(event: AlertEvent) {
  const summary = slackText(alertSummary(event))
  const blocks: unknown[] = [
    { type: 'section', text: { type: 'mrkdwn', text: `*Killswitch* ${summary}` } },
    {
      type: 'context',
      elements: [
        {
          type: 'mrkdwn',
          text: slackText(
            `agent \`${event.agent}\` · ${event.type} · spent ${formatUsd(event.spent)} / ${formatUsd(event.spendingCap)} · ${event.at}`,
          ),
        },
      ],
    },
  ]
  if (event.approveUrl && event.denyUrl) {
    // Buttons open the confirmation page (GET); the decision is its POST.
    blocks.push({
      type: 'actions',
      elements: [
        {
          type: 'button',
          style: 'primary',
          text: { type: 'plain_text', text: `Approve ${formatUsd(event.requested ?? 0)}…` },
          url: event.approveUrl,
        },
        {
          type: 'button',
          style: 'danger',
          text: { type: 'plain_text', text: 'Deny…' },
          url: event.denyUrl,
        },
      ],
    })
  } else {
    const step = nextStep(event, (command) => `\`${command}\``)
    blocks.push({ type: 'section', text: { type: 'mrkdwn', text: slackText(step) } })
  }
  return { text: `Killswitch: ${summary}`, blocks }
}

function pagerDutyBody(event: AlertEvent, routingKey: string) {
  const links =
    event.approveUrl && event.denyUrl
      ? [
          { href: event.approveUrl, text: 'Approve (opens a confirmation page)' },
          { href: event.denyUrl, text: 'Deny (opens a confirmation page)' },
        ]
      : undefined
  return {
    routing_key: routingKey,
    event_action: 'trigger',
    dedup_key: dedupKey(event),
    payload: {
      summary: alertSummary(event).slice(0, 1024),
      severity: SEVERITY[event.type],
      source: `killswitch:${event.agent}`,
      component: event.agent,
      class: event.type,
      timestamp: event.at,
      custom_details: { ...event, next_step: nextStep(event) },
    },
    ...(links ? { links } : {}),
  }
}

/**
 * The exact body to send (and sign) for an alert in the rule's format.
 *
 * @example
 * formatAlertBody(event, { format: 'pagerduty', routingKey: rule.routingKey })
 */
export function formatAlertBody(event: AlertEvent, target: AlertFormatTarget = {}): string {
  switch (target.format ?? 'json') {
    case 'slack':
      return JSON.stringify(slackBody(event))
    case 'pagerduty':
      return JSON.stringify(pagerDutyBody(event, target.routingKey ?? ''))
    default:
      return JSON.stringify(event)
  }
}
