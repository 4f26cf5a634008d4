import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { AgentRevokedError, KillSwitchError, SpendingCapExceededError } from './errors.js'
import type { AgentGuard } from './guard-types.js'
import { createKillSwitch } from './kill-switch.js'
import type { Store } from './store.js'
import { memoryStore } from './stores/memory-store.js'

const prices = { 'test-model': { inputPerMTok: 1, outputPerMTok: 1 } }

describe('guard under concurrency', () => {
  it('10,000 concurrent calls on a $1 cap: spent <= $1, each admitted or refused with SpendingCapExceededError', async () => {
    const ks = // Ledger exactness only: a 10,000-call burst would (rightly) trip the call-rate detector.
      createKillSwitch({ prices, runaway: false })
    const agent = await ks.agents.create({ handle: 'burst', spendingCap: 1 })
    const guard = ks.guard(agent.credential)
    let admitted = 0
    let refused = 0
    await Promise.all(
      Array.from({ length: 10_000 }, async (_, i) => {
        try {
          const ticket = await guard.beforeModelCall({
            model: 'test-model',
            input: 'x'.repeat(50),
            maxOutputTokens: 150,
          })
          admitted++
          // Real usage never exceeds what was held (input <= bound, output <= clamp).
          await guard.afterModelCall(ticket, { usage: { inputTokens: 50, outputTokens: i % 151 } })
        } catch (error) {
          expect(error).toBeInstanceOf(SpendingCapExceededError)
          refused++
        }
      }),
    )
    const state = await ks.agents.get('burst')
    expect(admitted + refused).toBe(10_000)
    expect(refused).toBeGreaterThan(0)
    expect(state.spent).toBeLessThanOrEqual(1)
    expect(state.held).toBe(0)
  })

  it("keeps spent <= cap (but for the piece that crossed a stopped stream's limit) and leaks no hold over random interleavings of calls, failures, tools and revocation", async () => {
    type Step =
      | {
          kind: 'model'
          input: number
          max: number
          out: number
          bad: number | undefined
          streamed: string
          end: 'finish' | 'fail' | 'unsent'
        }
      | { kind: 'tool'; price: number; ok: boolean }
      | { kind: 'raise'; by: number }
      | { kind: 'revoke' }
    const step: fc.Arbitrary<Step> = fc.oneof(
      {
        weight: 6,
        arbitrary: fc.record({
          kind: fc.constant('model' as const),
          input: fc.integer({ min: 1, max: 400 }),
          max: fc.integer({ min: 1, max: 400 }),
          out: fc.nat(),
          // Usage a provider should never report: it is not believed.
          bad: fc.option(fc.constantFrom(Number.NaN, -5, 0.5, Number.POSITIVE_INFINITY), {
            nil: undefined,
          }),
          // Output in any script, streamed before the call ends (past its hold, sometimes).
          streamed: fc.string({ unit: 'binary', maxLength: 600 }),
          end: fc.constantFrom('finish' as const, 'fail' as const, 'unsent' as const),
        }),
      },
      {
        weight: 3,
        arbitrary: fc.record({
          kind: fc.constant('tool' as const),
          price: fc.integer({ min: 0, max: 300 }),
          ok: fc.boolean(),
        }),
      },
      {
        weight: 1,
        arbitrary: fc.record({
          kind: fc.constant('raise' as const),
          by: fc.integer({ min: 0, max: 500 }),
        }),
      },
      { weight: 1, arbitrary: fc.constant({ kind: 'revoke' as const }) },
    )
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 3_000 }),
        fc.array(step, { maxLength: 40 }),
        async (capMicros, steps) => {
          const ks = // Ledger exactness only: a 10,000-call burst would (rightly) trip the call-rate detector.
            createKillSwitch({ prices, runaway: false })
          const agent = await ks.agents.create({
            handle: 'prop',
            spendingCap: capMicros / 1_000_000,
          })
          const guard = ks.guard(agent.credential)
          let cap = capMicros
          // The pieces that crossed a hold's limit: the provider sent them before the stream
          // could be stopped, so they are charged (test-model: 1 µ$ a counted token, a byte).
          let crossed = 0
          await Promise.all(
            steps.map(async (item) => {
              try {
                if (item.kind === 'model') {
                  const ticket = await guard.beforeModelCall({
                    model: 'test-model',
                    input: 'y'.repeat(item.input),
                    maxOutputTokens: item.max,
                  })
                  expect(ticket.maxOutputTokens).toBeLessThanOrEqual(item.max)
                  let cut = false
                  for (const char of item.end === 'unsent' ? '' : item.streamed) {
                    try {
                      guard.onOutputDelta(ticket, { text: char })
                    } catch {
                      crossed += Buffer.byteLength(char, 'utf8')
                      cut = true
                      break
                    }
                  }
                  if (item.end === 'unsent') {
                    await guard.failModelCall(ticket, new Error('not built'), { sent: false })
                  } else if (item.end === 'fail' || cut) {
                    await guard.failModelCall(ticket, new Error('provider failed'))
                  } else {
                    await guard.afterModelCall(ticket, {
                      usage: {
                        inputTokens: item.input,
                        // An honest provider never reports more than it was told.
                        outputTokens: item.bad ?? item.out % (ticket.maxOutputTokens + 1),
                      },
                    })
                  }
                } else if (item.kind === 'tool') {
                  const ticket = await guard.beforeToolCall({
                    name: 'paid',
                    args: { n: item.price },
                    priceUsd: item.price / 1_000_000,
                  })
                  await guard.afterToolCall(ticket, { ok: item.ok })
                } else if (item.kind === 'raise') {
                  cap += item.by
                  await ks.agents.update('prop', { spendingCap: cap / 1_000_000 })
                } else {
                  await ks.agents.revoke('prop', { reason: 'property test' })
                }
              } catch (error) {
                expect(KillSwitchError.isInstance(error)).toBe(true)
              }
            }),
          )
          const state = await ks.agents.get('prop')
          expect(state.held).toBe(0)
          expect(Math.round(state.spent * 1_000_000)).toBeLessThanOrEqual(cap + crossed)
        },
      ),
      { numRuns: 150 },
    )
  })
})

