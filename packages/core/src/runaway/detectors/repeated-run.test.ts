import { describe, expect, it } from 'vitest'
import { modelCall, modelResult, spend, toolCall, toolResult } from '../activity-fixtures.js'
import { DEFAULT_RUNAWAY_CONFIG } from '../runaway-defaults.js'
import type { RunawayEvent } from '../types.js'
import { detectRepeatedRun, RunStreak } from './repeated-run.js'

const config = DEFAULT_RUNAWAY_CONFIG.repeatedToolCall
const T0 = 1_700_000_000_000

/** One run: a model step, a tool call, a model step; returns its events from `at`. */
function run(runId: string, at: number, args: unknown = { q: 'acme pricing' }): RunawayEvent[] {
  return [
    modelCall(at, runId),
    modelResult(at + 1_500, { output: 'search', runId }),
    toolCall(at + 1_500, 'paid_search', args, runId),
    toolResult(at + 2_300, 'paid_search', true, runId),
    modelCall(at + 2_300, runId),
    modelResult(at + 3_500, { output: 'not found', runId }),
  ]
}

/** What `see` returns at each run's first event. */
function streaks(runs: RunawayEvent[][]): number[] {
  const streak = new RunStreak()
  return runs.map((events) => events.map((event) => streak.see(event))[0] as number)
}

