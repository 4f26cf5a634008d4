// `killswitch alert --format slack|pagerduty` and the admin API's alert body with a format.

import { describe, expect, it } from 'vitest'
import { EXIT_CODES } from './exit-codes.js'
import { cliHarness } from './test-helpers.js'

const HOOK = 'https://hooks.example.com/ks'

describe('killswitch alert --format', () => {
  it('refuses --routing-key-env without --format pagerduty, naming it; nothing set', async () => {
    const { ks, run } = cliHarness({ PD_KEY: 'R0UT1NGKEY0123' })
    await ks.agents.create({ handle: 'a', spendingCap: 10 })
    const rule = ['alert', 'a', '--at', '0.8', '--webhook', HOOK]
    for (const format of [[], ['--format', 'slack']]) {
      const result = await run([...rule, ...format, '--routing-key-env', 'PD_KEY'])
      expect(result.code).toBe(EXIT_CODES.usage)
      expect(result.stderr).toMatch(/--routing-key-env is used only with --format pagerduty/)
    }
    expect((await ks.agents.get('a')).alerts).toEqual([])
  })

  it('sets a Slack or PagerDuty rule; the routing key comes from the environment and is never shown', async () => {
    const { ks, run } = cliHarness({
      PD_KEY: 'R0UT1NGKEY0123',
      HOOK_SECRET: 'whsec_0123456789abcdef',
    })
    await ks.agents.create({ handle: 'a', spendingCap: 10 })
    const slack = await run([
      'alert',
      'a',
      '--at',
      '80%',
      '--webhook',
      HOOK,
      '--secret-env',
      'HOOK_SECRET',
      '--format',
      'slack',
    ])
    expect(slack.code).toBe(0)
    expect(slack.stdout).toContain('as a Slack payload')
    const pd = await run([
      'alert',
      'a',
      '--at',
      '0.9',
      '--webhook',
      'https://events.pagerduty.com/v2/enqueue',
      '--format',
      'pagerduty',
      '--routing-key-env',
      'PD_KEY',
    ])
    expect(pd.code).toBe(0)
    expect(pd.stdout).toContain('as a PagerDuty Events v2 payload')
    const rules = (await ks.store.getAgent('a', Date.now()))?.policy.alerts
    expect(rules?.map((rule) => [rule.format, rule.routingKey])).toEqual([
      ['slack', undefined],
      ['pagerduty', 'R0UT1NGKEY0123'],
    ])
    const shown = await run(['agents', 'get', 'a'])
    expect(shown.stdout).toMatch(/\(slack\)/)
    expect(shown.stdout).toMatch(/\(pagerduty\)/)
    for (const argv of [
      ['agents', 'get', 'a', '--json'],
      ['agents', 'list', '--json'],
    ]) {
      expect((await run(argv)).stdout).not.toContain('R0UT1NGKEY0123')
    }
    await ks.close()
  })

  it('refuses an unknown format, and PagerDuty without a routing key, writing nothing', async () => {
    const { ks, run } = cliHarness()
    await ks.agents.create({ handle: 'a', spendingCap: 10 })
    const unknown = await run(['alert', 'a', '--at', '0.8', '--webhook', HOOK, '--format', 'teams'])
    expect(unknown.code).toBe(EXIT_CODES.usage)
    expect(unknown.stderr).toMatch(/Invalid --format: "teams"; give one of json, slack, pagerduty/)
    const keyless = await run([
      'alert',
      'a',
      '--at',
      '0.8',
      '--webhook',
      HOOK,
      '--format',
      'pagerduty',
    ])
    expect(keyless.code).toBe(EXIT_CODES.usage)
    expect(keyless.stderr).toMatch(/--routing-key-env/)
    const unset = await run([
      'alert',
      'a',
      '--at',
      '0.8',
      '--webhook',
      HOOK,
      '--format',
      'pagerduty',
      '--routing-key-env',
      'NOPE',
    ])
    expect(unset.stderr).toMatch(/NOPE \(--routing-key-env\) is not set/)
    expect((await ks.agents.get('a')).alerts).toEqual([])
    await ks.close()
  })
})
