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
  /**
   * `settle`: 200 with a settlement of the signed amount; `hang`: never answers; `stream`:
   * the same 200 at once, then its body in `STREAM_CHUNKS` chunks `STREAM_EVERY_MS` apart
   * (a paid stream).
   */
  answer: 'settle' | 'hang' | 'stream'
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

/** A streamed answer's chunks, and the ms between two. */
export const STREAM_CHUNKS = 6
export const STREAM_EVERY_MS = 500

/** The chunks of a streamed answer, one at a time. */
function slowBody(): ReadableStream<Uint8Array> {
  let sent = 0
  return new ReadableStream({
    async pull(controller) {
      await new Promise((resolve) => setTimeout(resolve, STREAM_EVERY_MS))
      controller.enqueue(new TextEncoder().encode(`data: chunk ${sent++}\n\n`))
      if (sent === STREAM_CHUNKS) controller.close()
    },
  })
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
    if (state.claims.answer === 'stream') return c.body(slowBody(), 200)
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
