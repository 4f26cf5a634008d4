import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { InvalidConfigError } from '../errors.js'
import { signWebhookPayload, verifyWebhookSignature } from './webhook-signature.js'

const body = '{"id":"evt_1","type":"threshold"}'
const secret = 'whsec_test'
const t = 1_700_000_000

describe('signWebhookPayload', () => {
  it('produces the documented header: t=<seconds>,v1=<hex HMAC-SHA256 of "t.body">', () => {
    // Computed independently: printf '%s' '1700000000.<body>' | openssl dgst -sha256 -hmac whsec_test
    expect(signWebhookPayload(body, secret, t)).toBe(
      't=1700000000,v1=b619b529e4513d6c1c283d17d46b972cbb399d8a14f0ddd9d447b875e2aef1fa',
    )
  })

  it('signs bytes the same as the equal string', () => {
    expect(signWebhookPayload(Buffer.from(body), secret, t)).toBe(
      signWebhookPayload(body, secret, t),
    )
  })

  it('refuses an empty secret and a non-integer timestamp', () => {
    expect(() => signWebhookPayload(body, '', t)).toThrow(InvalidConfigError)
    expect(() => signWebhookPayload(body, secret, 1.5)).toThrow(/timestamp/)
  })
})

describe('verifyWebhookSignature', () => {
  const header = signWebhookPayload(body, secret, t)

  it('accepts a fresh, matching signature', () => {
    expect(verifyWebhookSignature(body, header, secret, { now: t + 10 })).toBe(true)
    expect(verifyWebhookSignature(Buffer.from(body), header, secret, { now: t })).toBe(true)
  })

  it('rejects a changed body, a wrong secret and a forged timestamp', () => {
    expect(verifyWebhookSignature(`${body} `, header, secret, { now: t })).toBe(false)
    expect(verifyWebhookSignature(body, header, 'whsec_other', { now: t })).toBe(false)
    const forged = header.replace(`t=${t}`, `t=${t + 60}`)
    expect(verifyWebhookSignature(body, forged, secret, { now: t + 60 })).toBe(false)
  })

  it('rejects timestamps outside the tolerance, either way', () => {
    expect(verifyWebhookSignature(body, header, secret, { now: t + 301 })).toBe(false)
    expect(verifyWebhookSignature(body, header, secret, { now: t - 301 })).toBe(false)
    expect(verifyWebhookSignature(body, header, secret, { now: t + 300 })).toBe(true)
    expect(verifyWebhookSignature(body, header, secret, { now: t + 30, toleranceSec: 10 })).toBe(
      false,
    )
  })

  it('refuses a tolerance or a clock that is not a number, never verifying a stale signature', () => {
    const month = t + 30 * 86_400
    for (const toleranceSec of [Number.NaN, -1, Number.POSITIVE_INFINITY, '300' as never]) {
      expect(() =>
        verifyWebhookSignature(body, header, secret, { now: month, toleranceSec }),
      ).toThrow(expect.objectContaining({ field: 'toleranceSec' }))
    }
    expect(() => verifyWebhookSignature(body, header, secret, { now: Number.NaN })).toThrow(
      expect.objectContaining({ field: 'now' }),
    )
  })

  it('accepts any matching v1 among several (secret rotation)', () => {
    const other = signWebhookPayload(body, 'whsec_old', t).split(',')[1]
    expect(verifyWebhookSignature(body, `${header},${other}`, 'whsec_old', { now: t })).toBe(true)
    expect(verifyWebhookSignature(body, `${header},${other}`, secret, { now: t })).toBe(true)
  })

  it('returns false for missing or malformed headers', () => {
    for (const bad of [
      undefined,
      null,
      '',
      'garbage',
      `t=${t}`,
      'v1=abc',
      `t=x,v1=${'0'.repeat(64)}`,
    ]) {
      expect(verifyWebhookSignature(body, bad, secret, { now: t })).toBe(false)
    }
  })

  it('verifies the example in docs/alerts.md', () => {
    const documented =
      '{"id":"6f1c2a9e-4b7d-4f0e-9a51-0d3c8e2b7f10","type":"threshold","agent":"researcher-agent-7","spent":40.12,"spendingCap":50,"thresholdPct":0.8,"at":"2026-11-25T02:20:00.000Z"}'
    const header =
      't=1795573200,v1=e4b63956a288cb6028d5e700cc46fe3cf361d6305105f2fa6b2f706e57224b74'
    expect(
      verifyWebhookSignature(documented, header, 'whsec_example_0123456789', { now: 1795573200 }),
    ).toBe(true)
  })

  it('throws for an empty secret instead of verifying against it', () => {
    expect(() => verifyWebhookSignature(body, header, '')).toThrow(InvalidConfigError)
  })

  it('round-trips any body and secret, and any changed body fails', () => {
    fc.assert(
      fc.property(
        fc.string(),
        fc.string({ minLength: 1 }),
        fc.integer({ min: 0, max: 4_000_000_000 }),
        (anyBody, anySecret, ts) => {
          const signed = signWebhookPayload(anyBody, anySecret, ts)
          expect(verifyWebhookSignature(anyBody, signed, anySecret, { now: ts })).toBe(true)
          expect(verifyWebhookSignature(`${anyBody}x`, signed, anySecret, { now: ts })).toBe(false)
        },
      ),
    )
  })
})
