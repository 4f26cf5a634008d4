// Attacks on the admin API from the operator's own browser (a cross-site POST, a DNS-rebound
// page) and credentials echoed back in replies or the access log. Real HTTP on loopback,
// with raw node:http requests so that Host and Origin are exactly what an attacker sends.
import { request } from 'node:http'
import { createKillSwitch, type KillSwitch, memoryStore } from '@killswitch/core'
import { afterEach, describe, expect, it } from 'vitest'
import { type AdminServer, startAdminServer } from './admin-server.js'

const TOKEN = 'admin-token-0123456789abcdef'

let ks: KillSwitch
let server: AdminServer | undefined
let log: string[]

async function start(options: { token?: string; allowedHosts?: string[] } = {}) {
  ks = createKillSwitch({ store: memoryStore() })
  log = []
  server = await startAdminServer({
    killSwitch: ks,
    port: 0,
    ...(options.token ? { token: options.token } : { insecureNoAuth: true }),
    ...(options.allowedHosts ? { allowedHosts: options.allowedHosts } : {}),
    log: (line) => log.push(line),
  })
  return server
}

afterEach(async () => {
  await server?.close()
  server = undefined
  await ks?.close()
})

/** One raw request: every header as given (fetch would set Host and Origin itself). */
function send(
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: string,
): Promise<{
  status: number
  json: { error?: { code: string; message: string } } & Record<string, unknown>
}> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port: server?.port, method, path, headers, setHost: false },
      (res) => {
        let text = ''
        res.on('data', (chunk) => {
          text += chunk
        })
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, json: text ? JSON.parse(text) : {} }),
        )
      },
    )
    req.on('error', reject)
    req.end(body)
  })
}

const host = () => ({ host: `127.0.0.1:${server?.port}` })

describe('admin API: CSRF and DNS rebinding, whatever the auth mode', () => {
  it('refuses a cross-site POST with an empty body (no auth): the agent stays active', async () => {
    await start()
    await ks.agents.create({ handle: 'victim', spendingCap: 5 })
    const attacks: Array<Record<string, string>> = [
      { origin: 'https://evil.example' },
      { origin: 'null' },
      { 'sec-fetch-site': 'cross-site' },
      { origin: `http://127.0.0.1:${server?.port}`, 'sec-fetch-site': 'cross-site' },
      { origin: 'http://127.0.0.1:1' },
    ]
    for (const headers of attacks) {
      const response = await send('POST', '/v1/agents/victim/revoke', {
        ...host(),
        'content-type': 'text/plain',
        ...headers,
      })
      expect(response.status, JSON.stringify(headers)).toBe(403)
      expect(response.json.error?.code).toBe('forbidden')
    }
    expect((await ks.agents.get('victim')).status).toBe('active')
    // The same request from the same origin, or from a client with no Origin, goes through.
    const same = await send('POST', '/v1/agents/victim/revoke', {
      ...host(),
      origin: `http://127.0.0.1:${server?.port}`,
      'sec-fetch-site': 'same-origin',
    })
    expect(same.status).toBe(200)
    expect((await ks.agents.get('victim')).status).toBe('revoked')
  })

  it('refuses a DNS-rebound request (Host: evil.example): no credential is minted', async () => {
    await start()
    const body = JSON.stringify({ handle: 'minted', spendingCap: 1000 })
    for (const badHost of [
      'evil.example',
      'evil.example:80',
      `attacker.test:${server?.port}`,
      '',
    ]) {
      const response = await send(
        'POST',
        '/v1/agents',
        { host: badHost, 'content-type': 'application/json' },
        body,
      )
      expect(response.status, badHost).toBe(403)
      expect(JSON.stringify(response.json)).not.toMatch(/ks_/)
    }
    // Reads too: a rebound page cannot list agents.
    expect((await send('GET', '/v1/agents', { host: 'evil.example' })).status).toBe(403)
    expect(await ks.agents.list()).toEqual([])
    // Loopback names and configured hosts are fine.
    for (const goodHost of [`localhost:${server?.port}`, `[::1]:${server?.port}`, host().host]) {
      expect((await send('GET', '/v1/agents', { host: goodHost })).status, goodHost).toBe(200)
    }
  })

  it('applies the same checks with a token, and accepts a configured --allowed-host', async () => {
    await start({ token: TOKEN, allowedHosts: ['killswitch.corp.example'] })
    const auth = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }
    const body = JSON.stringify({ handle: 'a', spendingCap: 1 })
    expect((await send('POST', '/v1/agents', { ...auth, host: 'evil.example' }, body)).status).toBe(
      403,
    )
    expect(
      (
        await send(
          'POST',
          '/v1/agents',
          { ...auth, ...host(), origin: 'https://evil.example' },
          body,
        )
      ).status,
    ).toBe(403)
    const allowed = await send(
      'POST',
      '/v1/agents',
      { ...auth, host: 'killswitch.corp.example:8787' },
      body,
    )
    expect(allowed.status).toBe(201)
    expect((await send('GET', '/healthz', { host: 'evil.example' })).status).toBe(200)
  })
})

