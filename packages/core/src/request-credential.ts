// A request at a service's edge (an HTTP server that receives agent credentials), checked
// before any handler runs: where its credential is, what a request without one is when one is
// required, and what a check that cannot be made is (refused: fail closed). An edge adapter
// sends the refusal in its framework's idiom and decides nothing itself.
import { CREDENTIAL_HEADER, credentialFromHeaders } from './credentials.js'
import {
  AgentRevokedError,
  findKillSwitchError,
  type KillSwitchError,
  StoreUnavailableError,
} from './errors.js'
import type { KillSwitch, VerifyResult } from './kill-switch.js'
import { verifyRefusal } from './verify-refusal.js'

/**
 * What {@link checkRequestCredential} found: the refusal to send, or the agent that may go on
 * (`handle` undefined for a request that carries no credential and needs none).
 *
 * @example
 * const check: RequestCheck = { handle: 'researcher-7' }
 */
export type RequestCheck =
  | { refusal: KillSwitchError; handle?: undefined }
  | { refusal?: undefined; handle: string | undefined }

const MISSING =
  'This server requires an agent credential: send it as ' +
  `"${CREDENTIAL_HEADER}: ks_..." or "Authorization: Bearer ks_...".`
const UNCHECKED = 'The kill switch could not check the agent credential'

/**
 * Checks the agent credential a request carries (`credentialFromHeaders`) with one `verify`
 * (a hash and one store read). Without one the request passes, unless `required`: then an
 * AgentRevokedError (401) that says how to send one. Revoked, unknown or exhausted: the
 * refusal `verifyRefusal` gives (401, 402). A `verify` that fails: its own kill switch error,
 * else StoreUnavailableError (503). The refusal never echoes the credential.
 *
 * @example
 * const { refusal, handle } = await checkRequestCredential(ks, (name) => request.headers.get(name))
 * if (refusal) return Response.json({ error: { code: refusal.code } }, { status: refusal.status })
 */
export async function checkRequestCredential(
  killSwitch: Pick<KillSwitch, 'verify'>,
  header: (name: string) => string | undefined | null,
  { required = false }: { required?: boolean } = {},
): Promise<RequestCheck> {
  const credential = credentialFromHeaders(header)
  if (credential === undefined) {
    return required
      ? { refusal: new AgentRevokedError({ message: MISSING }) }
      : { handle: undefined }
  }
  let verdict: VerifyResult
  let refusal: KillSwitchError | undefined
  try {
    verdict = await killSwitch.verify(credential)
    // Read inside: a verifier that answers nothing usable fails closed too (red team r21).
    refusal = verifyRefusal(verdict)
  } catch (error) {
    return { refusal: findKillSwitchError(error) ?? new StoreUnavailableError(UNCHECKED) }
  }
  return refusal ? { refusal } : { handle: verdict.handle }
}
