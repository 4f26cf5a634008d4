// Input errors name the field and the fix, and never quote a webhook URL, a signing secret or
// anything shaped like a key, whatever field or shape it was given in.
import { describe, expect, it } from 'vitest'
import { alertRuleSchema, createAgentSchema, parseInput } from './config.js'
import { InvalidConfigError } from './errors.js'
import { createKillSwitch } from './kill-switch.js'
import { memoryStore } from './stores/memory-store.js'

const SLACK = 'https://hooks.slack.com/services/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'
const LEAKS = /SECRET|R0UT1NG|hooks\.slack|whsec_|sk-live|1234567890123/

function errorOf(run: () => unknown): InvalidConfigError {
  try {
    run()
  } catch (error) {
    if (error instanceof InvalidConfigError) return error
    throw error
  }
  throw new Error('no error')
}

describe('input errors never echo a secret', () => {
  it('hides a URL or a secret given in the wrong shape or field of an alert rule', () => {
    const create = (alerts: unknown) =>
      errorOf(() =>
        parseInput(createAgentSchema, { handle: 'a', spendingCap: 5, alerts }, 'agents.create'),
      )
    const setAlert = (rule: unknown) =>
      errorOf(() => parseInput(alertRuleSchema, rule, 'agents.setAlert'))
    const cases: Array<[InvalidConfigError, string, RegExp]> = [
      [create(SLACK), 'alerts', /a list of alert rules such as \[\{ thresholdPct: 0\.8/],
      [create([SLACK]), 'alerts.0', /an alert rule such as \{ thresholdPct: 0\.8/],
      [
        create([
          { thresholdPct: 0.5, webhookUrl: 'https://example.com/h' },
          'whsec_Zx9SECRETSECRETSECRET9xZ',
        ]),
        'alerts.1',
        /an alert rule such as/,
      ],
      [setAlert(SLACK), 'agents.setAlert', /an alert rule such as/],
      [setAlert({ thresholdPct: 0.5, webhook: SLACK }), 'webhookUrl', /http\(s\) URL/],
      [
        setAlert({ thresholdPct: 0.5, webhookUrl: SLACK, secret: 1234567890123456 }),
        'secret',
        /a number, not shown/,
      ],
      [
        setAlert({ thresholdPct: 0.5, webhookUrl: SLACK, secret: 'sk-live-abc' }),
        'secret',
        /at least 16 characters/,
      ],
      [setAlert({ thresholdPct: SLACK, webhookUrl: SLACK }), 'thresholdPct', /fraction of the cap/],
      [
        setAlert({
          thresholdPct: 0.5,
          webhookUrl: SLACK,
          format: 'R0UT1NGKEYSECRET0123456789abcdef',
        }),
        'format',
        /"json"\|"slack"\|"pagerduty"/,
      ],
    ]
    for (const [error, field, fix] of cases) {
      expect(error.field).toBe(field)
      expect(error.message).toMatch(fix)
      expect(error.message).not.toMatch(LEAKS)
      expect(error.message).toMatch(/not shown|got (object|a list)|\.$/)
    }
    expect(create(SLACK).message).toContain(
      `(got a string of ${SLACK.length} characters (a URL), not shown)`,
    )
  })

  it('refuses a handle shaped like a credential, saying which prefix, without the value', () => {
    const error = errorOf(() =>
      parseInput(createAgentSchema, { handle: 'ks_evil', spendingCap: 5 }, 'agents.create'),
    )
    expect(error.field).toBe('handle')
    expect(error.message).toContain('must not start with ks_, the prefix of an agent credential')
    expect(error.message).not.toContain('ks_evil')
  })

  it('hides a URL or a key given anywhere else, and shows an ordinary value', () => {
    const error = (input: object) =>
      errorOf(() => parseInput(createAgentSchema, input, 'agents.create'))
    expect(error({ handle: SLACK, spendingCap: 5 }).message).not.toMatch(LEAKS)
    expect(
      error({ handle: 'a', spendingCap: 5, currency: 'whsec_SECRETSECRET' }).message,
    ).not.toMatch(LEAKS)
    expect(error({ handle: 'a', spendingCap: 5, [SLACK]: 1 }).message).not.toMatch(LEAKS)
    // An ordinary mistake is still quoted: it is what tells the fix.
    expect(error({ handle: 'a b', spendingCap: 5 }).message).toContain('(got "a b")')
    expect(error({ handle: 'a', spendingCap: 5, alerts: [{ thresholdPct: 80 }] }).message).toMatch(
      /at most 1.*\(got 80\)/,
    )
  })

  it('through the kill switch too', async () => {
    const ks = createKillSwitch({ store: memoryStore() })
    await ks.agents.create({ handle: 'a4', spendingCap: 5 })
    for (const attempt of [
      ks.agents.create({ handle: 'a1', spendingCap: 5, alerts: SLACK as never }),
      ks.agents.setAlert('a4', SLACK as never),
      ks.agents.setAlert('a4', { thresholdPct: SLACK as never, webhookUrl: SLACK }),
    ]) {
      const error = await attempt.then(
        () => undefined,
        (caught: unknown) => caught,
      )
      expect(error).toBeInstanceOf(InvalidConfigError)
      expect((error as Error).message).not.toMatch(LEAKS)
    }
    await ks.close()
  })
})
