import { once } from 'node:events'
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { createAlertEvent } from './alert-event.js'
import { createWebhookDispatcher, type WebhookOutcome } from './webhook-dispatcher.js'
import { verifyWebhookSignature } from './webhook-signature.js'
import { BODY_DRAIN_MS } from './webhook-transport.js'

interface Received {
  headers: IncomingHttpHeaders
  body: string
  res: ServerResponse
}

/**
 * A real webhook receiver on loopback. `respond` decides per request (index from 0); a
 * request it leaves unanswered stays open until the test answers it (a slow endpoint).
 */
async function startReceiver(
  respond: (request: Received, index: number) => void = ({ res }) => res.end('ok'),
  port = 0,
) {
  const received: Received[] = []
  const waiters: Array<() => void> = []
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      const request = { headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), res }
      received.push(request)
      respond(request, received.length - 1)
      for (const wake of waiters.splice(0)) wake()
    })
  })
  server.listen(port, '127.0.0.1')
  await once(server, 'listening')
  servers.push(server)
  const address = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${address.port}/hook`,
    port: address.port,
    received,
    /** Resolves once `count` requests have arrived. */
    async waitFor(count: number) {
      while (received.length < count) await new Promise<void>((resolve) => waiters.push(resolve))
    },
    async stop() {
      server.closeAllConnections()
      server.close()
      await once(server, 'close')
    },
  }
}

const servers: Server[] = []
afterEach(() => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections()
    server.close()
  }
})

const event = () =>
  createAlertEvent({
    type: 'threshold',
    agent: 'researcher-agent-7',
    spent: 40.5,
    spendingCap: 50,
    thresholdPct: 0.8,
  })

// These receivers listen on loopback: the tests opt in, as an operator would.
const loopback = { allowPrivateWebhooks: ['127.0.0.1'] }
const SECRET = 'whsec_test_0123456789'

function collector() {
  const outcomes: WebhookOutcome[] = []
  return { outcomes, onOutcome: (outcome: WebhookOutcome) => outcomes.push(outcome) }
}

describe('createWebhookDispatcher', () => {
  it('POSTs the event as JSON with a signature the receiver can verify', async () => {
    const receiver = await startReceiver()
    const { outcomes, onOutcome } = collector()
    const webhooks = createWebhookDispatcher({ onOutcome, ...loopback })
    const alert = event()

    webhooks.dispatch(alert, { url: receiver.url, secret: 'whsec_test' })
    await webhooks.flush()

    expect(receiver.received).toHaveLength(1)
    const [request] = receiver.received
    expect(JSON.parse(request?.body ?? '')).toEqual(alert)
    expect(request?.headers['content-type']).toBe('application/json')
    expect(request?.headers['idempotency-key']).toBe(alert.id)
    expect(request?.headers['killswitch-event-type']).toBe('threshold')
    const signature = request?.headers['killswitch-signature'] as string
    expect(verifyWebhookSignature(request?.body ?? '', signature, 'whsec_test')).toBe(true)
    expect(verifyWebhookSignature(request?.body ?? '', signature, 'whsec_wrong')).toBe(false)
    expect(outcomes).toEqual([
      { event: alert, url: receiver.url, ok: true, attempts: 1, status: 200 },
    ])
  })

  it('signs each alert as it is sent, not as it was queued: one that waited for a connection still verifies', async () => {
    // One connection: the second alert waits until the first is answered.
    let answerFirst = () => {}
    const receiver = await startReceiver(({ res }, index) => {
      if (index === 0) answerFirst = () => res.end('ok')
      else res.end('ok')
    })
    const webhooks = createWebhookDispatcher({ ...loopback, maxConcurrentPerReceiver: 1 })
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() })
    try {
      webhooks.dispatch(event(), { url: receiver.url, secret: SECRET })
      webhooks.dispatch(event(), { url: receiver.url, secret: SECRET })
      await receiver.waitFor(1)
      // The first takes ten minutes to answer: the second was queued long before it is sent.
      vi.setSystemTime(Date.now() + 600_000)
      answerFirst()
      await webhooks.flush()
    } finally {
      vi.useRealTimers()
    }
    const now = Math.floor((Date.now() + 600_000) / 1000)
    const second = receiver.received[1]
    const signature = second?.headers['killswitch-signature'] as string
    expect(verifyWebhookSignature(second?.body ?? '', signature, SECRET, { now })).toBe(true)
  })

  it('never sends an alert unsigned: a target without a secret is refused', async () => {
    const receiver = await startReceiver()
    const { outcomes, onOutcome } = collector()
    const webhooks = createWebhookDispatcher({ ...loopback, onOutcome })
    webhooks.dispatch(event(), { url: receiver.url })
    webhooks.dispatch(event(), { url: receiver.url, secret: '' })
    await webhooks.flush()
    expect(receiver.received).toHaveLength(0)
    expect(outcomes).toMatchObject([
      { ok: false, attempts: 0, error: expect.stringMatching(/always signed/) },
      { ok: false, attempts: 0, error: expect.stringMatching(/always signed/) },
    ])
  })

  it('never puts a credential in the body', async () => {
    const receiver = await startReceiver()
    const webhooks = createWebhookDispatcher(loopback)
    webhooks.dispatch(event(), { url: receiver.url, secret: SECRET })
    await webhooks.flush()
    expect(receiver.received[0]?.body).not.toMatch(/ks_/)
  })

  it('retries while the receiver answers 503, with the same event id on every attempt', async () => {
    const receiver = await startReceiver(({ res }, index) => {
      res.statusCode = index < 2 ? 503 : 200
      res.end()
    })
    const { outcomes, onOutcome } = collector()
    const retries: number[] = []
    const webhooks = createWebhookDispatcher({
      ...loopback,
      onOutcome,
      onRetry: (retry) => retries.push(retry.attempt),
      baseDelayMs: 5,
    })
    const alert = event()

    webhooks.dispatch(alert, { url: receiver.url, secret: 'whsec_test' })
    await webhooks.flush()

    expect(receiver.received).toHaveLength(3)
    for (const [index, request] of receiver.received.entries()) {
      // A receiver de-duplicates on the id: it is the same in the header and body each time.
      expect(request.headers['idempotency-key']).toBe(alert.id)
      expect(JSON.parse(request.body).id).toBe(alert.id)
      expect(request.headers['killswitch-delivery-attempt']).toBe(String(index + 1))
      const header = request.headers['killswitch-signature'] as string
      expect(verifyWebhookSignature(request.body, header, 'whsec_test')).toBe(true)
    }
    expect(retries).toEqual([1, 2])
    expect(outcomes).toMatchObject([{ ok: true, attempts: 3, status: 200 }])
  })

  it('retries while the receiver is down, and delivers once it is up', async () => {
    // Take a free port, then free it: connections are refused until the receiver starts.
    const probe = await startReceiver()
    const port = probe.port
    await probe.stop()
    const { outcomes, onOutcome } = collector()
    let receiver: Awaited<ReturnType<typeof startReceiver>> | undefined
    let starting: Promise<void> | undefined
    const errors: string[] = []
    const webhooks = createWebhookDispatcher({
      ...loopback,
      onOutcome,
      baseDelayMs: 20,
      maxDelayMs: 50,
      maxAttempts: 100,
      onRetry: (retry) => {
        errors.push(retry.error)
        starting ??= startReceiver(undefined, port).then((started) => {
          receiver = started
        })
      },
    })
    const alert = event()

    webhooks.dispatch(alert, { url: `http://127.0.0.1:${port}/hook`, secret: SECRET })
    await webhooks.flush()
    await starting

    expect(errors[0]).toMatch(/ECONNREFUSED/)
    expect(outcomes).toHaveLength(1)
    expect(outcomes[0]).toMatchObject({ ok: true, status: 200 })
    expect(outcomes[0]?.attempts).toBeGreaterThanOrEqual(2)
    expect(receiver?.received).toHaveLength(1)
    expect(receiver?.received[0]?.headers['idempotency-key']).toBe(alert.id)
  })

  it('gives up after maxAttempts and reports the failure', async () => {
    const receiver = await startReceiver(({ res }) => {
      res.statusCode = 500
      res.end()
    })
    const { outcomes, onOutcome } = collector()
    const webhooks = createWebhookDispatcher({
      ...loopback,
      onOutcome,
      maxAttempts: 3,
      baseDelayMs: 1,
    })
    webhooks.dispatch(event(), { url: receiver.url, secret: SECRET })
    await webhooks.flush()
    expect(receiver.received).toHaveLength(3)
    expect(outcomes).toMatchObject([{ ok: false, attempts: 3, status: 500, error: 'HTTP 500' }])
  })

  it('does not retry a permanent refusal (4xx) or follow a redirect', async () => {
    const refusing = await startReceiver(({ res }) => {
      res.statusCode = 401
      res.end()
    })
    const redirecting = await startReceiver(({ res }) => {
      res.writeHead(302, { location: refusing.url }).end()
    })
    const { outcomes, onOutcome } = collector()
    const webhooks = createWebhookDispatcher({ ...loopback, onOutcome, baseDelayMs: 1 })
    webhooks.dispatch(event(), { url: refusing.url, secret: SECRET })
    webhooks.dispatch(event(), { url: redirecting.url, secret: SECRET })
    await webhooks.flush()
    expect(refusing.received).toHaveLength(1)
    expect(redirecting.received).toHaveLength(1)
    const byUrl = Object.fromEntries(outcomes.map((o) => [o.url, o]))
    expect(byUrl[refusing.url]).toMatchObject({ ok: false, attempts: 1, status: 401 })
    expect(byUrl[redirecting.url]).toMatchObject({ ok: false, attempts: 1, status: 302 })
    expect(byUrl[redirecting.url]?.error).toMatch(/redirects are not followed/)
  })

  it('returns from dispatch before a slow receiver answers; flush waits for it', async () => {
    const receiver = await startReceiver(() => {
      // Leave the request open: the test answers it below.
    })
    const { outcomes, onOutcome } = collector()
    const webhooks = createWebhookDispatcher({ onOutcome, ...loopback })
    const order: string[] = []

    const returned = webhooks.dispatch(event(), { url: receiver.url, secret: SECRET })
    order.push('dispatch returned')
    expect(returned).toBeUndefined()
    await receiver.waitFor(1)
    order.push('receiver got it')
    expect(outcomes).toHaveLength(0)
    expect(webhooks.pending).toBe(1)

    const flushed = webhooks.flush().then(() => order.push('flushed'))
    // Let the event loop turn a few times: flush must still be waiting on the open request.
    await new Promise((resolve) => setImmediate(resolve))
    order.push('answering')
    receiver.received[0]?.res.end('ok')
    await flushed

    expect(order).toEqual(['dispatch returned', 'receiver got it', 'answering', 'flushed'])
    expect(outcomes).toMatchObject([{ ok: true, attempts: 1 }])
    expect(webhooks.pending).toBe(0)
  })

  it('times out a hung request and retries it', async () => {
    const receiver = await startReceiver(({ res }, index) => {
      if (index > 0) res.end('ok') // the first request hangs for good
    })
    const { outcomes, onOutcome } = collector()
    const errors: string[] = []
    const webhooks = createWebhookDispatcher({
      ...loopback,
      onOutcome,
      timeoutMs: 100,
      baseDelayMs: 1,
      onRetry: (retry) => errors.push(retry.error),
    })
    webhooks.dispatch(event(), { url: receiver.url, secret: SECRET })
    await webhooks.flush()
    expect(errors).toEqual(['timed out after 100 ms'])
    expect(outcomes).toMatchObject([{ ok: true, attempts: 2 }])
  })

  it('takes a 2xx status line as the acknowledgement: a body that trickles is not a timeout, and is cut off', async () => {
    let cut: Promise<unknown> | undefined
    // Verified and answered 200 at once, then a body that never ends.
    const receiver = await startReceiver(({ res }) => {
      res.writeHead(200, { 'content-type': 'text/plain' })
      res.write('accepted, still writing')
      cut = once(res, 'close')
    })
    const { outcomes, onOutcome } = collector()
    // The old transport waited for the body's end: a timeout, then retries of an acked event.
    const webhooks = createWebhookDispatcher({
      ...loopback,
      onOutcome,
      timeoutMs: 2_000,
      maxAttempts: 1,
    })
    const started = Date.now()
    webhooks.dispatch(event(), { url: receiver.url, secret: SECRET })
    await webhooks.flush()
    expect(outcomes).toMatchObject([{ ok: true, attempts: 1, status: 200 }])
    expect(receiver.received).toHaveLength(1)
    // Acknowledged on the status line, not at the end of the request's 2 s timeout...
    expect(Date.now() - started).toBeLessThan(1_000)
    // ...and the trickle is dropped under its own bound, not left open.
    await cut
    expect(Date.now() - started).toBeLessThan(BODY_DRAIN_MS + 500)
  })

  it('reports, without sending, an invalid URL or a dispatch after close', async () => {
    const receiver = await startReceiver()
    const { outcomes, onOutcome } = collector()
    const webhooks = createWebhookDispatcher({ onOutcome, ...loopback })
    webhooks.dispatch(event(), { url: 'file:///etc/passwd' })
    await webhooks.close()
    webhooks.dispatch(event(), { url: receiver.url, secret: SECRET })
    await webhooks.flush()
    expect(receiver.received).toHaveLength(0)
    expect(outcomes).toMatchObject([
      { ok: false, attempts: 0, error: expect.stringMatching(/not an absolute http\(s\) URL/) },
      { ok: false, attempts: 0, error: expect.stringMatching(/closed/) },
    ])
  })

  it('survives an onOutcome observer that throws', async () => {
    const receiver = await startReceiver()
    const webhooks = createWebhookDispatcher({
      ...loopback,
      onOutcome: () => {
        throw new Error('observer bug')
      },
    })
    webhooks.dispatch(event(), { url: receiver.url, secret: SECRET })
    webhooks.dispatch(event(), { url: receiver.url, secret: SECRET })
    await webhooks.flush()
    expect(receiver.received).toHaveLength(2)
  })
})