describe('a revocation that lands between admission and the reserve', () => {
  // The agent was active when the guard admitted the call; the revocation lands in the
  // store just before the reserve does. The reserve must refuse it as revoked (never as a
  // cap refusal, never held), and the guard's signal must fire.
  async function racing() {
    const inner = memoryStore()
    let armed = false
    const store = new Proxy(inner, {
      get(target, key) {
        if (key === 'reserve') {
          return async (request: Parameters<Store['reserve']>[0]) => {
            if (armed) {
              armed = false
              await ks.agents.revoke('racer', { reason: 'pulled mid-admission' })
            }
            return target.reserve(request)
          }
        }
        const value = Reflect.get(target, key, target)
        return typeof value === 'function' ? value.bind(target) : value
      },
    })
    const ks = createKillSwitch({ prices, runaway: false, store })
    const { credential } = await ks.agents.create({ handle: 'racer', spendingCap: 1 })
    const guard = ks.guard(credential)
    await guard.check()
    armed = true
    return { ks, guard }
  }

  it.each([
    [
      'a model call',
      (guard: AgentGuard) =>
        guard.beforeModelCall({ model: 'test-model', input: 'hi', maxOutputTokens: 10 }),
    ],
    [
      'a spend',
      (guard: AgentGuard) =>
        guard.reserveSpend({ amountUsd: 0.01, kind: 'tool', description: 'x' }),
    ],
  ])('%s is refused as revoked, holding nothing, and the signal fires', async (_name, call) => {
    const { ks, guard } = await racing()
    const error = await call(guard).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(AgentRevokedError)
    expect(error).toMatchObject({ reason: 'pulled mid-admission' })
    expect(await ks.agents.get('racer')).toMatchObject({ status: 'revoked', spent: 0, held: 0 })
    expect(guard.signal.aborted).toBe(true)
    await ks.close()
  })
})
