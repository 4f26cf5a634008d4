// The reason a revoke request gives, read leniently. A kill switch never refuses to fire for
// want of a good reason (core's `agents.revoke` contract): whatever the body is (absent,
// empty, not JSON, any content type, extra fields, a reason that is no string, too big, or
// too slow to arrive), the revocation goes ahead; only a usable reason is passed on. The
// handle, the auth and the Host/Origin checks stay the only reasons to refuse a revoke.

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

/**
 * The reason in a revoke request's body, or undefined when it gives none usable: a JSON
 * object's string `reason` (or a form-encoded `reason=`), whatever the content type. Never
 * throws; the caller records its default reason for undefined. Length and surrounding
 * whitespace are the core's to handle (it trims and cuts).
 *
 * @example
 * const reason = await readRevokeReason(c.req.raw)
 * await ks.agents.revoke(handle, { reason: reason ?? 'revoked through the admin API' })
 */
export async function readRevokeReason(
  request: Request,
  options: { maxBytes?: number; timeoutMs?: number } = {},
): Promise<string | undefined> {
  try {
    const text = await readCapped(
      request,
      options.maxBytes ?? MAX_REVOKE_BODY_BYTES,
      options.timeoutMs ?? REVOKE_BODY_TIMEOUT_MS,
    )
    if (text === undefined || text.trim() === '') return undefined
    return usable(fromJson(text) ?? fromForm(request, text))
  } catch {
    return undefined
  }
}

function usable(reason: unknown): string | undefined {
  return typeof reason === 'string' && reason.trim() !== '' ? reason : undefined
}

function fromJson(text: string): unknown {
  let body: unknown
  try {
    body = JSON.parse(text)
  } catch {
    return undefined
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return undefined
  const reason = (body as { reason?: unknown }).reason
  return typeof reason === 'string' ? reason : undefined
}

function fromForm(request: Request, text: string): string | undefined {
  const type = request.headers.get('content-type')?.split(';')[0]?.trim().toLowerCase()
  if (type !== 'application/x-www-form-urlencoded') return undefined
  return new URLSearchParams(text).get('reason') ?? undefined
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
