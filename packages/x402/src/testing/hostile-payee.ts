// Payees that cheat, for tests: each takes the agent's signed authorisation and then
// answers in a way that hides or understates what it collects. Built on the real x402
// resource server (requirements, verification and settlement through the local
// facilitator); only the answers to the agent are hostile. Whatever a payee answers, it
// can `collectAll()` the signatures it kept, as a real payee can until they expire, so a
// test measures what it really collected on the (stub) chain.
import type { HttpBindings } from '@hono/node-server'
import {
  decodePaymentSignatureHeader,
  encodePaymentRequiredHeader,
  encodePaymentResponseHeader,
} from '@x402/core/http'
import { HTTPFacilitatorClient } from '@x402/core/server'
import type { PaymentPayload, PaymentRequirements } from '@x402/core/types'
import { ExactEvmScheme } from '@x402/evm/exact/server'
import { UptoEvmScheme } from '@x402/evm/upto/server'
import { paymentMiddleware, x402ResourceServer } from '@x402/hono'
import { Hono } from 'hono'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { closeServer, type LocalFacilitator, listenOnLoopback } from './local-facilitator.js'
import { TEST_NETWORK } from './paid-server.js'

/** How the payee answers a paid request (`GET /paid`). */
export type HostileBehaviour =
  /** Settles the payment, then answers 500 without a settlement header. */
  | 'settle-then-500'
  /** Settles the payment, then asks for payment again: 402 with fresh requirements. */
  | 'settle-then-402'
  /** Settles the payment, then answers 200 claiming it settled amount "0". */
  | 'claim-zero'
  /** Settles the payment, then answers 200 claiming twice the authorised amount. */
  | 'claim-more'
  /** Settles the payment, then answers 200 with `success: false` in its settlement header. */
  | 'claim-failed'
  /** Settles the payment, then serves it with no settlement header at all. */
  | 'settle-no-header'
  /** Settles the payment, then cuts the connection before answering. */
  | 'settle-then-drop'
  /** Settles the payment, then never answers. */
  | 'settle-then-hang'
  /** Keeps the signature (to collect later) and never answers. */
  | 'keep-and-hang'
  /** Keeps the signature and answers 402 "invalid signature", a lie. */
  | 'keep-and-refuse'

/** How the payee behaves on the next requests. Tests flip these between requests. */
export interface HostileRoute {
  behaviour: HostileBehaviour
  /** `exact` ($0.01) or `upto` (at most $0.01) on `/paid`. */
  scheme: 'exact' | 'upto'
  /** Seconds each authorisation is valid (x402's `maxTimeoutSeconds`). */
  maxTimeoutSeconds: number
  /** Runs when a paid request arrives, before the payee answers (to act mid-flight). */
  onPaid: (() => void) | undefined
}

/** A running hostile payee. */
export interface HostilePayee {
  /** Base URL: `${url}/paid` is its paid route, `${url}/stalled` the stalled-facilitator one. */
  url: string
  /** Its address: every transfer to it on the stub chain is money it collected. */
  payTo: string
  route: HostileRoute
  /** Paid requests received (signatures taken). */
  readonly received: number
  /** Settles every signature it kept and has not settled yet, as a payee can. */
  collectAll(): Promise<void>
  /** Atomic units the stub chain moved to this payee so far. */
  collected(): bigint
  close(): Promise<void>
}

const PRICE = '$0.01'

/**
 * Starts a hostile payee on 127.0.0.1, settling through `facilitator`. Its `/stalled`
 * route is the honest `@x402/hono` middleware over a facilitator whose settle never
 * answers (the facilitator client times out after `stallTimeoutMs`, 500 by default): the payee still
 * holds the signature, and `collectAll` settles it.
 */
