// The ledger's edge: every amount and duration is checked here before any transition reads
// it, so a poisoned figure (NaN, Infinity, -100, 0.5, 1e21) is a typed error that names the
// field and writes nothing, on every store (the Redis scripts repeat the same checks).
import { InvalidConfigError } from '../errors.js'

/** The largest amount the ledger accepts: $1 billion, far past any real cap or call. */
export const MAX_MICROS = 1_000_000_000_000_000
/**
 * The most a running total of the ledger records (an agent's spent, a window's spent): $8
 * billion. Each amount is bounded (MAX_MICROS) but the number of settles is not, and a total
 * past 2^53 is not a safe integer: sqlite refuses to read it back (every read of that agent,
 * and of every listing, fails), and JavaScript and Lua doubles stop counting exactly. So a
 * total saturates here rather than grow past it, and a settle is never refused for its size:
 * money that left is spent. A saturated figure is above every cap (an effective cap, grants
 * included, is bounded by it too, so held and unreconciled never pass it either): the agent
 * stays refused, and the store stays readable. 8e15 leaves room for one more amount below
 * 2^53 (8e15 + 1e15 < 9.007e15), so a total plus one amount is exact before it saturates, in
 * JavaScript and in the Redis scripts alike (redis-lua-ledger.ts repeats this figure).
 */
export const MAX_TOTAL_MICROS = 8 * MAX_MICROS
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

/** A running total after a change: saturated at MAX_TOTAL_MICROS (see there for why). */
export function saturated(total: number): number {
  return Math.min(MAX_TOTAL_MICROS, total)
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
