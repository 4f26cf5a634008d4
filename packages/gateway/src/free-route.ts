// Routes that spend nothing (listing models, counting tokens): the agent is still checked
// (a revoked one gets 401), then the request is forwarded with the gateway's key and the
// answer passed on with the key redacted.
import { containsCredential } from '@killswitch/core'
import {
  type ApiFamily,
  type GatewayError,
  isRedirect,
  upstreamAuthFailed,
  upstreamRedirected,
  upstreamUnreachable,
} from './api-errors.js'
import { badRequest } from './dialects/dialect.js'
import type { Upstream } from './providers.js'
import { agentHeadersForUpstream } from './upstream-headers.js'

const FORWARDED_HEADERS = ['anthropic-version', 'anthropic-beta', 'openai-beta', 'content-type']

// The query parameters the providers' model lists take (the Anthropic SDKs add `beta=true`
// to beta routes). Nothing else is forwarded: a credential an agent put in the URL stays here.
const FORWARDED_QUERY: Record<ApiFamily, ReadonlySet<string>> = {
  openai: new Set(['after', 'limit']),
  anthropic: new Set(['after_id', 'before_id', 'limit', 'lifecycle', 'beta']),
}

// A model id as the providers spell them: no `/`, `%` or leading dot, so the model route
// reaches no other endpoint of the provider with the gateway's key.
const MODEL_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]*$/
const MODEL_PATH = '/v1/models/'

/** The path served here, or a 404 for anything else (an encoded `/` in a model id). */
function freePath(pathname: string): string {
  if (pathname === '/v1/models' || pathname === '/v1/messages/count_tokens') return pathname
  const model = pathname.startsWith(MODEL_PATH) ? pathname.slice(MODEL_PATH.length) : undefined
  // A credential fits MODEL_ID: it is no model, and the provider would log it.
  if (model !== undefined && containsCredential(model)) {
    const refusal = badRequest('Invalid model: that is a kill switch credential, not a model id.')
    throw { ...refusal, param: 'model' } satisfies GatewayError
  }
  if (model !== undefined && MODEL_ID.test(model)) return pathname
  throw {
    status: 404,
    code: 'model_not_found',
    message: 'No such model: a model id has only letters, digits, ".", "_", ":" and "-".',
  } satisfies GatewayError
}

function forwardedQuery(url: URL, family: ApiFamily): string {
  const query = new URLSearchParams()
  for (const [name, value] of url.searchParams) {
    if (FORWARDED_QUERY[family].has(name)) query.append(name, value)
  }
  const search = query.toString()
  return search ? `?${search}` : ''
}

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
  const pathname = freePath(url.pathname)
  // OpenAI base URLs end in /v1 already; Anthropic's do not.
  const path = family === 'anthropic' ? pathname : pathname.replace(/^\/v1/, '')
  const headers: Record<string, string> = {
    accept: 'application/json',
    ...agentHeadersForUpstream(request.headers, FORWARDED_HEADERS),
  }
  const hasBody = request.method !== 'GET' && request.method !== 'HEAD'
  let response: Response
  try {
    response = await options.fetch(`${upstream.baseURL}${path}${forwardedQuery(url, family)}`, {
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
    headers: {
      'content-type': upstream.redact(response.headers.get('content-type') ?? 'application/json'),
    },
  })
}