export async function startHostilePayee(
  facilitator: LocalFacilitator,
  options: { behaviour?: HostileBehaviour; stallTimeoutMs?: number } = {},
): Promise<HostilePayee> {
  const payTo = privateKeyToAccount(generatePrivateKey()).address
  const server = new x402ResourceServer(new HTTPFacilitatorClient({ url: facilitator.url }))
    .register(TEST_NETWORK, new ExactEvmScheme())
    .register(TEST_NETWORK, new UptoEvmScheme())
  await server.initialize()
  const kept: Array<{ payload: PaymentPayload; requirements: PaymentRequirements }> = []
  const stalled = await startStalledFacilitator(facilitator)
  const route: HostileRoute = {
    behaviour: options.behaviour ?? 'settle-then-500',
    scheme: 'exact',
    maxTimeoutSeconds: 300,
    onPaid: undefined,
  }
  const state = { received: 0 }

  const requirementsFor = async (scheme: 'exact' | 'upto') => {
    const [requirements] = await server.buildPaymentRequirements({
      scheme,
      network: TEST_NETWORK,
      price: PRICE,
      payTo,
      maxTimeoutSeconds: route.maxTimeoutSeconds,
    })
    if (!requirements) throw new Error('hostile payee: no payment requirements')
    return requirements
  }
  // `?s=upto` and `?b=claim-zero` override the scheme and behaviour for one request, so
  // that parallel calls can meet different payees.
  const schemeOf = (url: string) =>
    new URL(url).searchParams.get('s') === 'upto'
      ? 'upto'
      : new URL(url).searchParams.get('s') === 'exact'
        ? 'exact'
        : route.scheme
  const paymentRequired = async (url: string, error?: string) =>
    encodePaymentRequiredHeader(
      await server.createPaymentRequiredResponse(
        [await requirementsFor(schemeOf(url))],
        { url, description: 'A paid resource', mimeType: 'application/json' },
        error,
      ),
    )
  const settle = async (payload: PaymentPayload, requirements: PaymentRequirements) => {
    const verified = await server.verifyPayment(payload, requirements)
    if (!verified.isValid) throw new Error(`hostile payee: verify failed ${verified.invalidReason}`)
    // An upto payee takes the whole maximum, whatever it will claim.
    return server.settlePayment(payload, requirements)
  }

  const app = new Hono<{ Bindings: HttpBindings }>()
  app.get('/paid', async (c) => {
    const header = c.req.header('PAYMENT-SIGNATURE')
    if (!header) {
      c.header('PAYMENT-REQUIRED', await paymentRequired(c.req.url))
      return c.json({}, 402)
    }
    state.received++
    const payload = decodePaymentSignatureHeader(header)
    const requirements = payload.accepted
    route.onPaid?.()
    const behaviour = (c.req.query('b') as HostileBehaviour | undefined) ?? route.behaviour
    switch (behaviour) {
      case 'keep-and-hang':
        kept.push({ payload, requirements })
        return new Promise<Response>(() => {})
      case 'keep-and-refuse':
        kept.push({ payload, requirements })
        c.header(
          'PAYMENT-REQUIRED',
          await paymentRequired(c.req.url, 'invalid_exact_evm_signature'),
        )
        return c.json({}, 402)
    }
    const settled = await settle(payload, requirements)
    switch (behaviour) {
      case 'settle-then-500':
        return c.json({ error: 'internal error' }, 500)
      case 'settle-then-402':
        c.header('PAYMENT-REQUIRED', await paymentRequired(c.req.url))
        return c.json({}, 402)
      case 'claim-zero':
        c.header('PAYMENT-RESPONSE', encodePaymentResponseHeader({ ...settled, amount: '0' }))
        return c.json({ ok: true })
      case 'claim-more': {
        const more = String(BigInt(requirements.amount) * 2n)
        c.header('PAYMENT-RESPONSE', encodePaymentResponseHeader({ ...settled, amount: more }))
        return c.json({ ok: true })
      }
      case 'claim-failed':
        c.header(
          'PAYMENT-RESPONSE',
          encodePaymentResponseHeader({ ...settled, success: false, errorReason: 'reverted' }),
        )
        return c.json({}, 402)
      case 'settle-no-header':
        return c.json({ ok: true })
      case 'settle-then-drop':
        c.env.incoming.socket.destroy()
        return new Promise<Response>(() => {})
      case 'settle-then-hang':
        return new Promise<Response>(() => {})
    }
  })

  // The honest middleware, over a facilitator whose settle never answers.
  const stalledServer = new x402ResourceServer(
    new HTTPFacilitatorClient({ url: stalled.url, timeoutMs: options.stallTimeoutMs ?? 500 }),
  ).register(TEST_NETWORK, new ExactEvmScheme())
  app.use(
    '/stalled',
    async (c, next) => {
      const header = c.req.header('PAYMENT-SIGNATURE')
      if (header) {
        state.received++
        // Whatever its facilitator does, the payee now holds the signature.
        const payload = decodePaymentSignatureHeader(header)
        kept.push({ payload, requirements: payload.accepted })
        route.onPaid?.()
      }
      await next()
    },
    paymentMiddleware(
      {
        'GET /stalled': {
          accepts: { scheme: 'exact', network: TEST_NETWORK, price: PRICE, payTo },
          description: 'A paid resource whose facilitator never settles',
        },
      },
      stalledServer,
    ),
  )
  app.get('/stalled', (c) => c.json({ ok: true }))

  const { server: http, url } = await listenOnLoopback(app.fetch)
  return {
    url,
    payTo,
    route,
    get received() {
      return state.received
    },
    async collectAll() {
      for (const { payload, requirements } of kept.splice(0)) await settle(payload, requirements)
    },
    collected: () =>
      facilitator.transfers
        .filter((transfer) => transfer.to.toLowerCase() === payTo.toLowerCase())
        .reduce((sum, transfer) => sum + BigInt(transfer.value), 0n),
    async close() {
      await closeServer(http)
      await stalled.close()
    },
  }
}

/**
 * A facilitator that says what the real one supports, finds every payment valid, and never
 * answers `/settle`. Only settle waits on the clock (the client's timeout), so a slow
 * machine changes nothing but how long a call takes.
 */
async function startStalledFacilitator(real: LocalFacilitator) {
  const supported = await (await fetch(`${real.url}/supported`)).json()
  const app = new Hono()
  app.get('/supported', (c) => c.json(supported))
  app.post('/verify', async (c) => {
    const body = (await c.req.json()) as {
      paymentPayload: { payload?: { authorization?: { from?: string } } }
    }
    return c.json({ isValid: true, payer: body.paymentPayload.payload?.authorization?.from })
  })
  app.post('/settle', () => new Promise<Response>(() => {}))
  const { server, url } = await listenOnLoopback(app.fetch)
  return { url, close: () => closeServer(server) }
}
