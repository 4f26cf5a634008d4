// Agent credentials: 256-bit random bearer tokens with a recognisable prefix, shown once at
// creation and stored only as a SHA-256 hash. A fast hash is right here (unlike passwords):
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
