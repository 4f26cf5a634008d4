// The agent's kill switch credential, from the header its SDK already sends its API key in:
// `Authorization: Bearer ks_...` (OpenAI SDKs) or `x-api-key: ks_...` (Anthropic SDKs).
import { CREDENTIAL_PREFIX } from '@killswitch/core'
import type { GatewayError } from './api-errors.js'

const BEARER = /^Bearer\s+(\S+)\s*$/i

/** The `ks_` credential of a request, or a 401 that never echoes what was sent. */
export function agentCredential(headers: Headers): string {
  const candidates: string[] = []
  const authorization = headers.get('authorization')
  const bearer = authorization === null ? undefined : BEARER.exec(authorization)?.[1]
  if (bearer !== undefined) candidates.push(bearer)
  const apiKey = headers.get('x-api-key')?.trim()
  if (apiKey) candidates.push(apiKey)
  const credential = candidates.find((value) => value.startsWith(CREDENTIAL_PREFIX))
  if (credential !== undefined) return credential
  throw {
    status: 401,
    code: 'agent_revoked',
    message:
      candidates.length === 0
        ? `No API key: the gateway takes the agent's kill switch credential (${CREDENTIAL_PREFIX}...) as its API key.`
        : `The API key is not a kill switch credential: the gateway takes the agent's credential (${CREDENTIAL_PREFIX}...) as its API key, and holds the provider keys itself.`,
  } satisfies GatewayError
}