describe('a delivery error never shows a secret host', () => {
  it("masks the host a DNS error names when the host is the receiver's secret", async () => {
    const outcomes: WebhookOutcome[] = []
    const webhooks = createWebhookDispatcher({
      maxAttempts: 1,
      resolve: async (hostname) => {
        throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), {
          code: 'ENOTFOUND',
        })
      },
      onOutcome: (outcome) => outcomes.push(outcome),
    })
    webhooks.dispatch(event(), { url: 'https://eo1a2b3c4d5e6f7.m.pipedream.net', secret: SECRET })
    await webhooks.close()
    expect(outcomes).toHaveLength(1)
    expect(outcomes[0]?.ok).toBe(false)
    expect(outcomes[0]?.error).toContain('***.m.pipedream.net')
    expect(outcomes[0]?.error).not.toContain('eo1a2b3c4d5e6f7')
  })
})

// Red team rt42b: 24 alerts to a receiver that never answered held close() for 150 s, past
// any shutdown's grace period, and the outcomes were never written.
describe('close() with a receiver that never answers', () => {
  it('gives up after closeTimeoutMs, reporting every delivery still under way as abandoned', async () => {
    const receiver = await startReceiver(() => {
      // never answered
    })
    const { outcomes, onOutcome } = collector()
    const webhooks = createWebhookDispatcher({
      onOutcome,
      ...loopback,
      timeoutMs: 5_000,
      maxAttempts: 5,
      closeTimeoutMs: 300,
    })
    // More than the receiver's 4 slots: some wait for a connection, none will get one.
    for (let i = 0; i < 10; i++) webhooks.dispatch(event(), { url: receiver.url, secret: SECRET })
    await receiver.waitFor(4)

    const started = performance.now()
    await webhooks.close()
    const tookMs = performance.now() - started

    expect(tookMs).toBeGreaterThanOrEqual(250)
    expect(tookMs).toBeLessThan(4_000)
    expect(outcomes).toHaveLength(10)
    for (const outcome of outcomes) {
      expect(outcome.ok).toBe(false)
      expect(outcome.error).toMatch(/^abandoned after [01] attempt\(s\): the kill switch closed/)
    }
    expect(webhooks.pending).toBe(0)
  })

  it('refuses a closeTimeoutMs that is not a whole number of milliseconds, naming it', () => {
    expect(() => createWebhookDispatcher({ closeTimeoutMs: -1 })).toThrow(/closeTimeoutMs/)
  })
})
