// The agent's kill switch credential, from the header its SDK already sends its API key in:
// `Authorization: Bearer ks_...` (OpenAI SDKs) or `x-api-key: ks_...` (Anthropic SDKs), as
// core's credentialFromHeaders reads every request that carries one.
import { CREDENTIAL_PREFIX, credentialFromHeaders } from '@killswitch/core'
import type { GatewayError } from './api-errors.js'

/** The `ks_` credential of a request, or a 401 that never echoes what was sent. */
export function agentCredential(headers: Headers): string {
  const credential = credentialFromHeaders((name) => headers.get(name))
  if (credential !== undefined) return credential
  const sentKey = headers.has('authorization') || headers.has('x-api-key')
  throw {
    status: 401,
    code: 'agent_revoked',
    message: sentKey
      ? `The API key is not a kill switch credential: the gateway takes the agent's credential (${CREDENTIAL_PREFIX}...) as its API key, and holds the provider keys itself.`
      : `No API key: the gateway takes the agent's kill switch credential (${CREDENTIAL_PREFIX}...) as its API key.`,
  } satisfies GatewayError
}
