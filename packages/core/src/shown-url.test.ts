// URLs in the audit log: where the request went, never its query or the keys in its path.
import { describe, expect, it } from 'vitest'
import { shownUrl } from './shown-url.js'

describe('shownUrl', () => {
  it('keeps origin and path, without user info, query or fragment', () => {
    expect(shownUrl('https://user:pw@api.example.com/search?q=x#top')).toBe(
      'https://api.example.com/search',
    )
    expect(shownUrl('urn:isbn:0451450523')).toBe('urn:isbn:0451450523')
  })

  it('masks a key in the path, and cuts what is no URL at its query', () => {
    const key = 'sk_live_4eC39HqLyjWDarjtT1zdp7dc9a8b'
    expect(shownUrl(`https://api.example.com/v2/${key}/search`)).toBe(
      'https://api.example.com/v2/[redacted]/search',
    )
    expect(shownUrl('not a url?token=abc')).toBe('not a url')
  })

  it('is bounded and printable', () => {
    const shown = shownUrl(`https://a.example/${'x'.repeat(5_000)}\n`)
    expect(shown).toHaveLength(200)
    expect(shownUrl('no url\n[killswitch] ok')).toBe('no url\\u000a[killswitch] ok')
  })
})
