// A payee whose 402 says whatever a test sets, for tests: another resource than the one
// requested, a payTo or asset that is no address, a validity given as a string, a price no
// cap can hold. x402's own server would not write these; a hostile or broken payee can.

import {
  decodePaymentSignatureHeader,
  encodePaymentRequiredHeader,
  encodePaymentResponseHeader,
} from '@x402/core/http'
import type { PaymentPayload, PaymentRequirements } from '@x402/core/types'
import { getDefaultAsset } from '@x402/evm'
import { Hono } from 'hono'
import { closeServer, listenOnLoopback } from './local-facilitator.js'
import { TEST_NETWORK } from './paid-server.js'
import { PAYEE } from './x402-fixture.js'

/** What the payee's next 402 says, and how it answers a paid request. Tests set these. */
export interface Claims {
  /** Its options, in order (`requirements()` is an honest $0.01 one to start from). */
  accepts: Array<Record<string, unknown>>
  /** The resource its 402 names (v2: `{ url }`). */
  resource: unknown
  /** `settle`: 200 with a settlement of the signed amount; `hang`: never answers. */
  answer: 'settle' | 'hang'
}

/** A running claiming payee. */
export interface ClaimingPayee {
  /** Base URL: `/paid` is its paid route; `/redirect` redirects (302) to `/paid`. */
  url: string
  claims: Claims
  /** The signed payloads it received. */
  readonly received: PaymentPayload[]
  /** Restores honest claims and forgets what it received. */
  reset(): void
  close(): Promise<void>
}

/** Honest requirements: $0.01 in USDC to `PAYEE`, valid 300 s. */
export const requirements = (): PaymentRequirements => ({
  scheme: 'exact',
  network: TEST_NETWORK,
  asset: getDefaultAsset(TEST_NETWORK).asset,
  amount: '10000',
  payTo: PAYEE,
  maxTimeoutSeconds: 300,
  extra: { name: 'USDC', version: '2' },
})

/** Starts a claiming payee on 127.0.0.1. */
export async function startClaimingPayee(): Promise<ClaimingPayee> {
  const honest = (): Claims => ({
    accepts: [requirements()],
    resource: undefined,
    answer: 'settle',
  })
  const state = { claims: honest(), received: [] as PaymentPayload[] }
  const app = new Hono()
  app.get('/redirect', (c) => c.redirect('/paid', 302))
  app.get('/paid', (c) => {
    const header = c.req.header('PAYMENT-SIGNATURE')
    if (!header) {
      const { accepts, resource } = state.claims
      const required = { x402Version: 2, resource, accepts }
      c.header('PAYMENT-REQUIRED', encodePaymentRequiredHeader(required as never))
      return c.json({}, 402)
    }
    const payload = decodePaymentSignatureHeader(header)
    state.received.push(payload)
    if (state.claims.answer === 'hang') return new Promise<Response>(() => {})
    const { network, amount } = payload.accepted
    const settlement = { success: true, transaction: '0x1', network, amount }
    c.header('PAYMENT-RESPONSE', encodePaymentResponseHeader(settlement as never))
    return c.json({ ok: true })
  })
  const { server, url } = await listenOnLoopback(app.fetch)
  return {
    url,
    get claims() {
      return state.claims
    },
    set claims(claims) {
      state.claims = claims
    },
    get received() {
      return state.received
    },
    reset() {
      state.claims = honest()
      state.received = []
    },
    close: () => closeServer(server),
  }
}
