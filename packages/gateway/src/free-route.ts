// Routes that spend nothing (listing models, counting tokens): the agent is still checked
// (a revoked one gets 401), then the request is forwarded with the gateway's key and the
// answer passed on with the key redacted.
import { type ApiFamily, upstreamAuthFailed, upstreamUnreachable } from './api-errors.js'
import type { Upstream } from './providers.js'

const FORWARDED_HEADERS = ['anthropic-version', 'anthropic-beta', 'openai-beta', 'content-type']

/** Forwards a request that spends nothing to the upstream of `family`. */
export async function forwardFree(options: {
  request: Request
  family: ApiFamily
  upstream: Upstream
  fetch: typeof fetch
  onError(error: unknown): void
}): Promise<Response> {
  const { request, family, upstream } = options
  const url = new URL(request.url)
  // OpenAI base URLs end in /v1 already; Anthropic's do not.
  const path = family === 'anthropic' ? url.pathname : url.pathname.replace(/^\/v1/, '')
  const headers: Record<string, string> = { accept: 'application/json' }
  for (const name of FORWARDED_HEADERS) {
    const value = request.headers.get(name)
    if (value !== null) headers[name] = value
  }
  const hasBody = request.method !== 'GET' && request.method !== 'HEAD'
  let response: Response
  try {
    response = await options.fetch(`${upstream.baseURL}${path}${url.search}`, {
      method: request.method,
      headers: { ...headers, ...upstream.authHeaders() },
      ...(hasBody ? { body: await request.text() } : {}),
      signal: request.signal,
    })
  } catch (error) {
    options.onError(error)
    throw upstreamUnreachable()
  }
  if (response.status === 401 || response.status === 403) {
    await response.body?.cancel()
    throw upstreamAuthFailed()
  }
  return new Response(upstream.redact(await response.text()), {
    status: response.status,
    headers: { 'content-type': response.headers.get('content-type') ?? 'application/json' },
  })
}
