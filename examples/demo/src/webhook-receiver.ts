// A local alert receiver, standing in for your on-call webhook (Slack, PagerDuty, an
// incident bot). It does what a real one must: verify the `Killswitch-Signature` header
// against the raw body before trusting anything in it.
import { createServer, type IncomingMessage } from 'node:http'
import type { AddressInfo } from 'node:net'
import { type AlertEvent, formatUsd, verifyWebhookSignature } from '@killswitch/core'
import type { Timeline } from './timeline.ts'

/** One webhook as it arrived. */
export interface ReceivedWebhook {
  event: AlertEvent
  /** The signature matched the raw body and the shared secret. */
  signatureValid: boolean
  /** Milliseconds since the demo started (the timeline's clock). */
  atMs: number
}

/** The running receiver. */
export interface WebhookReceiver {
  url: string
  readonly received: readonly ReceivedWebhook[]
  /** Resolves once webhooks of all these types arrived, or after `timeoutMs` regardless. */
  waitFor(types: readonly AlertEvent['type'][], timeoutMs: number): Promise<void>
  close(): Promise<void>
}

function readBody(request: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    request.on('data', (chunk: Buffer) => chunks.push(chunk))
    request.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')))
    request.on('error', reject)
  })
}

function describe(event: AlertEvent): string {
  const what =
    event.type === 'threshold'
      ? `${Math.round((event.thresholdPct ?? 0) * 100)}% threshold alert`
      : event.type === 'runaway'
        ? `runaway alert (${event.detector})`
        : 'revoked alert'
  return `${what} for ${event.agent} at ${formatUsd(event.spent)} of ${formatUsd(event.spendingCap)}`
}

/**
 * Starts the receiver on 127.0.0.1 (a free port) and logs each webhook on the timeline.
 *
 * @example
 * const receiver = await startWebhookReceiver({ secret, timeline })
 * await ks.agents.setAlert(handle, { thresholdPct: 0.8, webhookUrl: receiver.url, secret })
 */
export async function startWebhookReceiver(options: {
  secret: string
  timeline: Timeline
}): Promise<WebhookReceiver> {
  const { secret, timeline } = options
  const received: ReceivedWebhook[] = []
  const waiters = new Set<() => void>()

  const server = createServer(async (request, response) => {
    const raw = await readBody(request)
    // Verify first, on the bytes received: re-serialised JSON would not match.
    const signatureValid = verifyWebhookSignature(
      raw,
      request.headers['killswitch-signature'] as string | undefined,
      secret,
    )
    if (!signatureValid) {
      timeline.line('webhook', 'REJECTED a webhook with a bad signature', 'stop')
      response.writeHead(400).end('bad signature')
      return
    }
    const event = JSON.parse(raw) as AlertEvent
    // Retries carry the same id: count each event once.
    if (!received.some((seen) => seen.event.id === event.id)) {
      const entry = timeline.line('webhook', `${describe(event)}, signature verified`, 'alert')
      received.push({ event, signatureValid, atMs: entry.atMs })
      for (const wake of waiters) wake()
    }
    response.writeHead(204).end()
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo

  return {
    url: `http://127.0.0.1:${port}/hooks/killswitch`,
    received,
    async waitFor(types, timeoutMs) {
      const done = () => types.every((type) => received.some((seen) => seen.event.type === type))
      if (done()) return
      await new Promise<void>((resolve) => {
        const finish = () => {
          clearTimeout(timer)
          waiters.delete(check)
          resolve()
        }
        const check = () => {
          if (done()) finish()
        }
        const timer = setTimeout(finish, timeoutMs)
        waiters.add(check)
      })
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections()
        server.close((error) => (error ? reject(error) : resolve()))
      }),
  }
}