describe('RunStreak and detectRepeatedRun', () => {
  it('counts identical runs back to back, and trips at the run after tripAt of them', () => {
    const runs = Array.from({ length: 7 }, (_, i) => run(`req-${i}`, T0 + i * 3_500))
    expect(streaks(runs)).toEqual([0, 1, 2, 3, 4, 5, 6])
    expect(detectRepeatedRun(4, 'req-4', config).status).toBe('warn')
    expect(detectRepeatedRun(5, 'req-5', config)).toMatchObject({
      detector: 'repeated-tool-call',
      status: 'trip',
      evidence: { match: 'identical-runs', count: 5 },
    })
  })

  it('counts runs the same as one of the last 4: a loop alternating two kinds of lap', () => {
    const alternating = Array.from({ length: 8 }, (_, i) =>
      run(`run-${i}`, T0 + i * 3_500, { q: i % 2 ? 'acme pricing' : 'acme plans' }),
    )
    expect(streaks(alternating)).toEqual([0, 1, 1, 2, 3, 4, 5, 6])
    const four = Array.from({ length: 10 }, (_, i) =>
      run(`run-${i}`, T0 + i * 3_500, { q: `kind ${i % 4}` }),
    )
    expect(streaks(four)).toEqual([0, 1, 1, 1, 1, 2, 3, 4, 5, 6])
    // Five kinds in turn: each run's twin is 5 runs back, out of reach.
    const five = Array.from({ length: 12 }, (_, i) =>
      run(`run-${i}`, T0 + i * 3_500, { q: `kind ${i % 5}` }),
    )
    expect(Math.max(...streaks(five))).toBe(1)
  })

  it('counts paid runs making the same calls, the model worded differently: a throttle', () => {
    // Five wordings in turn: no run is the same as one of the 4 before it.
    const wordings = ['I could not find it.', 'No results.', 'Nothing came up.', 'Not found.', '?']
    /** A run: a model step, a paid search ($0.20), an answer worded its own way. */
    const reworded = (i: number, paid: boolean) => {
      const at = T0 + i * 3_500
      const runId = `invoke-${i}`
      return [
        modelCall(at, runId),
        modelResult(at + 1_200, { output: 'search', runId }),
        toolCall(at + 1_200, 'web_search', { q: 'acme pricing' }, runId),
        ...(paid ? [spend(at + 2_000, 200_000, runId)] : []),
        toolResult(at + 2_000, 'web_search', true, runId),
        modelCall(at + 2_000, runId),
        modelResult(at + 3_500, { output: wordings[i % 5], runId }),
      ]
    }
    const streak = new RunStreak()
    // At each run's first event: identical runs, and paid runs with the same calls, before it.
    const paid = Array.from({ length: 7 }, (_, i) => {
      const [first, ...rest] = reworded(i, true)
      const seen = [streak.see(first as RunawayEvent), streak.samePaidCalls]
      for (const event of rest) streak.see(event)
      return seen
    })
    expect(paid).toEqual([
      [0, 0],
      [1, 1],
      [1, 2],
      [1, 3],
      [1, 4],
      [1, 5],
      [1, 6],
    ])
    expect(detectRepeatedRun(1, 'invoke-5', config, 5)).toMatchObject({
      status: 'trip',
      action: 'block',
      evidence: { match: 'same-paid-calls', count: 5 },
    })
    // Free runs (a lookup per document, a label each) are compared with their outputs too.
    const free = new RunStreak()
    const counted: number[] = []
    for (let i = 0; i < 7; i++) {
      for (const [k, event] of reworded(i, false).entries()) {
        free.see(event)
        if (k === 0) counted.push(free.samePaidCalls)
      }
    }
    expect(Math.max(...counted)).toBe(0)
  })

  it('never counts runs that differ, make no tool call, wait between them, or overlap', () => {
    const differ = Array.from({ length: 7 }, (_, i) => run(`job-${i}`, T0 + i * 3_500, { id: i }))
    expect(Math.max(...streaks(differ))).toBe(1)
    const labels = Array.from({ length: 7 }, (_, i) => [
      modelCall(T0 + i * 300, `request-${i}`),
      modelResult(T0 + i * 300 + 250, { output: 'yes', runId: `request-${i}` }),
    ])
    expect(Math.max(...streaks(labels))).toBe(0)
    const scheduled = Array.from({ length: 7 }, (_, i) => run(`tick-${i}`, T0 + i * 10_000))
    expect(Math.max(...streaks(scheduled))).toBe(1)
    // Workers: each run starts while the last one's call is in flight.
    const streak = new RunStreak()
    const seen: number[] = []
    for (let i = 0; i < 8; i++) {
      seen.push(streak.see(toolCall(T0 + i, 'get_config', { env: 'prod' }, `w${i}`)))
    }
    expect(Math.max(...seen)).toBe(0)
  })

  it('takes a free call polled as a run every second or two (a LangChain tool) for polling', () => {
    // Red team rt35: tool.invoke every 2 s with the callback handler, a run per poll, each the
    // same free status call: revoked at the 6th poll.
    const polls = (periodMs: number) =>
      Array.from({ length: 8 }, (_, i) => [
        toolCall(T0 + i * periodMs, 'get_job_status', { jobId: 'job-7f3a' }, `poll-${i}`),
        toolResult(T0 + i * periodMs + 100, 'get_job_status', true, `poll-${i}`),
      ])
    expect(Math.max(...streaks(polls(2_000)))).toBe(1)
    expect(Math.max(...streaks(polls(1_000)))).toBe(1)
    // The same call again at its own pace, by code: a loop.
    expect(streaks(polls(300)).at(-1)).toBe(7)
    // Red team rt36: a model guarded with no run (guardModel) asking for the call each lap,
    // 1 s steps, the tools a run each: the tools wait on the model, a loop.
    const laps = Array.from({ length: 8 }, (_, i) => {
      const at = T0 + i * 1_200
      return [
        modelCall(at),
        modelResult(at + 1_000),
        toolCall(at + 1_010, 'get_export', { exportId: 'exp-7' }, `tool-${i}`),
        toolResult(at + 1_100, 'get_export', true, `tool-${i}`),
      ]
    })
    const streak = new RunStreak()
    const seen = laps.map((events) => events.map((event) => streak.see(event))[2] as number)
    expect(seen.at(-1)).toBe(7)
  })

  it('takes a model run and the tool run after it for one lap (a callback handler with no run id): the same laps are a loop, tickets are not', () => {
    // Red team rt37: LangChain's classic loop, model.invoke then tool.invoke, a run each: each
    // tool run alone made no chain (a model run, with no tool call, broke it): 338 searches.
    const laps = (plan: (lap: number) => string) =>
      Array.from({ length: 8 }, (_, lap) => {
        const at = T0 + lap * 1_300
        return [
          modelCall(at, `model-${lap}`),
          modelResult(at + 1_000, { output: plan(lap), runId: `model-${lap}` }),
          toolCall(at + 1_010, 'search', { q: 'acme pricing' }, `tool-${lap}`),
          spend(at + 1_200, 50_000, `tool-${lap}`),
          toolResult(at + 1_200, 'search', true, `tool-${lap}`),
        ]
      })
    const atToolRuns = (runs: RunawayEvent[][]) => {
      const streak = new RunStreak()
      return runs.map((events) => events.map((event) => streak.see(event))[2] as number)
    }
    expect(atToolRuns(laps(() => 'search acme pricing')).at(-1)).toBeGreaterThanOrEqual(5)
    // A ticket per lap: the model answers each differently before the same lookup.
    expect(Math.max(...atToolRuns(laps((lap) => `ticket ${lap}: look up the policy`)))).toBe(1)
  })

  it('takes an app asking the model again after a sleep, a run per ask, for polling (red team rt38)', () => {
    // Each ask: the model calls the status tool, then answers "still running"; the app sleeps
    // before the next ask. A run per ask (a run id per request, or LangChain's handler).
    const asks = (sleepMs: number) =>
      Array.from({ length: 8 }, (_, i) => {
        const runId = `ask-${i}`
        const at = T0 + i * (1_700 + sleepMs)
        return [
          modelCall(at, runId),
          modelResult(at + 700, { output: 'get_job_status', runId }),
          toolCall(at + 710, 'get_job_status', { jobId: 'j-1' }, runId),
          toolResult(at + 800, 'get_job_status', true, runId),
          modelCall(at + 810, runId),
          modelResult(at + 1_700, { output: 'still running', runId }),
        ]
      })
    expect(Math.max(...streaks(asks(600)))).toBe(1)
    // Asked again at once: a loop.
    expect(streaks(asks(20)).at(-1)).toBeGreaterThanOrEqual(5)
  })
})
