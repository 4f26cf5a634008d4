// Routes that spend nothing (listing models, counting tokens): the agent is still checked
// (a revoked one gets 401), then the request is forwarded with the gateway's key and the
// answer passed on with the key redacted.
import {
  type ApiFamily,
  isRedirect,
  upstreamAuthFailed,
  upstreamRedirected,
  upstreamUnreachable,
} from './api-errors.js'
import type { Upstream } from './providers.js'
import { agentHeadersForUpstream } from './upstream-headers.js'

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
  const headers: Record<string, string> = {
    accept: 'application/json',
    ...agentHeadersForUpstream(request.headers, FORWARDED_HEADERS),
  }
  const hasBody = request.method !== 'GET' && request.method !== 'HEAD'
  let response: Response
  try {
    response = await options.fetch(`${upstream.baseURL}${path}${url.search}`, {
      method: request.method,
      headers: { ...headers, ...upstream.authHeaders() },
      ...(hasBody ? { body: await request.text() } : {}),
      signal: request.signal,
      // Never followed: fetch would send the request on, and with it `x-api-key`.
      redirect: 'manual',
    })
  } catch (error) {
    options.onError(error)
    throw upstreamUnreachable()
  }
  if (response.status === 401 || response.status === 403) {
    await response.body?.cancel()
    throw upstreamAuthFailed()
  }
  if (isRedirect(response)) {
    await response.body?.cancel()
    throw upstreamRedirected()
  }
  return new Response(upstream.redact(await response.text()), {
    status: response.status,
    headers: { 'content-type': response.headers.get('content-type') ?? 'application/json' },
  })
}
