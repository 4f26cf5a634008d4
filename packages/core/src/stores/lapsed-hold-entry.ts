// The audit entry every store writes when it finds a hold that lapsed at its TTL: neither
// settled nor released in time (a crashed caller, a consumer that stopped reading, a payment
// whose outcome stayed unknown). Without it, the log could not say why `held` went down.
import type { AuditEntry } from '../audit.js'

/**
 * The `released` entry for a lapsed hold, found at `now` (its expiry was `expiresAt`).
 *
 * @example
 * store.appendAudit(lapsedHoldEntry('researcher-agent-7', 'hold-1', 250_000, expiresAt, now))
 */
export function lapsedHoldEntry(
  handle: string,
  holdId: string,
  amountMicros: number,
  expiresAt: number,
  now: number,
): AuditEntry {
  const amount = amountMicros / 1_000_000
  return {
    at: now,
    handle,
    type: 'released',
    summary: `hold of $${amount} lapsed at its expiry (${new Date(expiresAt).toISOString()}): neither settled nor released in time`,
    data: { holdId, reason: 'expired', amount, expiredAt: expiresAt },
  }
}
