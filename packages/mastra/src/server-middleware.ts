// The kill switch at Mastra's HTTP edge: a Hono middleware for `server.middleware` that
// refuses requests made with a revoked or exhausted agent credential before any handler
// (and so any model call) runs. One `verify` per request: a hash and one store read.
import {
  CREDENTIAL_PREFIX,
  findKillSwitchError,
  type KillSwitch,
  type KillSwitchErrorCode,
  type VerifyResult,
} from '@killswitch/core'
import type { MiddlewareHandler } from '@mastra/core/server'

/**
 * The one thing the middleware needs from a kill switch.
 *
 * @example
 * const verifier: CredentialVerifier = createKillSwitch({ store })
 */
export type CredentialVerifier = Pick<KillSwitch, 'verify'>

/**
 * Options of {@link killSwitchServerMiddleware}.
 *
 * @example
 * const options: KillSwitchServerMiddlewareOptions = { killSwitch: ks, required: true }
 */
export interface KillSwitchServerMiddlewareOptions {
  killSwitch: CredentialVerifier
  /**
   * Refuse requests that carry no agent credential (401). Default false: requests without
   * one pass, so people and other clients keep using the server.
   */
  required?: boolean
}

/**
 * The header that carries an agent credential when `Authorization` is used for something else.
 *
 * @example
 * fetch(url, { headers: { [CREDENTIAL_HEADER]: credential } })
 */
export const CREDENTIAL_HEADER = 'x-killswitch-credential'
/**
 * Where the middleware puts the agent's handle for the request's handlers.
 *
 * @example
 * const handle = requestContext.get(AGENT_HANDLE_KEY) // 'researcher-agent-7'
 */
export const AGENT_HANDLE_KEY = 'killswitch.handle'

/**
 * Finds the agent credential in a request: the `x-killswitch-credential` header, else an
 * `Authorization: Bearer ks_...` header. Another bearer token (a user's JWT) is not one.
 *
 * @example
 * credentialFromHeaders((name) => request.headers.get(name)) // 'ks_...' or undefined
 */
export function credentialFromHeaders(
  header: (name: string) => string | undefined | null,
): string | undefined {
  const explicit = header(CREDENTIAL_HEADER)?.trim()
  if (explicit) return explicit
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header('authorization') ?? '')
  return match?.[1]?.startsWith(CREDENTIAL_PREFIX) ? match[1] : undefined
}

/**
 * Hono middleware for Mastra's server (`server.middleware`): a request carrying an agent
 * credential (`x-killswitch-credential: ks_...` or `Authorization: Bearer ks_...`) is checked
 * against the kill switch. Revoked or unknown: 401. Budget exhausted: 402. Store down: 503
 * (fail closed). The body is `{ error: { code, message } }`. On success the agent's handle
 * is set on the Hono context and Mastra's request context as `killswitch.handle`.
 *
 * @example
 * new Mastra({
 *   agents: { researcher },
 *   server: { middleware: [killSwitchServerMiddleware({ killSwitch: ks })] },
 * })
 */
export function killSwitchServerMiddleware(
  options: KillSwitchServerMiddlewareOptions,
): MiddlewareHandler {
  const { killSwitch, required = false } = options
  return async function killSwitchMiddleware(c, next) {
    const credential = credentialFromHeaders((name) => c.req.header(name))
    if (credential === undefined) {
      if (!required) return next()
      return deny(c, 401, 'agent_revoked', missingMessage)
    }
    let verdict: VerifyResult
    try {
      verdict = await killSwitch.verify(credential)
    } catch (error) {
      // Fail closed: a request we cannot check is refused, with the store's own message.
      const found = findKillSwitchError(error)
      const message = found?.message ?? 'The kill switch could not check the agent credential.'
      return deny(c, found?.status ?? 503, found?.code ?? 'store_unavailable', message)
    }
    if (!verdict.active) {
      const who = verdict.handle ? `Agent "${verdict.handle}" is revoked` : revokedMessage
      return deny(c, 401, 'agent_revoked', `${who}: its credential is refused.`)
    }
    if (verdict.available !== undefined && verdict.available <= 0) {
      return deny(
        c,
        402,
        'spending_cap_exceeded',
        `Agent "${verdict.handle ?? 'unknown'}" has no budget left` +
          (verdict.spendingCap === undefined
            ? ''
            : ` (spending cap $${verdict.spendingCap}, $${verdict.spent ?? 0} spent)`) +
          '. Raise the cap (agents.update) to continue.',
      )
    }
    if (verdict.handle !== undefined) {
      c.set(AGENT_HANDLE_KEY, verdict.handle)
      const requestContext = c.get('requestContext') as { set?: unknown } | undefined
      if (typeof requestContext?.set === 'function') {
        requestContext.set(AGENT_HANDLE_KEY, verdict.handle)
      }
    }
    return next()
  }
}

const missingMessage =
  'This server requires an agent credential: send it as ' +
  `"${CREDENTIAL_HEADER}: ks_..." or "Authorization: Bearer ks_...".`
const revokedMessage = 'The agent credential is unknown, malformed or revoked'

function deny(
  c: Parameters<MiddlewareHandler>[0],
  status: number,
  code: KillSwitchErrorCode,
  message: string,
): Response {
  if (status === 401) c.header('WWW-Authenticate', 'Bearer error="invalid_token"')
  // The credential is never echoed: messages name the agent's handle at most.
  return c.json({ error: { code, message } }, status as 401)
}
