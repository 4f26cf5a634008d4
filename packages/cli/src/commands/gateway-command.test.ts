// `killswitch gateway --store <spec> --port <n>` in-process: it serves the gateway over the
// CLI's kill switch, takes the provider key from the environment, never prints it, and
// stops on the signal.
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createKillSwitch, memoryStore } from '@killswitch/core'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { runCli } from '../run-cli.js'
import { buffer } from '../test-helpers.js'

const PROVIDER_KEY = 'sk-cli-gateway-provider-key-0123456789'

describe('killswitch gateway', () => {
  const seen: string[] = []
  const upstream = createServer((req, res) => {
    seen.push(String(req.headers.authorization))
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ object: 'list', data: [{ id: 'gpt-4o', object: 'model' }] }))
  })
  let upstreamURL = ''
  beforeAll(async () => {
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve))
    upstreamURL = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}/v1`
  })
  afterAll(() => new Promise((resolve) => upstream.close(resolve)))

  it('serves the gateway on the store, with the provider key from the environment, until stopped', async () => {
    const ks = createKillSwitch({ store: memoryStore() })
    const agent = await ks.agents.create({ handle: 'cli-agent', spendingCap: 1 })
    const stdout = buffer()
    const stderr = buffer()
    const stop = new AbortController()
    const exit = runCli(['gateway', '--store', 'memory', '--port', '0'], {
      stdout,
      stderr,
      env: { OPENAI_API_KEY: PROVIDER_KEY, OPENAI_BASE_URL: upstreamURL },
      cwd: '/nonexistent',
      signal: stop.signal,
      openKillSwitch: async () => ({ killSwitch: ks, close: async () => {} }),
    })
    const url = await vi.waitFor(() => {
      const match = /listening on (http:\/\/\S+)/.exec(stdout.text())
      if (!match?.[1]) throw new Error('not listening yet')
      return match[1]
    })
    expect(await (await fetch(`${url}/health`)).json()).toMatchObject({ status: 'ok' })
    const headers = { authorization: `Bearer ${agent.credential}` }
    const models = await fetch(`${url}/v1/models`, { headers })
    expect(models.status).toBe(200)
    expect(seen).toEqual([`Bearer ${PROVIDER_KEY}`])
    await ks.agents.revoke('cli-agent', { reason: 'test' })
    expect((await fetch(`${url}/v1/models`, { headers })).status).toBe(401)
    stop.abort()
    expect(await exit).toBe(0)
    const printed = stdout.text() + stderr.text()
    expect(printed).toContain('agent=cli-agent')
    expect(printed).toContain('gateway stopped')
    expect(printed).not.toContain(PROVIDER_KEY)
    expect(printed).not.toContain(agent.credential)
    await ks.close()
  })
})
