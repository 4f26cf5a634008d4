// The corpus goals, asserted on the defaults with no per-agent tuning: no honest trace is
// refused (throttled, stopped or revoked), and every runaway is refused before its loop has
// spent 10% of its cap or run 60 s (slow loops: 10% of the cap alone). The same replay
// writes the confusion table in BENCHMARKS.md (`npm run bench`).
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { sqliteStore } from '../../stores/sqlite-store.js'
import { honestTraces } from './honest-traces.js'
import { GOAL_CAP_FRACTION, GOAL_MS, replayTrace } from './replay.js'
import { runawayTraces } from './runaway-traces.js'

const honest = honestTraces()
const runaways = runawayTraces()

describe('the trace corpus against the default policy', () => {
  it.each(honest.map((trace) => [trace.name, trace] as const))(
    'honest %s: never refused',
    async (_, trace) => {
      const result = await replayTrace(trace)
      expect(result.stopped, result.stopped?.summary).toBeUndefined()
      expect(result.refusals).toBe(0)
      expect(result.met).toBe(true)
    },
  )

  it.each(runaways.map((trace) => [trace.name, trace] as const))(
    'runaway %s: stopped within 10% of the cap and 60 s',
    async (_, trace) => {
      const result = await replayTrace(trace)
      expect(result.stopped, 'never stopped').toBeDefined()
      expect(result.stopped?.enforced).toBe(true)
      expect(result.loopSpentMicros).toBeLessThan(trace.capUsd * 1_000_000 * GOAL_CAP_FRACTION)
      if (trace.timeGoal !== false) expect(result.msPastLoopStart).toBeLessThanOrEqual(GOAL_MS)
      expect(result.met).toBe(true)
    },
  )

  it('revokes only on identical evidence: similar calls, rates and spend throttle', async () => {
    const actions = new Map<string, string>()
    for (const trace of runaways) {
      const { stopped } = await replayTrace(trace)
      actions.set(trace.name, `${stopped?.detector} ${stopped?.action}`)
    }
    expect(actions.get('identical-loop')).toBe('repeated-tool-call revoke')
    expect(actions.get('key-order-args')).toBe('repeated-tool-call revoke')
    expect(actions.get('ab-cycle-exact')).toBe('tool-cycle revoke')
    expect(actions.get('no-progress-model')).toBe('no-progress revoke')
    for (const name of ['counter-args', 'uuid-args', 'paraphrased-queries', 'paid-tool-8rps'])
      expect(actions.get(name)).toBe('repeated-tool-call block')
    expect(actions.get('ab-cycle-varying')).toBe('tool-cycle block')
    expect(actions.get('model-error-storm')).toBe('error-streak block')
    expect(actions.get('spend-spike')).toBe('spend-spike block')
    expect(actions.get('fast-burn')).toBe('spend-velocity block')
    expect(actions.get('slow-loop-hours')).toBe('slow-loop block')
  })

  it('in shadow mode reports the same first firing, not enforced, and refuses nothing', async () => {
    for (const trace of runaways.slice(0, 6)) {
      const live = await replayTrace(trace)
      const shadow = await replayTrace(trace, { enforce: false })
      expect(shadow.stopped).toMatchObject({
        detector: live.stopped?.detector,
        action: live.stopped?.action,
        at: live.stopped?.at,
        enforced: false,
      })
    }
    const busy = honest.find((trace) => trace.name === 'fan-out-300')
    expect((await replayTrace(busy!, { enforce: false })).stopped).toBeUndefined()
  })

  it('gives the same first refusals over the sqlite store (the window read back from disk)', async () => {
    const folder = mkdtempSync(join(tmpdir(), 'killswitch-corpus-'))
    try {
      const names = ['identical-loop', 'uuid-args', 'paraphrased-queries', 'ab-cycle-varying']
      for (const trace of runaways.filter((candidate) => names.includes(candidate.name))) {
        const store = sqliteStore(join(folder, `${trace.name}.db`))
        try {
          const onDisk = await replayTrace(trace, {}, store)
          const inMemory = await replayTrace(trace)
          expect(onDisk.stopped).toEqual(inMemory.stopped)
        } finally {
          await store.close()
        }
      }
    } finally {
      rmSync(folder, { recursive: true, force: true })
    }
  })

  it('is generated deterministically (the same traces on every run)', () => {
    const again = [...honestTraces(), ...runawayTraces()]
    const first = [...honest, ...runaways]
    expect(again.map((trace) => trace.steps.length)).toEqual(first.map((t) => t.steps.length))
    expect(JSON.stringify(again[6]?.steps)).toBe(JSON.stringify(first[6]?.steps))
  })

  it('would have failed on the old defaults (revoke on 50 calls in 10 s); pollers are spared by their pauses, whatever the window', async () => {
    const old = {
      callRate: { tripModelCalls: 50, warnModelCalls: 25, action: 'revoke' as const },
      repeatedToolCall: { windowMs: 600_000 },
    }
    const fanOut = honest.find((trace) => trace.name === 'fan-out-300')
    expect((await replayTrace(fanOut!, old)).stopped?.action).toBe('revoke')
    // The 10-minute window revoked the 30 s poller at its 5th poll; each poll now follows a
    // pause (a poller waits, a loop does not), so no window makes a loop of it.
    for (const name of ['polling-1h', 'polling-5s-no-run-id', 'polling-agent-5s']) {
      const polling = honest.find((trace) => trace.name === name)
      expect((await replayTrace(polling!, old)).stopped).toBeUndefined()
    }
  })

  it('stops the loops the red team found: a run per lap, parallel calls per step', async () => {
    const stopped = new Map<string, string>()
    for (const trace of runaways) {
      if (trace.name !== 'restarted-runs' && trace.name !== 'parallel-calls-loop') continue
      const { stopped: s } = await replayTrace(trace)
      stopped.set(trace.name, `${s?.detector} ${s?.action}`)
    }
    expect(stopped.get('restarted-runs')).toBe('repeated-tool-call revoke')
    // Three different calls a lap: an A-B-C cycle, seen once a step's own parallel calls no
    // longer count as concurrency.
    expect(stopped.get('parallel-calls-loop')).toBe('tool-cycle revoke')
  })

  it('stops the loops the ninth red team found, and the loops its false positives could hide', async () => {
    const expected: Record<string, string> = {
      // A run per lap, the same paid search, the answer worded anew: the same paid calls.
      'restarted-runs-reworded': 'repeated-tool-call block',
      // The same paid search with a new explanation or letters-only nonce: one shape.
      'explanation-field-loop': 'slow-loop block',
      'nonce-field-loop': 'slow-loop block',
      // A sleep tool is a pause, but a lap paying 2.5% of the cap is counted through it.
      'five-tool-cycle-sleep-tool': 'tool-cycle revoke',
      // Bursts of parallel failures count once each, and still make a streak back to back.
      'parallel-error-storm': 'error-streak block',
      // A call between the repeats that differs only by a counter is no new work.
      'repeat-beside-counter-note': 'tool-cycle block',
    }
    for (const trace of runaways.filter((candidate) => candidate.name in expected)) {
      const { stopped } = await replayTrace(trace)
      expect(`${stopped?.detector} ${stopped?.action}`, trace.name).toBe(expected[trace.name])
    }
    expect(runaways.filter((trace) => trace.name in expected)).toHaveLength(6)
    // Its false positives, honest again (each a trace above): a coding agent's edit -> test
    // cycle, a model polling with a sleep tool, a 429 on 20 or 50 parallel calls, an hourly
    // refresh beside a chat, a classifier's lookup per batch, a poll whose call is slow.
    const spared = ['coding-agent-tests', 'coding-agent-read', 'coding-agent-tests-no-run-id']
    spared.push('model-poller-sleep-tool', 'rate-limited-burst-20', 'rate-limited-burst-50')
    spared.push('chat-with-hourly-refresh', 'classifier-lookup-batches', 'polling-5s-slow-call')
    spared.push('polling-2.5s-1s-call', 'rag-30-searches')
    for (const name of spared) {
      const trace = honest.find((candidate) => candidate.name === name)
      expect((await replayTrace(trace!)).refusals, name).toBe(0)
    }
  })

  it('stops the loops the fourth red team found: 5-tool cycles, alternating runs', async () => {
    const expected: Record<string, string> = {
      'five-tool-cycle-no-run': 'tool-cycle revoke',
      'five-tool-cycle-model': 'tool-cycle revoke',
      // Its 2 s sleep per lap is no pause to tool-cycle: the loop keeps paying.
      'five-tool-cycle-paced': 'tool-cycle revoke',
      'alternating-runs': 'repeated-tool-call revoke',
      'slow-five-tool-cycle': 'slow-loop block',
    }
    for (const trace of runaways.filter((candidate) => candidate.name in expected)) {
      const { stopped } = await replayTrace(trace)
      expect(`${stopped?.detector} ${stopped?.action}`, trace.name).toBe(expected[trace.name])
    }
    // The old limits (cycles of 4, stretches of 4 different calls) let each spend the cap.
    const old = { toolCycle: { maxPeriod: 4 }, slowLoop: { maxDistinct: 4 } }
    for (const name of ['five-tool-cycle-no-run', 'slow-five-tool-cycle']) {
      const trace = runaways.find((candidate) => candidate.name === name)
      expect((await replayTrace(trace!, old)).stopped, name).toBeUndefined()
    }
  })
})
