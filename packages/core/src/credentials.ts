// Agent credentials: 256-bit random bearer tokens with a recognisable prefix, shown once at
// creation, stored only as a SHA-256 hash, and found in a request's headers by one rule. A fast hash is right here (unlike passwords):
// the token is 256 random bits, so there is nothing to brute-force.
import { createHash, randomBytes } from 'node:crypto'

/**
 * Every credential starts with this, so leaked ones are easy to recognise and scan for.
 *
 * @example
 * if (token.startsWith(CREDENTIAL_PREFIX)) redact(token)
 */
export const CREDENTIAL_PREFIX = 'ks_'

// 32 random bytes in base64url: exactly 43 characters.
const CREDENTIAL_PATTERN = /^ks_[A-Za-z0-9_-]{43}$/

/** Makes a new credential: `ks_` and 256 random bits in base64url. */
export function generateCredential(): string {
  return `${CREDENTIAL_PREFIX}${randomBytes(32).toString('base64url')}`
}

/**
 * True when the value has the shape of a credential (it may still be unknown or revoked).
 *
 * @example
 * if (!isWellFormedCredential(request.headers.get('x-killswitch-credential'))) return deny()
 */
export function isWellFormedCredential(value: unknown): value is string {
  return typeof value === 'string' && CREDENTIAL_PATTERN.test(value)
}

/** The hash a store keeps instead of the credential (hex SHA-256). */
export function hashCredential(credential: string): string {
  return createHash('sha256').update(credential).digest('hex')
}

/**
 * The header that carries an agent credential when `Authorization` is used for something else.
 *
 * @example
 * fetch(url, { headers: { [CREDENTIAL_HEADER]: credential } })
 */
export const CREDENTIAL_HEADER = 'x-killswitch-credential'

// A `ks_` token standing on its own in a header value (not the tail of another key).
const TOKEN = /(?<![A-Za-z0-9_-])ks_[A-Za-z0-9_-]+/g

/**
 * The agent credential a request carries: the `x-killswitch-credential` header, else the
 * header its client already sends a key in, when it holds a `ks_` credential:
 * `Authorization: Bearer ks_...` (OpenAI SDKs) or `x-api-key: ks_...` (Anthropic SDKs).
 * Another token there (a user's JWT, a provider key) is not one. The dedicated header is
 * taken as given, so a wrong value in it is refused rather than ignored. A `ks_` token in
 * any of the three is never overlooked for how it is written (a header sent twice, no
 * `Bearer`, quotes: red team r21 passed a revoked one as anonymous); two different ones are
 * not a choice to make: both are returned, which no credential matches (refused).
 *
 * @example
 * credentialFromHeaders((name) => request.headers.get(name)) // 'ks_...' or undefined
 */
export function credentialFromHeaders(
  header: (name: string) => string | undefined | null,
): string | undefined {
  const explicit = header(CREDENTIAL_HEADER)?.trim()
  const tokens = new Set<string>()
  for (const value of [explicit, header('authorization'), header('x-api-key')]) {
    for (const [token] of (value ?? '').matchAll(TOKEN)) tokens.add(token)
  }
  if (tokens.size > 1) return [...tokens].join(' ')
  const [token] = tokens
  // The dedicated header as given: anything but the one credential in it is refused.
  if (explicit) return explicit
  return token
}
