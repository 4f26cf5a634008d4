import { describe, expect, it } from 'vitest'
import { approvalLinkUrl, checkApprovalLinksOptions, verifyApprovalLink } from './approval-link.js'

const SECRET = 'link-secret-0123456789abcdef0123456789'
const options = { baseUrl: 'https://ks.example.com/', secret: SECRET }
const NOW = Date.parse('2026-12-01T10:00:00Z')

function parts(url: string) {
  const parsed = new URL(url)
  const [, , id, action] = parsed.pathname.split('/')
  return {
    id: decodeURIComponent(id ?? ''),
    action: action ?? '',
    exp: parsed.searchParams.get('exp'),
    sig: parsed.searchParams.get('sig'),
  }
}

describe('approval links', () => {
  it('signs id, action and expiry; a genuine link verifies until it expires', () => {
    const url = approvalLinkUrl(options, 'apr_1', 'approve', NOW + 60_000)
    expect(url).toMatch(
      /^https:\/\/ks\.example\.com\/approval-links\/apr_1\/approve\?exp=\d+&sig=[0-9a-f]{64}$/,
    )
    expect(verifyApprovalLink(SECRET, parts(url), NOW)).toBe('ok')
    expect(verifyApprovalLink(SECRET, parts(url), NOW + 60_000)).toBe('expired')
  })

  it('refuses every tampering as invalid', () => {
    const link = parts(approvalLinkUrl(options, 'apr_1', 'deny', NOW + 60_000))
    expect(verifyApprovalLink(SECRET, { ...link, action: 'approve' }, NOW)).toBe('invalid')
    expect(verifyApprovalLink(SECRET, { ...link, id: 'apr_2' }, NOW)).toBe('invalid')
    expect(verifyApprovalLink(SECRET, { ...link, exp: String(Number(link.exp) + 3600) }, NOW)).toBe(
      'invalid',
    )
    const flipped = `${link.sig?.slice(0, -1)}${link.sig?.endsWith('0') ? '1' : '0'}`
    expect(verifyApprovalLink(SECRET, { ...link, sig: flipped }, NOW)).toBe('invalid')
    expect(verifyApprovalLink(SECRET, { ...link, sig: link.sig?.slice(0, 10) }, NOW)).toBe(
      'invalid',
    )
    expect(verifyApprovalLink(SECRET, { ...link, sig: null }, NOW)).toBe('invalid')
    expect(verifyApprovalLink(SECRET, { ...link, exp: '1e12' }, NOW)).toBe('invalid')
    expect(verifyApprovalLink(`${SECRET}x`, link, NOW)).toBe('invalid')
    expect(verifyApprovalLink(SECRET, { ...link, action: 'revoke' }, NOW)).toBe('invalid')
  })

  it('refuses a bad base URL or a short secret, naming the field', () => {
    expect(() => checkApprovalLinksOptions({ baseUrl: 'ks.example.com', secret: SECRET })).toThrow(
      expect.objectContaining({ field: 'approvalLinks.baseUrl' }),
    )
    expect(() =>
      checkApprovalLinksOptions({ baseUrl: 'https://ks.example.com', secret: 'short' }),
    ).toThrow(expect.objectContaining({ field: 'approvalLinks.secret' }))
    expect(checkApprovalLinksOptions(options).baseUrl).toBe('https://ks.example.com')
  })
})
