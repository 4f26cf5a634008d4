// A revoke made in another process (an operator's CLI, say) reaches the gateway through the
// shared sqlite store: the stream in flight is cut, the upstream request aborted, and the
// next call refused. The other process uses the built @killswitch/core (npm run setup).
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createKillSwitch, sqliteStore } from '@killswitch/core'
import OpenAI from 'openai'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { type RunningGateway, startGateway } from './start-gateway.js'
import { type FakeUpstream, startFakeUpstream } from './testing/fake-upstream.js'
import { ANTHROPIC_KEY, OPENAI_KEY, PRICES } from './testing/gateway-fixture.js'

const packageDir = fileURLToPath(new URL('..', import.meta.url))
const REVOKE = `
import { createKillSwitch, sqliteStore } from '@killswitch/core'
const store = sqliteStore(process.env.KS_DB)
const ks = createKillSwitch({ store })
await ks.agents.revoke(process.env.KS_HANDLE, { reason: 'revoked from another process' })
await ks.close()
await store.close()
`

/** Revokes the agent from a separate Node process and waits for it to exit. */
function revokeElsewhere(db: string, handle: string): Promise<number | null> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', REVOKE], {
      cwd: packageDir,
      env: { ...process.env, KS_DB: db, KS_HANDLE: handle },
      stdio: ['ignore', 'ignore', 'inherit'],
    })
    child.once('error', reject)
    child.once('exit', resolve)
  })
}

describe('a revoke from another process', () => {
  const dir = mkdtempSync(join(tmpdir(), 'killswitch-gateway-'))
  const db = join(dir, 'state.db')
  const store = sqliteStore(db)
  const ks = createKillSwitch({
    store,
    prices: { 'gpt-4o': { inputPerMTok: 2.5, cacheReadPerMTok: 1.25, outputPerMTok: 10 } },
    runaway: false,
  })
  let upstream: FakeUpstream
  let gateway: RunningGateway

  beforeAll(async () => {
    upstream = await startFakeUpstream({
      openaiKey: OPENAI_KEY,
      anthropicKey: ANTHROPIC_KEY,
      prices: PRICES,
    })
    gateway = await startGateway({
      killSwitch: ks,
      port: 0,
      env: { OPENAI_API_KEY: OPENAI_KEY, OPENAI_BASE_URL: upstream.openaiBaseURL },
    })
  })
  afterAll(async () => {
    await gateway?.close()
    await upstream?.close()
    await ks.close()
    await store.close()
    rmSync(dir, { recursive: true, force: true })
  })

  it('cuts the stream in flight, aborts the upstream request and refuses the next call', async () => {
    const agent = await ks.agents.create({ handle: 'elsewhere', spendingCap: 1 })
    const client = new OpenAI({
      baseURL: `${gateway.url}/v1`,
      apiKey: agent.credential,
      maxRetries: 0,
    })
    upstream.hang = true
    try {
      const seen: string[] = []
      const consume = async () => {
        const stream = await client.chat.completions.create({
          model: 'gpt-4o',
          messages: [{ role: 'user', content: 'hi' }],
          stream: true,
        })
        for await (const chunk of stream) {
          const text = chunk.choices[0]?.delta.content
          if (!text) continue
          seen.push(text)
          expect(await revokeElsewhere(db, 'elsewhere')).toBe(0)
        }
      }
      const error = (await consume().catch((caught: unknown) => caught)) as { code?: string }
      expect(error).toBeInstanceOf(OpenAI.APIError)
      expect(error.code).toBe('agent_revoked')
      expect(seen).toEqual(['Hello'])
      const call = upstream.calls.at(-1)
      await vi.waitFor(() => expect(call?.aborted).toBe(true))
    } finally {
      upstream.hang = false
    }
    await expect(
      client.chat.completions.create({
        model: 'gpt-4o',
        messages: [{ role: 'user', content: 'hi' }],
      }),
    ).rejects.toBeInstanceOf(OpenAI.AuthenticationError)
  })
})
