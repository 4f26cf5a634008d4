import { describe, expect, it } from 'vitest'
import type { ActivityEvent } from '../../store.js'
import { modelCall, modelResult, toolCall, toolResult } from '../activity-fixtures.js'
import { DEFAULT_RUNAWAY_CONFIG } from '../runaway-defaults.js'
import { detectNoProgress } from './no-progress.js'

const config = DEFAULT_RUNAWAY_CONFIG.noProgress
const T0 = 1_700_000_000_000
const RUN = 'run-1'

function steps(outputs: string[], runId: string | undefined = RUN): ActivityEvent[] {
  return outputs.flatMap((output, i) => [
    modelCall(T0 + i * 1000, runId),
    modelResult(T0 + i * 1000 + 500, { output, runId }),
  ])
}

const judge = (window: ActivityEvent[], options = config) =>
  detectNoProgress(window, (window[window.length - 1] as ActivityEvent).at, options)

describe('detectNoProgress', () => {
  it('warns at three identical outputs and trips exactly at five', () => {
    const same = (n: number) => Array.from({ length: n }, () => 'I will try again.')
    expect(judge(steps(same(2))).status).toBe('ok')
    expect(judge(steps(same(3))).status).toBe('warn')
    expect(judge(steps(same(4))).status).toBe('warn')
    expect(judge(steps(same(5)))).toMatchObject({
      status: 'trip',
      evidence: { count: 5, tripAt: 5, withinResults: 10 },
    })
  })

  it('judges window[start..end) only: what lies before start is not the window', () => {
    const events = steps(Array.from({ length: 5 }, () => 'I will try again.'))
    const now = (events.at(-1) as ActivityEvent).at
    expect(detectNoProgress(events, now, config, events.length, 0).status).toBe('trip')
    // The first two repeats lie before the window: three are left in it.
    expect(detectNoProgress(events, now, config, events.length, 4)).toMatchObject({
      status: 'warn',
      evidence: { count: 3 },
    })
  })

  it('counts repeats that alternate with other outputs', () => {
    expect(judge(steps(['x', 'y', 'x', 'y', 'x', 'y', 'x', 'y', 'x'])).status).toBe('trip')
  })

  it('never flags a long run that keeps producing new output', () => {
    const window = steps(Array.from({ length: 200 }, (_, i) => `step ${i}`))
    for (let end = 2; end <= window.length; end += 2)
      expect(judge(window.slice(0, end)).status).toBe('ok')
  })

  it('takes a free call waited on (a sleep tool) between the same outputs for a pause', () => {
    // The model polls a deploy: "still running, sleep" then a 10 s sleep call, 8 times.
    const lap = (i: number, sleepMs: number): ActivityEvent[] => {
      const at = T0 + i * (sleepMs + 1_540)
      return [
        modelCall(at, RUN),
        modelResult(at + 1_500, { output: 'still deploying: sleep 10 s', runId: RUN }),
        toolCall(at + 1_520, 'sleep', { seconds: 10 }, RUN),
        toolResult(at + 1_520 + sleepMs, 'sleep', true, RUN),
      ]
    }
    const paced = Array.from({ length: 8 }, (_, i) => lap(i, 10_000)).flat()
    expect(judge(paced.slice(0, -2)).status).toBe('ok')
    // The same outputs without the wait (a sleep of 50 ms) are a loop.
    const rushed = Array.from({ length: 8 }, (_, i) => lap(i, 50)).flat()
    expect(judge(rushed.slice(0, -2)).status).toBe('trip')
  })

  it('still trips at the next call after the repeats (the state persists)', () => {
    const window = [...steps(Array.from({ length: 5 }, () => 'same')), modelCall(T0 + 5_000, RUN)]
    expect(judge(window).status).toBe('trip')
    window.push(toolCall(T0 + 5_500, 'search', { q: 1 }, RUN))
    expect(judge(window).status).toBe('trip')
  })

  it('ignores results without an output hash and results outside windowMs', () => {
    const window = [...steps(['a', 'a', 'a', 'a', 'a']), modelResult(T0 + 6_000, { runId: RUN })]
    expect(judge(window).status).toBe('trip')
    expect(judge(window, { ...config, windowMs: 2_000 }).status).toBe('ok')
  })

  it('scopes to the run: the same greeting in many conversations is not a loop', () => {
    const window = Array.from({ length: 8 }, (_, i) =>
      steps(['Hello! How can I help?'], `conversation-${i}`),
    ).flat()
    expect(judge(window).status).toBe('ok')
  })

  it('does not judge without a run id: a classifier giving one label 1,000 times is not a loop', () => {
    const window = Array.from({ length: 1_000 }, (_, i) => [
      modelCall(T0 + i * 250),
      modelResult(T0 + i * 250 + 200, { output: 'yes' }),
    ])
      .flat()
      .slice(-256)
    expect(judge(window).status).toBe('ok')
    expect(judge(steps(['no', 'no', 'no', 'no', 'no'], 'run-2')).status).toBe('trip')
  })

  it('never puts the output in the evidence', () => {
    const finding = judge(steps(Array.from({ length: 5 }, () => 'the secret plan')))
    expect(JSON.stringify(finding)).not.toContain('secret')
    expect(finding.evidence?.outputHash).toMatch(/^[0-9a-f]{16}$/)
  })

  it('does not judge a run whose calls overlap: a map of parallel yes/no labels', () => {
    const labels = steps(Array.from({ length: 10 }, () => 'yes'))
    expect(judge(labels).status).toBe('trip')
    const at = (labels[labels.length - 1] as ActivityEvent).at
    expect(detectNoProgress(labels, at, config, labels.length, 0, true).status).toBe('ok')
  })

  it('counts only since the last pause: an agent polling every 5 s says the same thing', () => {
    const window: ActivityEvent[] = []
    for (let i = 0; i < 10; i++) {
      const at = T0 + i * 5_000
      window.push(
        modelCall(at, RUN),
        modelResult(at + 800, { output: 'still running: check again', runId: RUN }),
        toolCall(at + 810, 'get_job_status', { job: 1 }, RUN),
        toolResult(at + 960, 'get_job_status', true, RUN),
      )
    }
    // Judged at the last model result: drop the last poll's call and result.
    window.length -= 2
    expect(judge(window).status).toBe('ok')
    // The same steps without the wait (a step every second): a loop.
    const busy = window.map((event, i) => ({ ...event, at: T0 + i * 250 }))
    expect(judge(busy).status).toBe('trip')
  })
})
