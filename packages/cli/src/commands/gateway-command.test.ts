// `killswitch gateway --store <spec> --port <n>` in-process: it serves the gateway over the
// CLI's kill switch, takes the provider key from the environment, never prints it, and
// stops on the signal.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
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

  it('takes the provider keys from --providers, and refuses a malformed file before serving', async () => {
    const ks = createKillSwitch({ store: memoryStore() })
    const agent = await ks.agents.create({ handle: 'file-agent', spendingCap: 1 })
    const dir = mkdtempSync(join(tmpdir(), 'killswitch-gateway-cli-'))
    const fileKey = 'sk-from-the-providers-file-0123456789'
    const file = join(dir, 'providers.json')
    writeFileSync(file, JSON.stringify({ openai: { apiKey: fileKey, baseURL: upstreamURL } }))
    const bad = join(dir, 'bad.json')
    writeFileSync(bad, JSON.stringify({ openai: { key: fileKey } }))
    const io = (stdout = buffer(), stderr = buffer(), signal?: AbortSignal) => ({
      stdout,
      stderr,
      env: {},
      cwd: dir,
      ...(signal ? { signal } : {}),
      openKillSwitch: async () => ({ killSwitch: ks, close: async () => {} }),
    })
    try {
      const refused = io()
      expect(await runCli(['gateway', '--providers', 'bad.json', '--port', '0'], refused)).toBe(1)
      expect(refused.stderr.text()).toContain('providers.openai.key')
      expect(refused.stderr.text()).not.toContain(fileKey)

      const stop = new AbortController()
      const served = io(buffer(), buffer(), stop.signal)
      const exit = runCli(['gateway', '--providers', 'providers.json', '--port', '0'], served)
      const url = await vi.waitFor(() => {
        const match = /listening on (http:\/\/\S+)/.exec(served.stdout.text())
        if (!match?.[1]) throw new Error('not listening yet')
        return match[1]
      })
      const models = await fetch(`${url}/v1/models`, {
        headers: { authorization: `Bearer ${agent.credential}` },
      })
      expect(models.status).toBe(200)
      expect(seen.at(-1)).toBe(`Bearer ${fileKey}`)
      stop.abort()
      expect(await exit).toBe(0)
      expect(served.stdout.text() + served.stderr.text()).not.toContain(fileKey)
    } finally {
      rmSync(dir, { recursive: true, force: true })
      await ks.close()
    }
  })
})
