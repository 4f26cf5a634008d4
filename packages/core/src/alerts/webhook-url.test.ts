import { describe, expect, it } from 'vitest'
import { InvalidConfigError } from '../errors.js'
import {
  maskWebhookUrl,
  redactWebhookUrl,
  validateWebhookUrl,
  webhookUrlSchema,
} from './webhook-url.js'

describe('validateWebhookUrl', () => {
  it('accepts absolute http and https URLs', () => {
    expect(validateWebhookUrl('https://hooks.example.com/ks')).toBe('https://hooks.example.com/ks')
    expect(validateWebhookUrl(' http://127.0.0.1:8080/x ')).toBe('http://127.0.0.1:8080/x')
    expect(webhookUrlSchema.safeParse('https://a.b').success).toBe(true)
  })

  it('refuses other schemes, relative paths and non-strings, naming the field', () => {
    for (const bad of [
      'ftp://example.com',
      'file:///etc/passwd',
      'javascript:alert(1)',
      '/hook',
      '',
      42,
      null,
    ]) {
      let caught: unknown
      try {
        validateWebhookUrl(bad, 'alerts[0].webhookUrl')
      } catch (error) {
        caught = error
      }
      expect(caught).toBeInstanceOf(InvalidConfigError)
      expect((caught as InvalidConfigError).field).toBe('alerts[0].webhookUrl')
      expect((caught as Error).message).toMatch(/^Invalid alerts\[0\]\.webhookUrl: .*http\(s\)/)
    }
  })

  it('never echoes the URL in the error (it may hold the receiver secret)', () => {
    expect(() => validateWebhookUrl('ftp://hooks.example.com/secret-token-123')).toThrow(
      /scheme "ftp:"/,
    )
    try {
      validateWebhookUrl('ftp://hooks.example.com/secret-token-123')
    } catch (error) {
      expect((error as Error).message).not.toContain('secret-token-123')
    }
  })
})

describe('redactWebhookUrl', () => {
  it('keeps the scheme and host only', () => {
    expect(redactWebhookUrl('https://hooks.slack.com/services/T0/B0/xyz')).toBe(
      'https://hooks.slack.com/…',
    )
    expect(redactWebhookUrl('http://user:pw@127.0.0.1:9000/?token=abc')).toBe(
      'http://127.0.0.1:9000/…',
    )
    expect(redactWebhookUrl('https://example.com')).toBe('https://example.com')
    expect(redactWebhookUrl('nope')).toBe('(invalid URL)')
  })

  it('masks a generated host label: the host is the secret', () => {
    expect(redactWebhookUrl('https://eo1a2b3c4d5e6f7.m.pipedream.net')).toBe(
      'https://***.m.pipedream.net',
    )
  })
})

describe('maskWebhookUrl', () => {
  it('keeps what tells rules apart and masks what could be replayed', () => {
    expect(maskWebhookUrl('https://example.com')).toBe('https://example.com')
    expect(maskWebhookUrl('https://example.com/hook')).toBe('https://example.com/hook')
    expect(maskWebhookUrl('https://u:p@example.com:8443/a?token=t&t2=x#frag')).toBe(
      'https://***@example.com:8443/a?token=***&t2=***',
    )
    expect(
      maskWebhookUrl(
        'https://discord.com/api/webhooks/123456789012345678/AbCdEfGhIjKlMnOpQrStUvWxYz0123456789_-abcdefghijkl',
      ),
    ).toBe('https://discord.com/api/***')
    expect(maskWebhookUrl('nope')).toBe('(invalid URL)')
  })

  it("shows no part of a webhook service's secret, in the path or in the host", () => {
    const cases = [
      [
        'https://hooks.slack.com/services/T0AAAAAAA/B0BBBBBBB/Zx9abcdefGHIJKLmnop12345',
        'https://hooks.slack.com/services/***',
        ['T0AAAAAAA', 'B0BBBBBBB', 'Zx9abc'],
      ],
      [
        'https://hooks.zapier.com/hooks/catch/1234567/3ab9xyz/',
        'https://hooks.zapier.com/hooks/***',
        ['1234567', '3ab9xyz'],
      ],
      ['https://eo1a2b3c4d5e6f7.m.pipedream.net', 'https://***.m.pipedream.net', ['eo1a2b3c']],
      [
        'https://maker.ifttt.com/trigger/ks_alert/with/key/dQw4w9WgXcQabcdefghij',
        'https://maker.ifttt.com/trigger/***',
        ['dQw4w9', 'ks_alert'],
      ],
      [
        'https://example.com/hooks/abcdefghijklmnopqrstuvwxyzabcd',
        'https://example.com/hooks/***',
        ['abcdefgh'],
      ],
      [
        'https://webhook.site/0d1e2f3a-4b5c-6d7e-8f90-a1b2c3d4e5f6',
        'https://webhook.site/***',
        ['0d1e2f3a'],
      ],
      ['https://events.pagerduty.com/v2/enqueue', 'https://events.pagerduty.com/v2/***', []],
      ['http://127.0.0.1:8080/hooks/', 'http://127.0.0.1:8080/hooks/', []],
      ['http://[::1]:9000/x/y', 'http://[::1]:9000/x/***', []],
    ] as const
    for (const [url, shown, secrets] of cases) {
      expect(maskWebhookUrl(url)).toBe(shown)
      for (const secret of secrets) expect(maskWebhookUrl(url)).not.toContain(secret)
    }
  })
})
