// The incident this project exists for: an agent authorising $4,000 of API calls in 11
// minutes. Replayed here as a paid search API at $0.50 a call, 12 calls a second (7,920
// calls, $3,960), against the default policy, to show where each detector stops it. The
// numbers in docs/runaway.md come from these tests.
import { describe, expect, it } from 'vitest'
import type { AgentRecord } from '../store.js'
import { memoryStore } from '../stores/memory-store.js'
import type { RunawayConfig } from './config.js'
import { createRunawayMonitor } from './create-runaway-monitor.js'
import type { Observation } from './types.js'

const T0 = 1_700_000_000_000
const CALLS = 7_920
const PRICE_MICROS = 500_000

interface Outcome {
  detector: string | undefined
  action: string
  call: number
  atMs: number
  spentUsd: number
}

async function replay(
  runaway: RunawayConfig,
  args: (i: number) => unknown,
  options: { runId?: string; failing?: boolean; capUsd?: number } = {},
): Promise<Outcome> {
  const { runId, failing = false, capUsd = 10_000 } = options
  const store = memoryStore()
  const created: AgentRecord = await store.createAgent({
    handle: 'incident-agent',
    credentialHash: 'a'.repeat(64),
    capMicros: capUsd * 1_000_000,
    currency: 'usd',
    createdAt: T0,
    updatedAt: T0,
    policy: { alerts: [], runaway },
  })
  const monitor = createRunawayMonitor(store)
  let spentMicros = 0
  // Each call as the guard reports it: the tool call before it runs (it can be refused), the
  // payment once it is made (as the guard observes settled payments), then the result.
  for (let i = 0; i < CALLS; i++) {
    const at = T0 + Math.floor((i * 1000) / 12)
    const steps: Array<[Observation, number, number]> = [
      [{ kind: 'tool_call', tool: 'paid_search', args: args(i), runId }, at, 0],
      [
        { kind: 'payment', costMicros: PRICE_MICROS, payee: 'api.example.com', runId },
        at + 1,
        PRICE_MICROS,
      ],
      [{ kind: 'tool_result', tool: 'paid_search', ok: !failing, runId }, at + 2, 0],
    ]
    for (const [observation, when, paid] of steps) {
      spentMicros += paid
      // What the guard passes: the agent as the store has it now, its spend included.
      const verdict = await monitor.observe({ ...created, spentMicros }, observation, when)
      if (verdict.action !== 'none' && verdict.action !== 'warn') {
        const detector = verdict.finding?.detector
        return {
          detector,
          action: verdict.action,
          call: i + 1,
          atMs: when - T0,
          spentUsd: spentMicros / 1e6,
        }
      }
    }
  }
  return {
    detector: undefined,
    action: 'none',
    call: CALLS,
    atMs: 660_000,
    spentUsd: spentMicros / 1e6,
  }
}

const varied = (i: number) => ({ query: 'competitor pricing', page: i })

const everythingOff = (off: { enabled: boolean }) => ({
  repeatedToolCall: off,
  toolCycle: off,
  noProgress: off,
  spendVelocity: off,
  callRate: off,
  errorStreak: off,
  slowLoop: off,
  runLimits: off,
})

describe('the $4,000-in-11-minutes incident, replayed against the defaults', () => {
  it('the similar-arguments tier throttles at the 10th call (pages counting up), before a dollar in 5', async () => {
    expect(await replay({}, varied)).toEqual({
      detector: 'repeated-tool-call',
      action: 'block',
      call: 10,
      atMs: 750,
      spentUsd: 4.5,
    })
  })

  it('spend velocity throttles at the payment that makes $25 in a minute, about 4 seconds in', async () => {
    const similarOff = { repeatedToolCall: { normalizedTripAt: 64, normalizedWarnAt: 64 } }
    expect(await replay(similarOff, varied)).toEqual({
      detector: 'spend-velocity',
      action: 'block',
      call: 50,
      atMs: 4_084,
      spentUsd: 25,
    })
  })

  it('call rate (a flood guard, not a loop detector) stays quiet at 12 calls a second, and trips where it is set', async () => {
    const quiet = {
      ...everythingOff({ enabled: false }),
      callRate: { enabled: true },
    }
    expect((await replay(quiet, varied)).detector).toBeUndefined()
    const strict = { ...quiet, callRate: { tripToolCalls: 100, warnToolCalls: 50 } }
    expect(await replay(strict, varied)).toMatchObject({
      detector: 'call-rate',
      action: 'block',
      call: 100,
      spentUsd: 49.5,
    })
  })

  it('repeated-tool-call revokes at the 5th identical call, before it is paid', async () => {
    expect(await replay({}, () => ({ query: 'competitor pricing' }))).toMatchObject({
      detector: 'repeated-tool-call',
      call: 5,
      spentUsd: 2,
    })
  })

  it('tool-cycle revokes at the third lap of a two-call cycle', async () => {
    expect(await replay({}, (i) => ({ query: i % 2 ? 'pricing' : 'prices' }))).toMatchObject({
      detector: 'tool-cycle',
      call: 6,
      spentUsd: 2.5,
    })
  })

  it('run limits stop the run at its 501st tool call when the loop and rate detectors are off', async () => {
    const off = { enabled: false }
    const runaway = {
      spendVelocity: off,
      callRate: off,
      repeatedToolCall: off,
      slowLoop: off,
    }
    expect(await replay(runaway, varied, { runId: 'run-1' })).toMatchObject({
      detector: 'run-limits',
      action: 'stop',
      call: 501,
      spentUsd: 250,
    })
  })

  it('error streak throttles at the 10th failed call of an API that charges for failures', async () => {
    const similarOff = { repeatedToolCall: { enabled: false } }
    expect(await replay(similarOff, varied, { failing: true })).toMatchObject({
      detector: 'error-streak',
      action: 'block',
      call: 10,
      spentUsd: 5,
    })
  })

  it('threshold breach, when enabled, revokes at 90% of a $1,000 cap even with every other detector off', async () => {
    const off = { enabled: false }
    const runaway = {
      ...everythingOff(off),
      thresholdBreach: { enabled: true, fraction: 0.9 },
    }
    expect(await replay(runaway, varied, { capUsd: 1_000 })).toMatchObject({
      detector: 'threshold-breach',
      call: 1_800,
      spentUsd: 900,
    })
  })

  it('without any detector the whole $3,960 goes through (only the hard cap would stop it)', async () => {
    expect((await replay(everythingOff({ enabled: false }), varied)).spentUsd).toBe(3_960)
  })
})
