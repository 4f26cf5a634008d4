// A paid search API for tests: `GET /search?q=` behind the real `@x402/hono` payment
// middleware, verified and settled by a facilitator over HTTP. Its price, payee and
// behaviour can be changed between requests.
import type { HttpBindings } from '@hono/node-server'
import { HTTPFacilitatorClient } from '@x402/core/server'
import type { Network, PaymentRequirements, Price } from '@x402/core/types'
import { getDefaultAsset } from '@x402/evm'
import { ExactEvmScheme } from '@x402/evm/exact/server'
import { UptoEvmScheme } from '@x402/evm/upto/server'
import { paymentMiddleware, setSettlementOverrides, x402ResourceServer } from '@x402/hono'
import { Hono } from 'hono'
import { closeServer, listenOnLoopback, V1_NETWORK } from './local-facilitator.js'

/** How the paid route behaves on the next requests. Tests flip these between requests. */
export interface PaidRouteBehaviour {
  /** The price of one search: `'$0.01'`, or `{ asset, amount }` in atomic units. */
  price: Price
  /** Who gets paid. */
  payTo: string
  /**
   * `error`: the handler answers 500 (the middleware does not settle). `drop`: the payment
   * is settled, then the connection is cut before the response is written, so the client
   * cannot know.
   */
  handler: 'ok' | 'error' | 'drop'
  /** Runs inside the paid handler, before it answers (to act while a payment is in flight). */
  beforeServe: (() => Promise<void>) | undefined
  /** `GET /summarise` is an `upto` route: this is its maximum... */
  uptoMax: Price
  /** ...and this what it really charges (a settlement override: `'$0.02'`, atomic, `'50%'`). */
  uptoCharge: string
}

/** A running paid server. */
export interface PaidServer {
  /** Base URL; the paid route is `${url}/search?q=...`, `${url}/free` is free. */
  url: string
  route: PaidRouteBehaviour
  /** Searches the handler answered, paid or not. */
  served: number
  close(): Promise<void>
}

/** The test network: Base Sepolia, whose default asset is USDC (6 decimals). */
export const TEST_NETWORK: Network = 'eip155:84532'

/** Starts the paid search API on 127.0.0.1 (a free port), settled through `facilitatorUrl`. */
export async function startPaidServer(options: {
  facilitatorUrl: string
  payTo: string
  price?: Price
}): Promise<PaidServer> {
  const route: PaidRouteBehaviour = {
    price: options.price ?? '$0.01',
    payTo: options.payTo,
    handler: 'ok',
    beforeServe: undefined,
    uptoMax: '$0.05',
    uptoCharge: '$0.02',
  }
  const state = { served: 0 }
  const resourceServer = new x402ResourceServer(
    new HTTPFacilitatorClient({ url: options.facilitatorUrl }),
  )
    .register(TEST_NETWORK, new ExactEvmScheme())
    .register(TEST_NETWORK, new UptoEvmScheme())

  const app = new Hono<{ Bindings: HttpBindings }>()
  // Outermost, so it runs after the payment middleware has settled: the money moved, and
  // the client never hears about it.
  app.use('/search', async (c, next) => {
    await next()
    const paid = c.req.header('PAYMENT-SIGNATURE') !== undefined
    if (paid && route.handler === 'drop') c.env.incoming.socket.destroy()
  })
  app.use(
    paymentMiddleware(
      {
        'GET /search': {
          accepts: {
            scheme: 'exact',
            network: TEST_NETWORK,
            price: () => route.price,
            payTo: () => route.payTo,
          },
          description: 'Web search, one query',
        },
        'GET /summarise': {
          accepts: {
            scheme: 'upto',
            network: TEST_NETWORK,
            price: () => route.uptoMax,
            payTo: () => route.payTo,
          },
          description: 'Summary, charged by length up to a maximum',
        },
      },
      resourceServer,
    ),
  )
  app.get('/search', async (c) => {
    await route.beforeServe?.()
    state.served++
    if (route.handler === 'error') return c.json({ error: 'search backend down' }, 500)
    const q = c.req.query('q') ?? ''
    return c.json({ query: q, results: [`${q}: result 1`, `${q}: result 2`] })
  })
  app.get('/summarise', (c) => {
    setSettlementOverrides(c, { amount: route.uptoCharge })
    return c.json({ summary: 'short' })
  })
  // An x402 v1 route, by hand (x402's v1 middleware is another package): requirements in a
  // JSON body, the payment in X-PAYMENT, the settlement in X-PAYMENT-RESPONSE.
  const facilitator = new HTTPFacilitatorClient({ url: options.facilitatorUrl })
  app.get('/v1/search', async (c) => {
    const requirements = {
      scheme: 'exact',
      network: V1_NETWORK,
      maxAmountRequired: '10000',
      resource: c.req.url,
      description: 'Web search, one query (x402 v1)',
      mimeType: 'application/json',
      outputSchema: {},
      payTo: route.payTo,
      maxTimeoutSeconds: 300,
      asset: getDefaultAsset(TEST_NETWORK).asset,
      extra: { name: 'USDC', version: '2' },
    }
    const header = c.req.header('X-PAYMENT')
    if (!header) return c.json({ x402Version: 1, accepts: [requirements] }, 402)
    const payment = JSON.parse(Buffer.from(header, 'base64').toString('utf8'))
    const v1 = requirements as unknown as PaymentRequirements
    const verified = await facilitator.verify(payment, v1)
    if (!verified.isValid) {
      return c.json({ x402Version: 1, error: verified.invalidReason, accepts: [requirements] }, 402)
    }
    const settled = await facilitator.settle(payment, v1)
    c.header('X-PAYMENT-RESPONSE', Buffer.from(JSON.stringify(settled)).toString('base64'))
    return c.json({ results: ['v1 result'] }, settled.success ? 200 : 402)
  })
  app.get('/free', (c) => c.json({ free: true }))

  const { server, url } = await listenOnLoopback(app.fetch)
  return {
    url,
    route,
    get served() {
      return state.served
    },
    close: () => closeServer(server),
  }
}
