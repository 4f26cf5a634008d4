// Shared pieces of the store conformance suite: unique handles, records, entries, waiting.
import type { AuditEntry } from '../audit.js'
import { InvalidConfigError } from '../errors.js'
import { EMPTY_POLICY } from '../policy.js'
import type { ActivityEvent, NewAgentRecord, ReserveResult, Store } from '../store.js'

/** Options a case may ask the store under test to be opened with (every store has them). */
export interface ConformanceStoreOptions {
  /** Audit entries older than this (ms, the store's clock) are pruned. Default: kept. */
  auditRetentionMs?: number
}

/** What each group of cases gets: a way to open the store under test (closed after each case). */
export interface SuiteContext {
  open(options?: ConformanceStoreOptions): Promise<Store>
}

let counter = 0
export const uniqueHandle = (prefix: string) =>
  `${prefix}-${process.pid}-${Date.now()}-${counter++}`

/** A new agent record for tests. */
export function testAgentRecord(handle: string, capMicros: number, now = 1_000): NewAgentRecord {
  return {
    handle,
    credentialHash: `hash-of-${handle}`,
    capMicros,
    currency: 'usd',
    createdAt: now,
    updatedAt: now,
    policy: EMPTY_POLICY,
  }
}

export const entry = (handle: string, type: AuditEntry['type'], at: number): AuditEntry => ({
  at,
  handle,
  type,
  summary: `${type} at ${at}`,
  data: { n: at },
})

export async function waitFor(check: () => boolean, timeoutMs = 3_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (check()) return true
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
  return check()
}

/**
 * The activity window a reserve answered with, as a plain array: `activity[activityStart..
 * activityEnd)` (a store may answer with its own array and bounds); undefined if refused.
 */
export function reservedWindow(result: ReserveResult): ActivityEvent[] | undefined {
  if (!result.ok || !result.activity) return undefined
  return result.activity.slice(result.activityStart ?? 0, result.activityEnd)
}

/**
 * The field an operation was refused for (InvalidConfigError), 'accepted' when it was not
 * refused, or the other error it threw. A store may throw at once or reject: both count.
 */
export async function refusedField(run: () => unknown): Promise<unknown> {
  return Promise.resolve()
    .then(run)
    .then(
      () => 'accepted',
      (error: unknown) =>
        InvalidConfigError.isInstance(error) ? (error as InvalidConfigError).field : error,
    )
}
