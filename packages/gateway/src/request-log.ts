// One log line per request, written when the call has ended (a stream at its last event).
// It names the agent by handle, never by credential, and holds no header or body: the
// provider keys and the agent's credential cannot reach it, except where the agent itself
// wrote a credential (as its model, in the path): the line is masked as core masks errors.
import { redactCredentials } from '@killswitch/core'

/** What is known about one request, filled in as it is served. */
export interface RequestRecord {
  method: string
  path: string
  startedAt: number
  status?: number
  handle?: string
  model?: string
  stream?: boolean
  /** `settled`, `cut: agent_revoked`, `upstream 500`, an error code... */
  outcome?: string
  costUsd?: number
  /**
   * The call's hold: the id `killswitch audit` and `killswitch reconcile` name (a charge on
   * the gateway's own figures is corrected from the provider's bill by it).
   */
  holdId?: string
  /** Set when the response is a stream that logs its own end. */
  deferred?: boolean
}

/** Formats a record as one line. */
export function formatRequestLine(record: RequestRecord, now: number): string {
  const parts = [`${record.method} ${record.path}`, String(record.status ?? '-')]
  parts.push(`agent=${record.handle ?? '-'}`)
  if (record.model !== undefined) parts.push(`model=${JSON.stringify(record.model).slice(1, -1)}`)
  if (record.stream) parts.push('stream')
  if (record.outcome !== undefined) parts.push(record.outcome)
  if (record.costUsd !== undefined) parts.push(`cost=$${record.costUsd}`)
  if (record.holdId !== undefined) parts.push(`hold=${record.holdId}`)
  parts.push(`${(now - record.startedAt).toFixed(1)}ms`)
  return redactCredentials(`gateway ${parts.join(' ')}`)
}
