// One webhook POST on node:http(s), with the connection pinned to the address that was
// checked. fetch resolves the name again when it connects, so a check before fetch can be
// raced by DNS rebinding (public at the check, 127.0.0.1 at the connect). Here the check
// runs INSIDE the connection's own `lookup`: the address that passed is the address used.
// IP literals skip lookup in node:net, so the caller checks those before calling.

import { lookup as dnsLookup } from 'node:dns/promises'
import { request as httpRequest, type IncomingMessage } from 'node:http'
import { request as httpsRequest } from 'node:https'
import type { LookupFunction } from 'node:net'
import {
  mayConnect,
  REFUSED_TARGET_REASON,
  type WebhookTargetPolicy,
} from './webhook-target-policy.js'

/** A resolved address of a host. */
export interface ResolvedAddress {
  address: string
  family: 4 | 6
}

/** Resolves a host name to its addresses (default: the system resolver, like fetch). */
export type ResolveHost = (hostname: string) => Promise<ResolvedAddress[]>

/** Thrown (as the request's error) when the resolved target is not allowed. */
export class WebhookTargetRefusedError extends Error {
  readonly code = 'EWEBHOOKTARGET'
  constructor() {
    super(REFUSED_TARGET_REASON)
    this.name = 'WebhookTargetRefusedError'
  }
}

/** What the dispatcher needs from a response. */
export interface WebhookResponse {
  status: number
  retryAfter: string | null
}

/** The system resolver, every address (v4 and v6), in the resolver's order. */
export const systemResolve: ResolveHost = async (hostname) => {
  const answers = await dnsLookup(hostname, { all: true, verbatim: true })
  return answers.map(({ address, family }) => ({ address, family: family === 6 ? 6 : 4 }))
}

function pinnedLookup(resolve: ResolveHost, policy: WebhookTargetPolicy): LookupFunction {
  return (hostname, options, callback) => {
    const family = typeof options === 'number' ? options : options?.family
    const all = typeof options === 'object' && options?.all === true
    resolve(hostname).then(
      (addresses) => {
        if (!mayConnect(hostname, addresses, policy)) {
          callback(new WebhookTargetRefusedError(), '', 4)
          return
        }
        const usable =
          family === 4 || family === 6 ? addresses.filter((a) => a.family === family) : addresses
        const first = usable[0]
        if (first === undefined) {
          const error = Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), {
            code: 'ENOTFOUND',
          })
          callback(error, '', 4)
          return
        }
        if (all) (callback as unknown as (e: null, a: ResolvedAddress[]) => void)(null, usable)
        else callback(null, first.address, first.family)
      },
      (error: NodeJS.ErrnoException) => callback(error, '', 4),
    )
  }
}

/**
 * How long a response's body may take to arrive after its status line. The status line is
 * the answer (a 2xx acknowledges); the body is read and dropped so the exchange ends
 * cleanly, and a body still trickling past this is cut off, not counted against the delivery.
 */
export const BODY_DRAIN_MS = 1_000

/**
 * POSTs `body` to `url` over a connection to an address the policy allows, and resolves with
 * the status as soon as the status line arrives; the body is then drained (and dropped) for at
 * most `BODY_DRAIN_MS`. Redirects are not followed.
 */
export function postWebhook(
  url: URL,
  init: {
    headers: Record<string, string>
    body: string
    signal: AbortSignal
    resolve: ResolveHost
    policy: WebhookTargetPolicy
  },
): Promise<WebhookResponse> {
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest
  return new Promise<WebhookResponse>((resolvePromise, reject) => {
    const request = send(url, {
      method: 'POST',
      headers: { ...init.headers, 'content-length': String(Buffer.byteLength(init.body)) },
      signal: init.signal,
      lookup: pinnedLookup(init.resolve, init.policy),
      // A fresh connection per attempt: a pooled socket would outlive `close()`.
      agent: false,
    })
    // `on`, not `once`: an error after the answer (the drain cut off, the signal) is no
    // longer the delivery's, and must not be an unhandled 'error' either.
    request.on('error', reject)
    request.once('response', (response: IncomingMessage) => {
      const header = response.headers['retry-after']
      resolvePromise({
        status: response.statusCode ?? 0,
        retryAfter: typeof header === 'string' ? header : null,
      })
      response.on('error', () => undefined)
      response.resume()
      const cutOff = setTimeout(() => response.destroy(), BODY_DRAIN_MS)
      cutOff.unref()
      response.once('close', () => clearTimeout(cutOff))
    })
    request.end(init.body)
  })
}
