import type { AddressInfo } from 'node:net'
import { serve } from '@hono/node-server'
import { StoreUnavailableError } from '@killswitch/core'
import { RequestContext } from '@mastra/core/request-context'
import { Hono } from 'hono'
import { afterEach, describe, expect, it } from 'vitest'
import { killSwitchWithAgent } from '../test/mock-agent.js'
import {
  AGENT_HANDLE_KEY,
  type CredentialVerifier,
  credentialFromHeaders,
  killSwitchServerMiddleware,
} from './server-middleware.js'

type ErrorBody = { error: { code: string; message: string } }
const errorBody = async (response: Response) => (await response.json()) as ErrorBody

const closers: Array<() => Promise<void>> = []
afterEach(async () => {
  await Promise.all(closers.splice(0).map((close) => close()))
})

/** A Hono app shaped like Mastra's server (a request context per request), on loopback. */
async function startServer(killSwitch: CredentialVerifier, options: { required?: boolean } = {}) {
  const app = new Hono<{ Variables: { requestContext: RequestContext } }>()
  app.use('*', async (c, next) => {
    c.set('requestContext', new RequestContext())
    await next()
  })
  app.use('*', killSwitchServerMiddleware({ killSwitch, ...options }))
  app.post('/api/agents/researcher/generate', (c) => {
    return c.json({ ok: true, handle: c.get('requestContext').get(AGENT_HANDLE_KEY) ?? null })
  })
  const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' })
  await new Promise<void>((resolve) => server.once('listening', () => resolve()))
  closers.push(() => new Promise<void>((resolve) => server.close(() => resolve())))
  const { port } = server.address() as AddressInfo
  return (headers: Record<string, string> = {}) =>
    fetch(`http://127.0.0.1:${port}/api/agents/researcher/generate`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify({ messages: ['go'] }),
    })
}

describe('killSwitchServerMiddleware', () => {
  it('lets an active agent through and names it to the handlers', async () => {
    const { ks, credential, handle } = await killSwitchWithAgent(1)
    const post = await startServer(ks)

    const viaHeader = await post({ 'x-killswitch-credential': credential })
    const viaBearer = await post({ authorization: `Bearer ${credential}` })

    expect(viaHeader.status).toBe(200)
    expect(await viaHeader.json()).toEqual({ ok: true, handle })
    expect(viaBearer.status).toBe(200)
  })

  it('answers 401 with a JSON error once the agent is revoked', async () => {
    const { ks, credential, handle } = await killSwitchWithAgent(1)
    const post = await startServer(ks)
    expect((await post({ authorization: `Bearer ${credential}` })).status).toBe(200)

    await ks.agents.revoke(handle, { reason: 'test: leaked credential' })
    const response = await post({ authorization: `Bearer ${credential}` })

    expect(response.status).toBe(401)
    expect(response.headers.get('www-authenticate')).toContain('invalid_token')
    const body = await response.text()
    expect(JSON.parse(body)).toEqual({
      error: { code: 'agent_revoked', message: expect.stringContaining('revoked') },
    })
    expect(body).not.toContain(credential)
  })

  it('answers 401 to an unknown credential', async () => {
    const { ks } = await killSwitchWithAgent(1)
    const post = await startServer(ks)

    const response = await post({ 'x-killswitch-credential': `ks_${'A'.repeat(43)}` })

    expect(response.status).toBe(401)
    expect((await errorBody(response)).error.code).toBe('agent_revoked')
  })

  it('answers 402 once the budget is spent', async () => {
    const { ks, credential } = await killSwitchWithAgent(0.5)
    const post = await startServer(ks)
    const guard = ks.guard(credential)
    const spend = await guard.reserveSpend({ amountUsd: 0.5, kind: 'tool', description: 'test' })
    await guard.settleSpend(spend)

    const response = await post({ 'x-killswitch-credential': credential })

    expect(response.status).toBe(402)
    expect(await response.json()).toEqual({
      error: { code: 'spending_cap_exceeded', message: expect.stringContaining('no budget left') },
    })
  })

  it('lets an agent with approvals on through at its cap: its next call asks a person', async () => {
    const { ks, credential, handle } = await killSwitchWithAgent(0.5)
    await ks.agents.update(handle, { approvals: { enabled: true, waitMs: 0 } })
    const guard = ks.guard(credential)
    await guard.settleSpend(
      await guard.reserveSpend({ amountUsd: 0.5, kind: 'tool', description: 'test' }),
    )
    const post = await startServer(ks)

    expect((await post({ 'x-api-key': credential })).status).toBe(200)
  })

  it('fails closed with 503 when the store cannot be reached', async () => {
    const down: CredentialVerifier = {
      verify: async () => {
        throw new StoreUnavailableError('The sqlite store is locked')
      },
    }
    const post = await startServer(down)

    const response = await post({ 'x-killswitch-credential': `ks_${'A'.repeat(43)}` })

    expect(response.status).toBe(503)
    expect((await errorBody(response)).error.code).toBe('store_unavailable')
  })

  it('passes requests without an agent credential, unless one is required', async () => {
    const { ks } = await killSwitchWithAgent(1)
    const open = await startServer(ks)
    const strict = await startServer(ks, { required: true })

    expect((await open()).status).toBe(200)
    // Someone else's bearer token (a user's JWT) is not an agent credential.
    expect((await open({ authorization: 'Bearer eyJhbGciOi.x.y' })).status).toBe(200)
    const refused = await strict()
    expect(refused.status).toBe(401)
    expect((await errorBody(refused)).error.message).toContain('x-killswitch-credential')
  })

  it('refuses a revoked credential sent twice or beside a valid one (red team r21: 200), and a required that is not a boolean', async () => {
    const { ks, credential } = await killSwitchWithAgent(1)
    const { credential: revoked } = await ks.agents.create({ handle: 'gone', spendingCap: 1 })
    await ks.agents.revoke('gone')
    const send = await startServer(ks)
    const garbled: Array<Record<string, string>> = [
      { authorization: `Bearer ${revoked}, Bearer ${revoked}` },
      { authorization: revoked },
      { 'x-killswitch-credential': credential, authorization: `Bearer ${revoked}` },
    ]
    for (const headers of garbled) {
      expect((await send(headers)).status).toBe(401)
    }
    expect(() =>
      killSwitchServerMiddleware({ killSwitch: ks, required: 'false' as unknown as boolean }),
    ).toThrow(expect.objectContaining({ code: 'invalid_config', field: 'required' }))
  })
})

describe('credentialFromHeaders', () => {
  it('reads the dedicated header first, then a ks_ bearer token only', () => {
    const headers = (values: Record<string, string>) => (name: string) => values[name]
    expect(credentialFromHeaders(headers({ 'x-killswitch-credential': ' ks_a ' }))).toBe('ks_a')
    expect(credentialFromHeaders(headers({ authorization: 'bearer ks_b' }))).toBe('ks_b')
    expect(credentialFromHeaders(headers({ authorization: 'Bearer jwt' }))).toBeUndefined()
    // A ks_ token is never overlooked for how it is written (checked, not passed as anonymous).
    expect(credentialFromHeaders(headers({ authorization: 'Basic ks_c' }))).toBe('ks_c')
    expect(credentialFromHeaders(headers({}))).toBeUndefined()
  })
})