describe('admin API: credentials never echoed', () => {
  it('redacts a credential pasted in a path from the reply and the access log', async () => {
    await start({ token: TOKEN })
    const auth = { authorization: `Bearer ${TOKEN}`, ...host() }
    const created = await send(
      'POST',
      '/v1/agents',
      { ...auth, 'content-type': 'application/json' },
      JSON.stringify({ handle: 'alpha', spendingCap: 5 }),
    )
    const credential = created.json.credential as string
    expect(credential).toMatch(/^ks_/)
    for (const path of [
      `/v1/agents/${credential}`,
      `/v1/agents/${credential}/audit`,
      `/v1/nothing/${credential}`,
      // Pasted without its prefix: the handle not found is not echoed either.
      `/v1/agents/${credential.slice(3)}`,
    ]) {
      const response = await send('GET', path, auth)
      expect(response.status).toBeGreaterThanOrEqual(400)
      expect(JSON.stringify(response.json)).not.toContain(credential.slice(3))
    }
    const patched = await send(
      'PATCH',
      `/v1/agents/${credential}`,
      { ...auth, 'content-type': 'application/json' },
      JSON.stringify({ spendingCap: 1 }),
    )
    expect(JSON.stringify(patched.json)).not.toContain(credential.slice(3))
    expect(log.length).toBeGreaterThan(3)
    expect(log.join('\n')).not.toContain(credential.slice(3))
    expect(log.join('\n')).toContain('ks_[redacted]')
  })

  it('logs the path as sent: percent-encoded newlines and escapes cannot forge lines', async () => {
    await start({ token: TOKEN })
    const forged = '/healthz 200 0.1ms\nPOST /v1/agents/prod/revoke 200 1.4ms\nGET /x'
    await send('GET', encodeURI(forged), host())
    await send('GET', '/x%1b]52;c;cm0gLXJmIH4K%07%1b[2K%0d%0aPOST%20/v1/agents/prod/revoke', host())
    await send('POST', '/v1/agents/x%1b%5b31m%E2%80%AE/revoke', host())
    expect(log).toHaveLength(3)
    // biome-ignore lint/suspicious/noControlCharactersInRegex: no control character may pass
    for (const line of log) expect(line).not.toMatch(/[\u0000-\u001f\u007f-\u009f\u202e]/)
    expect(log[0]).toMatch(
      /^GET \/healthz%20200%200\.1ms%0APOST%20\/v1\/agents\/prod\/revoke%20200%201\.4ms%0AGET%20\/x 404 /,
    )
    expect(log[1]).toMatch(
      /^GET \/x%1b]52;c;cm0gLXJmIH4K%07%1b\[2K%0d%0aPOST%20\/v1\/agents\/prod\/revoke 404 /,
    )
    expect(log[2]).toMatch(/^POST \/v1\/agents\/x%1b%5b31m%E2%80%AE\/revoke 401 /)
  })

  it('redacts a credential hidden by percent-encoding from the access log', async () => {
    await start({ token: TOKEN })
    const auth = { authorization: `Bearer ${TOKEN}`, ...host() }
    const created = await send(
      'POST',
      '/v1/agents',
      { ...auth, 'content-type': 'application/json' },
      JSON.stringify({ handle: 'alpha', spendingCap: 5 }),
    )
    const credential = created.json.credential as string
    const hidden = `%${credential.charCodeAt(0).toString(16)}${credential.slice(1)}`
    await send('GET', `/v1/agents/${hidden}`, auth)
    expect(log.join('\n')).not.toContain(credential.slice(3))
    expect(log.at(-1)).toMatch(/^GET \/v1\/agents\/ks_\[redacted\]/)
  })

  it("redacts this server's own tokens pasted in a path from the access log", async () => {
    await start({ token: TOKEN })
    await send('GET', `/nothing/${TOKEN}`, host())
    await send('GET', `/v1/agents/${encodeURIComponent(TOKEN).replace('a', '%61')}`, host())
    // With a credential beside it, written as is: the hidden token is still found.
    await send('GET', `/v1/ks_${'A'.repeat(43)}/${TOKEN.replace('a', '%61')}`, host())
    expect(log).toHaveLength(3)
    expect(log.join('\n')).not.toContain(TOKEN.slice(12))
    expect(log[0]).toMatch(/^GET \/nothing\/\[redacted\] 404 /)
  })

  // Red team rt40: the access log redacted it, but the 404 answer echoed it whole.
  it("never echoes this server's own tokens pasted in a path in an answer", async () => {
    await start({ token: TOKEN })
    const auth = { authorization: `Bearer ${TOKEN}`, ...host() }
    for (const path of [
      `/v1/agents/${TOKEN}/audit`,
      `/v1/agents/${encodeURIComponent(TOKEN).replace('a', '%61')}`,
      `/v1/nothing/${TOKEN}`,
    ]) {
      const response = await send('GET', path, auth)
      expect(response.status).toBe(404)
      expect(JSON.stringify(response.json)).not.toContain(TOKEN.slice(12))
      expect(JSON.stringify(response.json)).toContain('[redacted]')
    }
  })

  it('refuses an introspection token that is the admin token, naming it', async () => {
    ks = createKillSwitch({ store: memoryStore() })
    await expect(
      startAdminServer({ killSwitch: ks, port: 0, token: TOKEN, introspectionToken: TOKEN }),
    ).rejects.toMatchObject({ code: 'invalid_config', field: 'introspectionToken' })
  })

  it('masks webhook URL secrets and returns a generated signing secret once', async () => {
    await start({ token: TOKEN })
    const auth = { authorization: `Bearer ${TOKEN}`, ...host(), 'content-type': 'application/json' }
    await send('POST', '/v1/agents', auth, JSON.stringify({ handle: 'alpha', spendingCap: 5 }))
    const set = await send(
      'POST',
      '/v1/agents/alpha/alerts',
      auth,
      JSON.stringify({
        thresholdPct: 0.5,
        webhookUrl: 'https://hooks.example.com/ks?token=s3cr3tvalue',
      }),
    )
    expect(set.status).toBe(200)
    const secrets = set.json.webhookSecrets as Array<{ secret: string }>
    expect(secrets[0]?.secret).toMatch(/^whsec_/)
    const later = [
      await send('GET', '/v1/agents/alpha', auth),
      await send('GET', '/v1/agents', auth),
    ]
    for (const view of [set, ...later])
      expect(JSON.stringify(view.json)).not.toContain('s3cr3tvalue')
    for (const view of later) expect(JSON.stringify(view.json)).not.toContain(secrets[0]?.secret)
    const refused = await send(
      'POST',
      '/v1/agents/alpha/alerts',
      auth,
      JSON.stringify({ thresholdPct: 0.5, webhookUrl: 'http://169.254.169.254/latest' }),
    )
    expect(refused.status).toBe(400)
    expect(refused.json.error?.code).toBe('invalid_config')
  })
})
