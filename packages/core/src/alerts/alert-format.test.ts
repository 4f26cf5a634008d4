import { describe, expect, it } from 'vitest'
import { createAlertEvent } from './alert-event.js'
import { alertSummary, formatAlertBody } from './alert-format.js'

const base = { agent: 'researcher-7', spent: 40.5, spendingCap: 50, at: '2026-12-01T10:00:00.000Z' }
const events = {
  threshold: createAlertEvent({ ...base, type: 'threshold', thresholdPct: 0.8 }),
  revoked: createAlertEvent({ ...base, type: 'revoked', reason: 'loop <@here>' }),
  runaway: createAlertEvent({
    ...base,
    type: 'runaway',
    detector: 'tool-cycle',
    reason: 'cycle (revoke)',
  }),
  approval_requested: createAlertEvent({
    ...base,
    type: 'approval_requested',
    approvalId: 'apr_1',
    requested: 2,
    reason: 'past the cap',
    expiresAt: '2026-12-01T10:02:00.000Z',
    approveUrl: 'https://ks.example.com/approval-links/apr_1/approve?exp=1&sig=a',
    denyUrl: 'https://ks.example.com/approval-links/apr_1/deny?exp=1&sig=b',
  }),
}

describe('alert formats', () => {
  it('json is the event itself (the default)', () => {
    expect(JSON.parse(formatAlertBody(events.threshold))).toEqual(events.threshold)
    expect(formatAlertBody(events.revoked, { format: 'json' })).toBe(JSON.stringify(events.revoked))
  })

  it('slack: text and blocks for every event; approve and deny buttons open the links', () => {
    for (const event of Object.values(events)) {
      const body = JSON.parse(formatAlertBody(event, { format: 'slack' }))
      expect(body.text).toContain('researcher-7')
      expect(body.blocks[0]).toMatchObject({ type: 'section', text: { type: 'mrkdwn' } })
    }
    const approval = JSON.parse(formatAlertBody(events.approval_requested, { format: 'slack' }))
    expect(approval.text).toBe(
      'Killswitch: researcher-7 asks to spend $2.00 past its cap (spent $40.50 of its $50.00 cap): past the cap',
    )
    expect(approval.blocks.at(-1)).toEqual({
      type: 'actions',
      elements: [
        expect.objectContaining({ url: events.approval_requested.approveUrl, style: 'primary' }),
        expect.objectContaining({ url: events.approval_requested.denyUrl, style: 'danger' }),
      ],
    })
    // An agent's reason cannot ping a channel or inject a link.
    const revoked = formatAlertBody(events.revoked, { format: 'slack' })
    expect(revoked).not.toContain('<@here>')
    expect(revoked).toContain('&lt;@here&gt;')
  })

  it('pagerduty: an Events v2 trigger with the routing key, a dedup key per agent and event', () => {
    const severities: Record<string, string> = {}
    const keys = new Set<string>()
    for (const event of Object.values(events)) {
      const body = JSON.parse(
        formatAlertBody(event, { format: 'pagerduty', routingKey: 'R0UT1NG' }),
      )
      expect(body).toMatchObject({
        routing_key: 'R0UT1NG',
        event_action: 'trigger',
        payload: {
          summary: alertSummary(event),
          source: 'killswitch:researcher-7',
          timestamp: base.at,
          custom_details: event,
        },
      })
      severities[event.type] = body.payload.severity
      keys.add(body.dedup_key)
    }
    expect(severities).toEqual({
      threshold: 'warning',
      revoked: 'critical',
      runaway: 'error',
      approval_requested: 'warning',
    })
    expect(keys.size).toBe(4)
    // The same event again (a retry, or a second process) has the same key: one incident.
    const again = createAlertEvent({ ...base, type: 'threshold', thresholdPct: 0.8 })
    expect(
      JSON.parse(formatAlertBody(again, { format: 'pagerduty', routingKey: 'k' })).dedup_key,
    ).toBe('killswitch:researcher-7:threshold:agent::cap:0.8')
    const links = JSON.parse(
      formatAlertBody(events.approval_requested, { format: 'pagerduty', routingKey: 'k' }),
    ).links
    expect(links.map((link: { href: string }) => link.href)).toEqual([
      events.approval_requested.approveUrl,
      events.approval_requested.denyUrl,
    ])
  })

  it('tells on-call the next step, by command, in Slack and PagerDuty', () => {
    const slackSteps = Object.values(events).map((event) => {
      const blocks = JSON.parse(formatAlertBody(event, { format: 'slack' })).blocks
      return JSON.stringify(blocks.at(-1))
    })
    expect(slackSteps.slice(0, 3)).toEqual([
      expect.stringContaining(
        'Stop it: `killswitch revoke researcher-7` · Details: `killswitch audit researcher-7`',
      ),
      // Revoked already: nothing left to stop.
      expect.stringMatching(/^(?!.*revoke researcher).*Details: `killswitch audit researcher-7`/),
      expect.stringContaining('Stop it: `killswitch revoke researcher-7`'),
    ])
    const details = Object.values(events).map(
      (event) =>
        JSON.parse(formatAlertBody(event, { format: 'pagerduty', routingKey: 'k' })).payload
          .custom_details.next_step,
    )
    expect(details).toEqual([
      'Stop it: killswitch revoke researcher-7 · Details: killswitch audit researcher-7',
      'Details: killswitch audit researcher-7',
      'Stop it: killswitch revoke researcher-7 · Details: killswitch audit researcher-7',
      'Decide: killswitch approvals approve apr_1 or deny · Details: killswitch audit researcher-7',
    ])
  })
})
