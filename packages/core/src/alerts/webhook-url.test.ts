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
    ).toBe('https://discord.com/api/webhooks/123456789012345678/***')
    expect(maskWebhookUrl('nope')).toBe('(invalid URL)')
  })
})
