// Two gateway instances, each with its own kill switch and its own connections to one real
// Redis: one cap that concurrent calls through both never overspend, and one revocation
// that cuts a stream in flight on the other instance.
import { randomUUID } from 'node:crypto'
import { createKillSwitch, type KillSwitch, toMicros } from '@killswitch/core'
import { redisStore } from '@killswitch/redis'
import OpenAI from 'openai'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import {
  type RedisServer,
  startRedisServer,
} from '../../redis/src/test-support/start-redis-server.js'
import { type RunningGateway, startGateway } from './start-gateway.js'
import { type FakeUpstream, startFakeUpstream } from './testing/fake-upstream.js'
import { ANTHROPIC_KEY, OPENAI_KEY, PRICES } from './testing/gateway-fixture.js'

// A prompt at least as long as the 1,200 input tokens the fake provider reports (a token is
// at least a byte), so the holds bound what it bills, as a real provider's usage would.
const messages = [{ role: 'user' as const, content: 'Say hello. '.repeat(120) }]

describe('gateway instances on one Redis', () => {
  let redis: RedisServer
  let upstream: FakeUpstream
  const instances: Array<{ ks: KillSwitch; gateway: RunningGateway }> = []

  beforeAll(async () => {
    redis = await startRedisServer()
    upstream = await startFakeUpstream({
      openaiKey: OPENAI_KEY,
      anthropicKey: ANTHROPIC_KEY,
      prices: PRICES,
    })
    const prefix = `killswitch-gateway-${randomUUID()}:`
    for (let i = 0; i < 2; i++) {
      const ks = createKillSwitch({
        store: redisStore({ url: redis.url, prefix }),
        prices: { 'gpt-4o': { inputPerMTok: 2.5, cacheReadPerMTok: 1.25, outputPerMTok: 10 } },
        runaway: false,
      })
      const gateway = await startGateway({
        killSwitch: ks,
        port: 0,
        env: { OPENAI_API_KEY: OPENAI_KEY, OPENAI_BASE_URL: upstream.openaiBaseURL },
      })
      instances.push({ ks, gateway })
    }
  })
  afterAll(async () => {
    for (const { ks, gateway } of instances) {
      await gateway.close()
      await ks.close()
      await ks.store.close()
    }
    await upstream?.close()
    await redis?.dispose()
  })

  const client = (instance: number, apiKey: string) =>
    new OpenAI({ baseURL: `${instances[instance]?.gateway.url}/v1`, apiKey, maxRetries: 0 })

  it('never overspends one cap from concurrent calls through both instances', async () => {
    const [a, b] = instances
    if (!a || !b) throw new Error('instances not started')
    // Each call holds about $0.045 (its prompt, and 4,096 output tokens at $10/M, clamped
    // when less is left) and costs at least $0.002 (1,200 input tokens): at most 14 of
    // the 30 can be paid for.
    const cap = 0.03
    const agent = await a.ks.agents.create({ handle: 'fleet', spendingCap: cap })
    const billed = upstream.billMicros()
    const calls = upstream.calls.length
    const results = await Promise.allSettled(
      Array.from({ length: 30 }, (_, i) =>
        client(i % 2, agent.credential).chat.completions.create({ model: 'gpt-4o', messages }),
      ),
    )
    const ok = results.filter((result) => result.status === 'fulfilled').length
    const refused = results.filter(
      (result) =>
        result.status === 'rejected' && (result.reason as { status?: number }).status === 402,
    ).length
    expect(ok + refused).toBe(30)
    expect(ok).toBeGreaterThan(0)
    expect(refused).toBeGreaterThan(0)
    // Refused calls never reached the provider; the ledger is exactly the provider's bill.
    expect(upstream.calls.length - calls).toBe(ok)
    const snapshot = await b.ks.agents.get('fleet')
    expect(toMicros(snapshot.spent)).toBe(upstream.billMicros() - billed)
    expect(toMicros(snapshot.spent)).toBeLessThanOrEqual(toMicros(cap))
    expect(snapshot.held).toBe(0)
  })

  it('a revoke on one instance cuts a stream in flight on the other and refuses the next call', async () => {
    const [a, b] = instances
    if (!a || !b) throw new Error('instances not started')
    const agent = await a.ks.agents.create({ handle: 'fleet-cut', spendingCap: 1 })
    upstream.hang = true
    try {
      const seen: string[] = []
      const consume = async () => {
        const stream = await client(1, agent.credential).chat.completions.create({
          model: 'gpt-4o',
          messages,
          stream: true,
        })
        for await (const chunk of stream) {
          const text = chunk.choices[0]?.delta.content
          if (!text) continue
          seen.push(text)
          await a.ks.agents.revoke('fleet-cut', { reason: 'from the other instance' })
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
      client(1, agent.credential).chat.completions.create({ model: 'gpt-4o', messages }),
    ).rejects.toBeInstanceOf(OpenAI.AuthenticationError)
    await expect(
      client(0, agent.credential).chat.completions.create({ model: 'gpt-4o', messages }),
    ).rejects.toBeInstanceOf(OpenAI.AuthenticationError)
  })
})
