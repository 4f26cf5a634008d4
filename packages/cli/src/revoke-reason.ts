// What a revoke request's body gives (a reason, who revokes), read leniently. A kill switch
// never refuses to fire for want of a good reason (core's `agents.revoke` contract): whatever
// the body is (absent, empty, not JSON, any content type, extra fields, a field that is no
// string, too big, or too slow to arrive), the revocation goes ahead; only usable fields are
// passed on. The handle, the auth and the Host/Origin checks stay the only reasons to refuse
// a revoke.

import {
  type AgentSnapshot,
  findKillSwitchError,
  type RevocationUnreplicatedError,
} from '@killswitch/core'
import type { AdminKillSwitch } from './admin-kill-switch.js'

/** Bytes read of a revoke body; past it the body is ignored (no reason), never refused. */
export const MAX_REVOKE_BODY_BYTES = 64 * 1024
/** How long a revoke waits for its body before revoking without a reason. */
export const REVOKE_BODY_TIMEOUT_MS = 5_000

/** Whether a request is a revoke (exempt from the body-size refusal: its body is optional). */
export function isRevokeRequest(method: string, path: string): boolean {
  return (
    method.toUpperCase() === 'POST' &&
    /^\/(?:v1|console\/api)\/agents\/[^/]+\/revoke\/?$/.test(path)
  )
}

/** What a revoke request's body gives: its reason and who revokes, each when usable. */
export interface RevokeBody {
  reason?: string
  /** Who revokes, for the audit log (the core records "operator" for one it cannot keep). */
  by?: string
}

/**
 * The reason and the revoker a revoke request's body gives: a JSON object's string `reason`
 * and `by` (or form-encoded `reason=` and `by=`), whatever the content type; a field absent
 * or unusable is left out. Never throws; the caller records its defaults for what is left
 * out. Length and surrounding whitespace are the core's to handle (it trims and cuts a
 * reason, and records a `by` it cannot keep as "operator").
 *
 * @example
 * const { reason, by } = await readRevokeBody(c.req.raw)
 * await ks.agents.revoke(handle, { reason: reason ?? 'revoked through the admin API', by: by ?? 'admin-api' })
 */
export async function readRevokeBody(
  request: Request,
  options: { maxBytes?: number; timeoutMs?: number } = {},
): Promise<RevokeBody> {
  try {
    const text = await readCapped(
      request,
      options.maxBytes ?? MAX_REVOKE_BODY_BYTES,
      options.timeoutMs ?? REVOKE_BODY_TIMEOUT_MS,
    )
    if (text === undefined || text.trim() === '') return {}
    const fields = fromJson(text) ?? fromForm(request, text)
    const reason = usable(fields?.reason)
    const by = usable(fields?.by)
    return { ...(reason === undefined ? {} : { reason }), ...(by === undefined ? {} : { by }) }
  } catch {
    return {}
  }
}

function usable(value: unknown): string | undefined {
  return typeof value === 'string' && value.trim() !== '' ? value : undefined
}

/** A JSON object body's fields, or undefined when the body is no JSON object. */
function fromJson(text: string): Record<string, unknown> | undefined {
  let body: unknown
  try {
    body = JSON.parse(text)
  } catch {
    return undefined
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return undefined
  return body as Record<string, unknown>
}

function fromForm(request: Request, text: string): Record<string, unknown> | undefined {
  const type = request.headers.get('content-type')?.split(';')[0]?.trim().toLowerCase()
  if (type !== 'application/x-www-form-urlencoded') return undefined
  const form = new URLSearchParams(text)
  return { reason: form.get('reason') ?? undefined, by: form.get('by') ?? undefined }
}

/** The body as text, or undefined when it is larger than `maxBytes` or slower than `timeoutMs`. */
async function readCapped(
  request: Request,
  maxBytes: number,
  timeoutMs: number,
): Promise<string | undefined> {
  const declared = Number(request.headers.get('content-length') ?? Number.NaN)
  if (Number.isFinite(declared) && declared > maxBytes) return undefined
  const body = request.body
  if (body === null) return undefined
  const reader = body.getReader()
  let timer: NodeJS.Timeout | undefined
  const timedOut = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), timeoutMs)
  })
  const chunks: Uint8Array[] = []
  let size = 0
  try {
    for (;;) {
      const next = await Promise.race([reader.read(), timedOut])
      if (next === 'timeout') return undefined
      if (next.done) break
      size += next.value.byteLength
      if (size > maxBytes) return undefined
      chunks.push(next.value)
    }
  } finally {
    clearTimeout(timer)
    // Whatever is left unread is dropped (a no-op once the body has been read whole).
    reader.cancel().catch(() => {})
  }
  return new TextDecoder().decode(Buffer.concat(chunks))
}

/** What a revoke through HTTP (the admin API, the console) answers, and with which status. */
export interface RevokeAnswer {
  /** 200 as the store answered; 202 when no replica of the store confirmed it yet. */
  status: 200 | 202
  agent: AgentSnapshot
  alreadyRevoked: boolean
  /** False when it is in force but on no replica yet (a failover could undo it). */
  replicated?: false
  /** With `replicated: false`: what that means, and that it is retried. */
  message?: string
  /**
   * With `replicated: false`: what has not confirmed it yet, a `replica` of the store (Redis)
   * or its `ledger` (sqlite, its lock held elsewhere: written once the lock is free).
   */
  pending?: 'replica' | 'ledger'
}

/**
 * Revokes, and answers what is true. A revocation the store wrote where every process reads
 * it, that no replica confirmed yet, is in force: 202 with the agent as it is now and
 * `replicated: false`, never a 503 "not written" (red team rt27). Anything else throws.
 *
 * @example
 * const { status, ...answer } = await revokeAnswer(ks, handle, { reason, by: 'admin-api' })
 */
export async function revokeAnswer(
  ks: Pick<AdminKillSwitch, 'agents'>,
  handle: string,
  options: { reason: string; by: string },
): Promise<RevokeAnswer> {
  try {
    const { alreadyRevoked, ...agent } = await ks.agents.revoke(handle, options)
    return { status: 200, agent, alreadyRevoked }
  } catch (error) {
    const found = findKillSwitchError(error)
    if (found?.code !== 'revocation_unreplicated') throw error
    const { alreadyRevoked, message, pending } = found as RevocationUnreplicatedError
    return {
      status: 202,
      agent: await ks.agents.get(handle),
      alreadyRevoked,
      replicated: false,
      message,
      pending,
    }
  }
}
