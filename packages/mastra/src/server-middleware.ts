// The kill switch at Mastra's HTTP edge: a Hono middleware for `server.middleware` that
// refuses requests made with a revoked or exhausted agent credential before any handler
// (and so any model call) runs. One `verify` per request: a hash and one store read.
import {
  CREDENTIAL_HEADER,
  checkRequestCredential,
  credentialFromHeaders,
  InvalidConfigError,
  type KillSwitch,
  type KillSwitchError,
  quotedValue,
} from '@killswitch/core'
import type { MiddlewareHandler } from '@mastra/core/server'

// Where the credential is looked for is core's rule (the gateway reads requests the same way).
export { CREDENTIAL_HEADER, credentialFromHeaders }

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
 * Where the middleware puts the agent's handle for the request's handlers.
 *
 * @example
 * const handle = requestContext.get(AGENT_HANDLE_KEY) // 'researcher-agent-7'
 */
export const AGENT_HANDLE_KEY = 'killswitch.handle'

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
  const { killSwitch, required } = options
  // A string 'false' from an env var would be true: refused at setup (red team r21).
  if (required !== undefined && typeof required !== 'boolean') {
    throw new InvalidConfigError(
      'required',
      `Invalid required: true or false (got ${typeof required} ${quotedValue(required)}).`,
    )
  }
  return async function killSwitchMiddleware(c, next) {
    // The core decides: no credential, revoked, exhausted, or not checkable (fail closed).
    const header = (name: string) => c.req.header(name)
    const { refusal, handle } = await checkRequestCredential(killSwitch, header, { required })
    if (refusal) return deny(c, refusal)
    if (handle !== undefined) {
      c.set(AGENT_HANDLE_KEY, handle)
      const requestContext = c.get('requestContext') as { set?: unknown } | undefined
      if (typeof requestContext?.set === 'function') requestContext.set(AGENT_HANDLE_KEY, handle)
    }
    return next()
  }
}

/** The refusal as `{ error: { code, message } }` with its status; the credential never echoed. */
function deny(c: Parameters<MiddlewareHandler>[0], refusal: KillSwitchError): Response {
  if (refusal.status === 401) c.header('WWW-Authenticate', 'Bearer error="invalid_token"')
  const { code, message } = refusal
  return c.json({ error: { code, message } }, refusal.status as 401)
}
