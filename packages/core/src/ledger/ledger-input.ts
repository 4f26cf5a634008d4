// The ledger's edge: every amount and duration is checked here before any transition reads
// it, so a poisoned figure (NaN, Infinity, -100, 0.5, 1e21) is a typed error that names the
// field and writes nothing, on every store (the Redis scripts repeat the same checks).
import { InvalidConfigError } from '../errors.js'

/** The largest amount the ledger accepts: $1 billion, far past any real cap or call. */
export const MAX_MICROS = 1_000_000_000_000_000
/** Hold leases: at least 1 ms (the ledger; the guard asks for far more), at most 7 days. */
export const MAX_TTL_MS = 7 * 24 * 3600_000

/** Throws unless `value` is a whole number of micro-dollars in [0, MAX_MICROS]. */
export function checkMicros(field: string, value: unknown): number {
  if (
    typeof value !== 'number' ||
    !Number.isSafeInteger(value) ||
    value < 0 ||
    value > MAX_MICROS
  ) {
    throw new InvalidConfigError(
      field,
      `Invalid ${field}: the ledger takes a whole number of micro-dollars from 0 to ${MAX_MICROS} (got ${String(value)}); nothing was written.`,
    )
  }
  return value
}

/** Throws unless `value` is a lease length in ms in [1, MAX_TTL_MS]. */
export function checkTtl(field: string, value: unknown): number {
  if (
    typeof value !== 'number' ||
    !Number.isSafeInteger(value) ||
    value < 1 ||
    value > MAX_TTL_MS
  ) {
    throw new InvalidConfigError(
      field,
      `Invalid ${field}: a hold lease is a whole number of milliseconds from 1 to ${MAX_TTL_MS} (got ${String(value)}); nothing was written.`,
    )
  }
  return value
}

/** Throws unless `value` is a non-empty string id. */
export function checkId(field: string, value: unknown): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > 200) {
    throw new InvalidConfigError(
      field,
      `Invalid ${field}: a non-empty string of at most 200 characters is required.`,
    )
  }
  return value
}

/** Throws unless `value` is a time in ms since the epoch. */
export function checkTime(field: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new InvalidConfigError(
      field,
      `Invalid ${field}: milliseconds since the epoch are required (got ${String(value)}).`,
    )
  }
  return value
}
