// Attacks on alert delivery, each against real loopback servers: a webhook used as an
// internal port scanner, aimed at cloud metadata, rebound by DNS after it was set, or used
// to flood one receiver.
import { once } from 'node:events'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { InvalidConfigError } from '../errors.js'
import { createAlertEvent } from './alert-event.js'
import { createWebhookDispatcher, type WebhookOutcome } from './webhook-dispatcher.js'
import {
  assertWebhookTargetAllowed,
  checkWebhookHost,
  isForbiddenAddress,
  REFUSED_TARGET_REASON,
  webhookTargetPolicy,
} from './webhook-target-policy.js'
import type { ResolvedAddress } from './webhook-transport.js'

const SECRET = 'whsec_test_0123456789'
const servers: Server[] = []
afterEach(() => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections()
    server.close()
  }
})

async function receiver(
  hold: (res: import('node:http').ServerResponse, open: () => number) => void = (res) =>
    res.end('ok'),
) {
  let open = 0
  let maxOpen = 0
  let count = 0
  const server = createServer((req, res) => {
    count++
    open++
    maxOpen = Math.max(maxOpen, open)
    res.on('finish', () => open--)
    req.resume()
    req.on('end', () => hold(res, () => open))
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  servers.push(server)
  const { port } = server.address() as AddressInfo
  return {
    port,
    url: `http://127.0.0.1:${port}/hook`,
    get count() {
      return count
    },
    get maxOpen() {
      return maxOpen
    },
  }
}

async function closedPort(): Promise<number> {
  const server = createServer()
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as AddressInfo
  server.close()
  await once(server, 'close')
  return port
}

const event = () =>
  createAlertEvent({ type: 'revoked', agent: 'a', spent: 1, spendingCap: 2, reason: 'test' })

function collect() {
  const outcomes: WebhookOutcome[] = []
  return { outcomes, onOutcome: (outcome: WebhookOutcome) => outcomes.push(outcome) }
}

describe('webhook targets: refused when they reach inside', () => {
  const guarded = webhookTargetPolicy(undefined)

  it('classifies loopback, private, link-local, metadata, unspecified and mapped addresses', () => {
    for (const address of [
      '127.0.0.1',
      '127.255.0.9',
      '10.1.2.3',
      '172.16.0.1',
      '172.31.255.255',
      '192.168.1.1',
      '169.254.169.254',
      '100.100.100.200',
      '0.0.0.0',
      '255.255.255.255',
      '224.0.0.1',
      '::1',
      '::',
      'fc00::1',
      'fd00:ec2::254',
      'fe80::1',
      '::ffff:127.0.0.1',
      '::ffff:7f00:1',
      '::ffff:169.254.169.254',
      '64:ff9b::a9fe:a9fe',
      '[::1]',
      // Every spelling of NAT64 and IPv4-translated addresses (red team rt42b).
      '64:ff9b:0:0:0:0:7f00:1',
      '64:ff9b:0::7f00:1',
      '0064:ff9b::7f00:1',
      '64:ff9b::127.0.0.1',
      '::ffff:0:7f00:1',
      '::ffff:0:a9fe:a9fe',
      '::ffff:0:10.0.0.1',
    ]) {
      expect(isForbiddenAddress(address), address).toBe(true)
    }
    for (const address of [
      '93.184.215.14',
      '172.32.0.1',
      '8.8.8.8',
      '2606:4700::1111',
      '64:ff9b::808:808', // NAT64 of 8.8.8.8: public
      '::ffff:0:808:808',
    ]) {
      expect(isForbiddenAddress(address), address).toBe(false)
    }
  })

  it('refuses such hosts as written, and non-http(s) schemes', () => {
    for (const url of [
      'http://127.0.0.1:8080/x',
      'http://[::1]/x',
      'http://169.254.169.254/latest/meta-data/',
      'http://metadata.google.internal/computeMetadata/v1/',
      'http://localhost:3000/',
      'http://app.localhost/',
      'http://0.0.0.0/',
      'http://2130706433/', // 127.0.0.1 in decimal
      'http://0x7f.1/', // 127.0.0.1 in hex
      'http://[::ffff:127.0.0.1]/',
      'http://10.0.0.5/hook',
      'http://intranet/hook',
    ]) {
      expect(checkWebhookHost(url, guarded), url).toBe(REFUSED_TARGET_REASON)
    }
    expect(checkWebhookHost('file:///etc/passwd', guarded)).toMatch(/http\(s\)/)
    expect(checkWebhookHost('gopher://example.com/', guarded)).toMatch(/http\(s\)/)
    expect(checkWebhookHost('https://hooks.example.com/ks', guarded)).toBeUndefined()
  })

  it('lets the operator opt out: everything, or a list of hosts', () => {
    expect(checkWebhookHost('http://127.0.0.1/', webhookTargetPolicy(true))).toBeUndefined()
    const listed = webhookTargetPolicy(['127.0.0.1', 'Hooks.Corp.Internal.'])
    expect(checkWebhookHost('http://127.0.0.1:9/', listed)).toBeUndefined()
    expect(checkWebhookHost('http://hooks.corp.internal/', listed)).toBeUndefined()
    expect(checkWebhookHost('http://10.0.0.1/', listed)).toBe(REFUSED_TARGET_REASON)
    expect(() => webhookTargetPolicy('yes')).toThrow(InvalidConfigError)
    expect(() => webhookTargetPolicy([''])).toThrow(/allowPrivateWebhooks/)
  })

  it('throws a typed error naming the field, without echoing the URL', () => {
    let caught: unknown
    try {
      assertWebhookTargetAllowed('http://169.254.169.254/?token=s3cr3t-value', guarded)
    } catch (error) {
      caught = error
    }
    expect(caught).toBeInstanceOf(InvalidConfigError)
    expect((caught as InvalidConfigError).field).toBe('webhookUrl')
    expect((caught as Error).message).not.toContain('s3cr3t-value')
  })
})

describe('webhook targets: IPv6 ranges that embed or stand for another address', () => {
  const guarded = webhookTargetPolicy(undefined)
  // 6to4 of 169.254.169.254 and 127.0.0.1, Teredo, documentation, local-use NAT64.
  const tunnels = [
    '2002:a9fe:a9fe::',
    '2002:7f00:1::',
    '2001:0:4136:e378:8000:63bf:3fff:fdd2',
    '2001:db8::1',
    '64:ff9b:1::a9fe:a9fe',
  ]

  it('refuses 6to4, Teredo, documentation and local-use NAT64 addresses when the rule is set', () => {
    for (const address of tunnels) {
      expect(isForbiddenAddress(address), address).toBe(true)
      expect(checkWebhookHost(`http://[${address}]/hook`, guarded), address).toBe(
        REFUSED_TARGET_REASON,
      )
    }
    // Ordinary global unicast stays allowed, next to those ranges too.
    for (const address of ['2001:4860:4860::8888', '2003::1', '64:ff9b:2::1']) {
      expect(isForbiddenAddress(address), address).toBe(false)
    }
  })

  it('refuses a name that resolves to one of them at delivery, before connecting', async () => {
    const { outcomes, onOutcome } = collect()
    // t0.example.com resolves to tunnels[0], and so on (on every attempt).
    const webhooks = createWebhookDispatcher({
      onOutcome,
      maxAttempts: 1,
      resolve: async (host) => [{ address: tunnels[Number(host.slice(1, 2))] ?? '', family: 6 }],
    })
    for (const i of tunnels.keys()) {
      webhooks.dispatch(event(), { url: `http://t${i}.example.com/`, secret: SECRET })
    }
    await webhooks.flush()
    expect(outcomes).toEqual(
      tunnels.map(() =>
        expect.objectContaining({ ok: false, attempts: 0, error: REFUSED_TARGET_REASON }),
      ),
    )
  })
})

describe('webhook delivery: the guard at the connection', () => {
  it('is no port scanner: an open and a closed loopback port get the same one reason', async () => {
    const open = await receiver()
    const closed = await closedPort()
    const { outcomes, onOutcome } = collect()
    const webhooks = createWebhookDispatcher({ onOutcome })
    webhooks.dispatch(event(), { url: open.url, secret: SECRET })
    webhooks.dispatch(event(), { url: `http://127.0.0.1:${closed}/hook`, secret: SECRET })
    webhooks.dispatch(event(), { url: 'http://169.254.169.254/latest', secret: SECRET })
    webhooks.dispatch(event(), { url: `http://[::ffff:127.0.0.1]:${open.port}/`, secret: SECRET })
    await webhooks.flush()
    expect(open.count).toBe(0)
    expect(outcomes).toHaveLength(4)
    for (const outcome of outcomes) {
      expect(outcome).toMatchObject({ ok: false, attempts: 0, error: REFUSED_TARGET_REASON })
      expect(outcome.status).toBeUndefined()
    }
  })

  it('checks the resolved addresses: a name rebound to loopback after setAlert is refused', async () => {
    const target = await receiver()
    const { outcomes, onOutcome } = collect()
    const webhooks = createWebhookDispatcher({
      onOutcome,
      resolve: async () => [{ address: '127.0.0.1', family: 4 }],
    })
    webhooks.dispatch(event(), { url: `http://hooks.example.com:${target.port}/`, secret: SECRET })
    // Any one bad address is enough: the connection could use it.
    const mixed = createWebhookDispatcher({
      onOutcome,
      resolve: async () => [
        { address: '93.184.215.14', family: 4 },
        { address: '10.0.0.7', family: 4 },
      ],
    })
    mixed.dispatch(event(), { url: 'http://hooks.example.com/', secret: SECRET })
    await webhooks.flush()
    await mixed.flush()
    expect(target.count).toBe(0)
    expect(outcomes).toMatchObject([
      { ok: false, attempts: 0, error: REFUSED_TARGET_REASON },
      { ok: false, attempts: 0, error: REFUSED_TARGET_REASON },
    ])
  })

  it('pins the connection to the address it checked: a second answer is never used', async () => {
    const target = await receiver()
    const answers: ResolvedAddress[][] = [
      // The check sees a public address (TEST-NET-3, unroutable)...
      [{ address: '203.0.113.10', family: 4 }],
      // ...and a rebinding resolver would answer loopback to a second lookup.
      [{ address: '127.0.0.1', family: 4 }],
    ]
    let lookups = 0
    const { outcomes, onOutcome } = collect()
    const webhooks = createWebhookDispatcher({
      onOutcome,
      maxAttempts: 1,
      timeoutMs: 300,
      resolve: async () => answers[Math.min(lookups++, 1)] ?? [],
    })
    webhooks.dispatch(event(), { url: `http://hooks.example.com:${target.port}/`, secret: SECRET })
    await webhooks.flush()
    expect(lookups).toBe(1)
    expect(target.count).toBe(0)
    expect(outcomes[0]?.ok).toBe(false)
  })

  it('connects to the resolved address for an allowed host (the answer is the connection)', async () => {
    const target = await receiver()
    const { outcomes, onOutcome } = collect()
    const webhooks = createWebhookDispatcher({
      onOutcome,
      allowPrivateWebhooks: ['receiver.test'],
      resolve: async () => [{ address: '127.0.0.1', family: 4 }],
    })
    webhooks.dispatch(event(), { url: `http://receiver.test:${target.port}/`, secret: SECRET })
    await webhooks.flush()
    expect(target.count).toBe(1)
    expect(outcomes).toMatchObject([{ ok: true, attempts: 1, status: 200 }])
  })

  it('opens at most 4 requests at once to one receiver; the rest queue and all arrive', async () => {
    const pending: Array<() => void> = []
    const target = await receiver((res, open) => {
      pending.push(() => res.end('ok'))
      // Hold the first batch until 4 are open (or a while), then a little longer so any
      // request beyond the limit would have arrived, then answer everything held.
      const answer = () => {
        for (const end of pending.splice(0)) end()
      }
      if (open() >= 4) setTimeout(answer, 50)
      else setTimeout(answer, 500)
    })
    const { outcomes, onOutcome } = collect()
    const webhooks = createWebhookDispatcher({ onOutcome, allowPrivateWebhooks: true })
    for (let i = 0; i < 20; i++) webhooks.dispatch(event(), { url: target.url, secret: SECRET })
    await webhooks.flush()
    expect(target.count).toBe(20)
    expect(target.maxOpen).toBe(4)
    expect(outcomes.filter((outcome) => outcome.ok)).toHaveLength(20)
  })

  it('takes the per-receiver limit as an option, validated', () => {
    expect(() => createWebhookDispatcher({ maxConcurrentPerReceiver: 0 })).toThrow(
      /maxConcurrentPerReceiver/,
    )
  })
})
