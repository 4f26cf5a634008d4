// The agents API as `createKillSwitch` hands it out: webhook targets guarded at setAlert,
// every rule signed (a secret generated, stored and shown once), URLs masked in every view,
// credentials never echoed back.
import { createServer, type IncomingHttpHeaders } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { AgentNotFoundError, InvalidConfigError } from '../errors.js'
import { createKillSwitch } from '../kill-switch.js'
import { memoryStore } from '../stores/memory-store.js'
import { verifyWebhookSignature, WEBHOOK_SIGNATURE_HEADER } from './webhook-signature.js'
import { REFUSED_TARGET_REASON } from './webhook-target-policy.js'

const received: Array<{ body: string; headers: IncomingHttpHeaders }> = []
const server = createServer((request, response) => {
  let body = ''
  request.on('data', (chunk) => {
    body += chunk
  })
  request.on('end', () => {
    received.push({ body, headers: request.headers })
    response.writeHead(204).end()
  })
})
let url = ''
beforeAll(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`
})
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())))

async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise
  } catch (error) {
    return error as Error
  }
  throw new Error('expected a rejection')
}

describe('setAlert: the webhook target guard', () => {
  it('refuses loopback, private, link-local and metadata targets and stores nothing', async () => {
    const ks = createKillSwitch()
    await ks.agents.create({ handle: 'a', spendingCap: 1 })
    for (const webhookUrl of [
      url,
      'http://[::1]:8080/',
      'http://169.254.169.254/latest/meta-data/iam',
      'http://metadata.google.internal/',
      'http://192.168.0.10/hook',
      'http://0.0.0.0:9000/',
      'http://[::ffff:10.0.0.1]/',
    ]) {
      const error = await rejection(ks.agents.setAlert('a', { thresholdPct: 0.5, webhookUrl }))
      expect(error, webhookUrl).toBeInstanceOf(InvalidConfigError)
      expect((error as InvalidConfigError).field).toBe('webhookUrl')
      expect(error.message).toContain(REFUSED_TARGET_REASON)
    }
    const refusedAtCreate = await rejection(
      ks.agents.create({
        handle: 'b',
        spendingCap: 1,
        alerts: [{ thresholdPct: 0.5, webhookUrl: 'http://10.1.1.1/' }],
      }),
    )
    expect((refusedAtCreate as InvalidConfigError).field).toBe('alerts.0.webhookUrl')
    expect((await ks.agents.get('a')).alerts).toEqual([])
    await expect(ks.agents.get('b')).rejects.toBeInstanceOf(AgentNotFoundError)
    await ks.close()
  })

  it('accepts them once the operator opts in, and delivers signed', async () => {
    const store = memoryStore()
    const ks = createKillSwitch({ store, allowPrivateWebhooks: ['127.0.0.1'] })
    await ks.agents.create({ handle: 'opted-in', spendingCap: 1 })
    const set = await ks.agents.setAlert('opted-in', { thresholdPct: 0.5, webhookUrl: url })
    const secret = set.webhookSecrets?.[0]?.secret ?? ''
    expect(secret).toMatch(/^whsec_[A-Za-z0-9_-]{43}$/)
    const before = received.length
    await ks.agents.revoke('opted-in', { reason: 'test' })
    await ks.close()
    const delivered = received.slice(before)
    expect(delivered).toHaveLength(1)
    const header = delivered[0]?.headers[WEBHOOK_SIGNATURE_HEADER.toLowerCase()] as string
    expect(verifyWebhookSignature(delivered[0]?.body ?? '', header, secret)).toBe(true)
    expect(() => createKillSwitch({ allowPrivateWebhooks: 'yes' as never })).toThrow(
      InvalidConfigError,
    )
  })
})

describe('alerts are always signed', () => {
  it("after a rotation, a new rule gets the rotated secret, never a revoked agent's old one; a rotation half done is refused with the fix", async () => {
    const ks = createKillSwitch()
    const webhookUrl = 'https://hooks.example.com/ks'
    const rule = { thresholdPct: 0.5, webhookUrl }
    const r1 = await ks.agents.create({ handle: 'r1', spendingCap: 1, alerts: [rule] })
    const old = r1.webhookSecrets?.[0]?.secret ?? ''
    await ks.agents.create({ handle: 'r2', spendingCap: 1, alerts: [rule] })
    await ks.agents.create({ handle: 'r3', spendingCap: 1 })
    const rotated = 'whsec_rotated_0123456789abcdef'
    await ks.agents.setAlert('r2', { ...rule, secret: rotated })
    // r1 still signs with the old secret: which one a new rule gets is not known.
    const half = await rejection(ks.agents.setAlert('r3', rule))
    expect(half).toBeInstanceOf(InvalidConfigError)
    expect(half).toMatchObject({ field: 'secret' })
    expect(half.message).toMatch(/2 different secrets.*set the new secret on every rule/)
    expect(half.message).not.toContain(old)
    const created = await rejection(
      ks.agents.create({ handle: 'r4', spendingCap: 1, alerts: [rule] }),
    )
    expect(created).toMatchObject({ field: 'alerts.0.secret' })
    await expect(ks.agents.get('r4')).rejects.toBeInstanceOf(AgentNotFoundError)
    // Its agent revoked (the usual end of a leak), the old secret is out of use.
    await ks.agents.revoke('r1')
    const set = await ks.agents.setAlert('r3', rule)
    expect(set.webhookSecrets).toBeUndefined()
    const r3 = (await ks.store.listAgents(Date.now())).find((agent) => agent.handle === 'r3')
    expect(r3?.policy.alerts[0]?.secret).toBe(rotated)
    await ks.close()
  })

  it('generates a secret when none is given, shows it once, and keeps one per URL', async () => {
    const ks = createKillSwitch()
    await ks.agents.create({ handle: 'a', spendingCap: 1 })
    await ks.agents.create({ handle: 'b', spendingCap: 1 })
    const webhookUrl = 'https://hooks.example.com/ks'
    const first = await ks.agents.setAlert('a', { thresholdPct: 0.5, webhookUrl })
    expect(first.alerts).toEqual([{ thresholdPct: 0.5, webhookUrl, signed: true }])
    expect(first.webhookSecrets).toEqual([{ webhookUrl, secret: expect.stringMatching(/^whsec_/) }])
    const secret = first.webhookSecrets?.[0]?.secret ?? ''
    // Another rule to the same receiver reuses its secret (one receiver, one secret) and
    // does not show it again.
    const second = await ks.agents.setAlert('a', { thresholdPct: 0.9, webhookUrl })
    const other = await ks.agents.setAlert('b', { thresholdPct: 0.5, webhookUrl })
    expect(second.webhookSecrets).toBeUndefined()
    expect(other.webhookSecrets).toBeUndefined()
    for (const agent of await ks.store.listAgents(Date.now())) {
      for (const rule of agent.policy.alerts) expect(rule.secret).toBe(secret)
    }
    // Never shown again: not by get, list or the audit.
    const views = JSON.stringify([
      await ks.agents.get('a'),
      await ks.agents.list(),
      await ks.audit('a'),
    ])
    expect(views).not.toContain(secret)
    // A given secret is kept as given; a new URL gets a new one.
    const given = 'whsec_given_0123456789abcdef'
    await ks.agents.setAlert('b', { thresholdPct: 0.5, webhookUrl, secret: given })
    const fresh = await ks.agents.setAlert('b', {
      thresholdPct: 0.5,
      webhookUrl: 'https://other.example.com/',
    })
    expect(fresh.webhookSecrets?.[0]?.secret).not.toBe(secret)
    const created = await ks.agents.create({
      handle: 'c',
      spendingCap: 1,
      alerts: [{ thresholdPct: 0.5, webhookUrl: 'https://third.example.com/x' }],
    })
    expect(created.webhookSecrets).toHaveLength(1)
    expect(created.alerts[0]?.signed).toBe(true)
    await ks.close()
  })

  it('refuses an unknown handle before generating anything', async () => {
    const ks = createKillSwitch()
    await expect(
      ks.agents.setAlert('nobody', { thresholdPct: 0.5, webhookUrl: 'https://a.example.com/' }),
    ).rejects.toBeInstanceOf(AgentNotFoundError)
    await ks.close()
  })
})

describe('errors never echo a secret', () => {
  it('names the field and the kind of value, never the webhook URL, secret or routing key', async () => {
    const ks = createKillSwitch({ store: memoryStore() })
    await ks.agents.create({ handle: 'a', spendingCap: 1 })
    const slack = 'hooks.slack.com/services/T0AAAAAAA/B0BBBBBBB/abcdEFGHijklMNOPqrstUVWX'
    const cases = [
      [{ thresholdPct: 0.8, webhookUrl: slack }, 'webhookUrl', 'abcdEFGH'],
      [
        { thresholdPct: 0.8, webhookUrl: 'https://h.example/x', secret: 'hunter2-prodkey' },
        'secret',
        'hunter2',
      ],
      [
        {
          thresholdPct: 0.8,
          webhookUrl: 'https://h.example/x',
          format: 'pagerduty',
          routingKey: 'R'.repeat(129),
        },
        'routingKey',
        'RRRR',
      ],
    ] as const
    for (const [rule, field, secret] of cases) {
      const error = await rejection(ks.agents.setAlert('a', rule as never))
      expect(error).toBeInstanceOf(InvalidConfigError)
      expect(error).toMatchObject({ field })
      expect(error.message).not.toContain(secret)
      expect(error.message).toMatch(/a string of \d+ characters, not shown/)
    }
    expect((await ks.agents.get('a')).alerts).toEqual([])
  })
})

describe('views never show a webhook URL secret', () => {
  it('masks userinfo, query values and the path past its first segment in get, list and setAlert', async () => {
    const ks = createKillSwitch()
    await ks.agents.create({ handle: 'a', spendingCap: 1 })
    const secretUrl =
      'https://bot:pa55word@hooks.example.com/services/T0/B0/XyZ123abcDEF456ghi?token=s3cr3tvalue&x=1'
    const set = await ks.agents.setAlert('a', { thresholdPct: 0.5, webhookUrl: secretUrl })
    const views = [set, await ks.agents.get('a'), ...(await ks.agents.list())]
    for (const view of views) {
      const shown = JSON.stringify(view)
      for (const secret of ['pa55word', 'bot:', 's3cr3tvalue', 'XyZ123abcDEF456ghi']) {
        expect(shown).not.toContain(secret)
      }
      expect(view.alerts[0]?.webhookUrl).toBe(
        'https://***@hooks.example.com/services/***?token=***&x=***',
      )
    }
    await ks.close()
  })
})

describe('credentials are never echoed', () => {
  it('a credential pasted where a handle goes is redacted in the error', async () => {
    const ks = createKillSwitch()
    const { credential } = await ks.agents.create({ handle: 'a', spendingCap: 1 })
    for (const attempt of [
      ks.agents.get(credential),
      ks.agents.revoke(credential, { reason: 'x' }),
      ks.agents.update(credential, { spendingCap: 2 }),
      ks.audit(credential),
      ks.agents.create({ handle: credential, spendingCap: 1 }),
    ]) {
      const error = await rejection(attempt)
      expect(error.message).not.toContain(credential)
      expect(error.message).not.toContain(credential.slice(3, 20))
      expect(JSON.stringify(error)).not.toContain(credential)
    }
    await ks.close()
  })

  it('a credential in a revocation reason is stored redacted', async () => {
    const store = memoryStore()
    const ks = createKillSwitch({ store })
    const { credential } = await ks.agents.create({ handle: 'a', spendingCap: 1 })
    const revoked = await ks.agents.revoke('a', { reason: `leaked ${credential} in a log` })
    expect(revoked.revokedReason).toBe('leaked ks_[redacted] in a log')
    expect(JSON.stringify(await store.readAudit('a'))).not.toContain(credential)
    await ks.close()
  })
})
