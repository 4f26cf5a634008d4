// Paid HTTP (x402) through the gateway: the gateway holds the wallet and pays on the
// agent's behalf, under the agent's cap and rules, so the agent never holds a signer. The
// agent requests `${gateway}/x402/<target URL>` with its ks_ credential; the paying fetch
// (`killSwitchFetch` from @killswitch/x402, built per credential) refuses, holds, signs and
// charges. Only the configured origins are fetched: the gateway is not an open proxy.
import type { GatewayError } from './api-errors.js'

/** Paid HTTP through the gateway. */
export interface X402Options {
  /**
   * The origins the gateway may fetch and pay for (`https://api.example.com`). Anything
   * else is refused with 403 before any request or payment.
   */
  origins: readonly string[]
  /**
   * A fetch that pays under the agent's kill switch, for one credential. Typically:
   * `(credential) => killSwitchFetch({ killSwitch: ks, credential, client })`, with the
   * gateway's x402Client (its wallet) and your payment rules.
   */
  payingFetch(credential: string): typeof fetch
}

/** The path prefix of the paid route. */
export const X402_PREFIX = '/x402/'

// The only request headers sent on to the third party: what describes the content and the
// caching of the request. An allow-list, so no header the agent's credential can be read from
// (authorization, x-api-key, x-killswitch-credential, or any the core may read in future)
// ever leaves, and nor do hop-by-hop ones.
const FORWARDED_REQUEST_HEADERS = [
  'accept',
  'accept-language',
  'content-type',
  'content-language',
  'cache-control',
  'if-match',
  'if-none-match',
  'if-modified-since',
  'if-unmodified-since',
  'range',
]
// The body is passed on decoded, so its encoding and length headers no longer hold.
const DROPPED_RESPONSE_HEADERS = new Set([
  'connection',
  'keep-alive',
  'transfer-encoding',
  'content-encoding',
  'content-length',
])

function forbidden(message: string): GatewayError {
  return { status: 403, code: 'origin_not_allowed', message }
}

/** Normalises the configured origins; a malformed one is a configuration error. */
export function allowedOrigins(origins: readonly string[]): Set<string> {
  return new Set(origins.map((origin) => new URL(origin).origin))
}

/** The target URL of a paid-route request, checked against the allowed origins. */
export function x402Target(request: Request, origins: Set<string>): URL {
  const raw = request.url
  const at = raw.indexOf(X402_PREFIX)
  let target: URL
  try {
    target = new URL(raw.slice(at + X402_PREFIX.length))
  } catch {
    throw forbidden(`Not a URL after ${X402_PREFIX}: request ${X402_PREFIX}https://host/path.`)
  }
  if (!origins.has(target.origin)) {
    throw forbidden(`The gateway does not pay for ${target.origin}: it is not in its x402 origins.`)
  }
  return target
}

/** Forwards the agent's request to the target through the paying fetch. */
export async function forwardPaid(
  request: Request,
  target: URL,
  pay: typeof fetch,
): Promise<Response> {
  const headers = new Headers()
  for (const name of FORWARDED_REQUEST_HEADERS) {
    const value = request.headers.get(name)
    if (value !== null) headers.set(name, value)
  }
  const hasBody = request.method !== 'GET' && request.method !== 'HEAD'
  const response = await pay(target, {
    method: request.method,
    headers,
    ...(hasBody ? { body: await request.arrayBuffer() } : {}),
    signal: request.signal,
    // Not followed: a redirect may point outside the allowed origins. The agent gets it, and
    // requesting its target through the gateway checks that origin.
    redirect: 'manual',
  })
  const returned = new Headers()
  for (const [name, value] of response.headers) {
    if (!DROPPED_RESPONSE_HEADERS.has(name)) returned.set(name, value)
  }
  return new Response(response.body, { status: response.status, headers: returned })
}
