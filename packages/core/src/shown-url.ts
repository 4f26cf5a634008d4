// A URL as the audit log and messages show it: origin and path only. A query string carries
// the agent's data (and sometimes its secrets), and a path carries keys too (`/v2/<key>`).
import { redactSecrets } from './redact.js'
import { boundedText } from './untrusted-text.js'

/**
 * `url`'s origin and path, its secrets masked, bounded and printable; a string that is no
 * URL up to its first `?` or `#`.
 *
 * @example
 * shownUrl('https://user:pw@api.example.com/search?q=x') // 'https://api.example.com/search'
 */
export function shownUrl(url: string): string {
  const parsed = URL.parse(url)
  if (!parsed) return boundedText(redactSecrets(url.split(/[?#]/)[0] ?? '')) ?? ''
  // Without its user and password too; a scheme without an origin (`urn:`) keeps its name.
  const origin = parsed.origin === 'null' ? parsed.protocol : parsed.origin
  // A path's keys are masked segment by segment, the host kept.
  const path = parsed.pathname.split('/').map(redactSecrets).join('/')
  return boundedText(`${origin}${path}`) ?? ''
}
