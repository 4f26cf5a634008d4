import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import type { ActivityEvent } from '../../store.js'
import { modelCall, modelResult, toolCall, toolResult } from '../activity-fixtures.js'
import { DEFAULT_RUNAWAY_CONFIG } from '../runaway-defaults.js'
import { detectToolCycle, WALK_LAPS } from './tool-cycle.js'

const config = DEFAULT_RUNAWAY_CONFIG.toolCycle
const WORDS =
  'alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike november oscar papa quebec romeo sierra tango'.split(
    ' ',
  )
const T0 = 1_700_000_000_000
/** A $20 cap, in micro-dollars. */
const CAP = 20_000_000

const CALLS: Record<string, [string, unknown]> = {
  A: ['open_page', { url: 'https://example.com/a' }],
  B: ['go_back', {}],
  C: ['scroll', { by: 500 }],
  D: ['click', { selector: '#next' }],
  E: ['screenshot', {}],
}

/** `'ABAB'` as tool calls a second apart, each followed by its result and a model step. */
function sequence(letters: string, runId?: string): ActivityEvent[] {
  const window: ActivityEvent[] = []
  ;[...letters].forEach((letter, i) => {
    const [tool, args] = CALLS[letter] as [string, unknown]
    if (i > 0)
      window.push(
        toolResult(T0 + i * 1000 - 500, 'x', true, runId),
        modelCall(T0 + i * 1000 - 100, runId),
        modelResult(T0 + i * 1000 - 50, { runId }),
      )
    window.push(toolCall(T0 + i * 1000, tool, args, runId))
  })
  return window
}

/**
 * The red team's run: a model step (0.9-1.6 s), then `list_issues` of a page, a model step,
 * then `get_issue` of an issue, `laps` times, as an agent walks the issues of a repo; each
 * call judged as it is made. `page(lap)` and `issue(lap)` give the arguments; `sleepMs` idles
 * after each lap. The model steps cost `stepMicros` ($0.002: under 1% of the $20 cap a lap).
 */
function walk(
  laps: number,
  options: {
    page?: (lap: number) => number
    issue?: (lap: number) => number
    runId?: string
    sleepMs?: number
    stepMicros?: number
  } = {},
) {
  const { page = (lap) => lap + 1, issue = (lap) => 101 + ((lap * 104) % 900) } = options
  const { runId, sleepMs = 0, stepMicros = 2_000 } = options
  const window: ActivityEvent[] = []
  const findings = []
  let at = T0
  for (let step = 0; step < 2 * laps; step++) {
    const lap = Math.floor(step / 2)
    const [tool, args] =
      step % 2 === 0
        ? ['list_issues', { repo: 'acme/api', page: page(lap) }]
        : ['get_issue', { repo: 'acme/api', number: issue(lap) }]
    window.push(modelCall(at, runId))
    at += 900 + ((step * 373) % 701)
    window.push(modelResult(at, { micros: stepMicros, runId }))
    at += 20
    window.push(toolCall(at, tool, args, runId))
    findings.push(detectToolCycle(window, at, config, false, undefined, CAP))
    at += 250
    window.push(toolResult(at, tool, true, runId))
    at += 20 + (step % 2 === 1 ? sleepMs : 0)
  }
  return findings
}

/** The first call (1-based) whose finding is `status`, and that finding. */
function first(findings: ReturnType<typeof walk>, status: 'warn' | 'trip') {
  const index = findings.findIndex((finding) => finding.status === status)
  return { call: index + 1, finding: findings[index] }
}

const judge = (letters: string, options = config) => {
  const window = sequence(letters)
  return detectToolCycle(window, (window[window.length - 1] as ActivityEvent).at, options)
}

describe('detectToolCycle', () => {
  it('warns at two repetitions of A-B and trips at three', () => {
    expect(judge('ABA').status).toBe('ok')
    expect(judge('ABAB').status).toBe('warn')
    expect(judge('ABABA').status).toBe('warn')
    expect(judge('ABABAB').status).toBe('trip')
  })

  it('finds cycles of three and four calls', () => {
    expect(judge('ABCABCAB').status).toBe('warn')
    expect(judge('ABCABCABC').status).toBe('trip')
    expect(judge('ABCDABCDABC').status).toBe('warn')
    expect(judge('ABCDABCDABCD')).toMatchObject({
      status: 'trip',
      evidence: { period: 4, repetitions: 3 },
    })
  })

  it('reports the cycle by tool names and hashes', () => {
    const finding = judge('CABABAB')
    expect(finding.summary).toContain('open_page -> go_back')
    expect(finding.evidence).toMatchObject({ period: 2, repetitions: 3, tripAt: 3 })
    const cycle = finding.evidence?.cycle as Array<{ tool: string; argsHash: string }>
    expect(cycle.map((call) => call.tool)).toEqual(['open_page', 'go_back'])
    expect(cycle[0]?.argsHash).toMatch(/^[0-9a-f]{16}$/)
    expect(finding.evidence?.calls).toHaveLength(6)
    expect(JSON.stringify(finding)).not.toContain('example.com')
  })

  it('does not look for cycles longer than maxPeriod', () => {
    expect(judge('ABCDEABCDEABCDE', { ...config, maxPeriod: 4 }).status).toBe('ok')
    expect(judge('ABCDEABCDEABCDE', { ...config, maxPeriod: 5 }).status).toBe('trip')
  })

  it('finds identical cycles of 5 to 8 calls by default (a loop over 5 paid tools)', () => {
    expect(judge('ABCDEABCDEABCD').status).toBe('warn')
    expect(judge('ABCDEABCDEABCDE')).toMatchObject({
      status: 'trip',
      evidence: { period: 5, repetitions: 3, maxPeriod: 8 },
    })
    const eight = Array.from({ length: 8 }, (_, i) => [`tool_${i}`, { q: 'acme' }] as const)
    const window: ActivityEvent[] = []
    for (let n = 0; n < 24; n++) {
      const [tool, args] = eight[n % 8] as (typeof eight)[number]
      window.push(
        toolCall(T0 + n * 1_000, tool, args),
        toolResult(T0 + n * 1_000 + 300, tool, true),
      )
    }
    window.pop()
    expect(detectToolCycle(window, T0 + 23_000, config)).toMatchObject({
      status: 'trip',
      evidence: { period: 8, repetitions: 3 },
    })
  })

  it('looks for cycles of similar calls only up to normalizedMaxPeriod (pagination over sources)', () => {
    // Five sources in turn, the next page of each every lap: the same shapes, new calls.
    const window: ActivityEvent[] = []
    for (let n = 0; n < 20; n++) {
      const tool = `search_${n % 5}`
      window.push(modelCall(T0 + n * 1_000, 'r'), modelResult(T0 + n * 1_000 + 500, { runId: 'r' }))
      window.push(
        toolCall(T0 + n * 1_000 + 510, tool, { q: 'acme', page: 1 + Math.floor(n / 5) }, 'r'),
      )
      if (n < 19) window.push(toolResult(T0 + n * 1_000 + 800, tool, true, 'r'))
    }
    const now = T0 + 19_510
    expect(detectToolCycle(window, now, config).status).toBe('ok')
    expect(detectToolCycle(window, now, { ...config, normalizedMaxPeriod: 5 })).toMatchObject({
      status: 'trip',
      evidence: { match: 'similar', period: 5, repetitions: 4 },
    })
  })

  it('counts laps since a free pause only; a cycle that keeps paying is counted through its sleeps', () => {
    // Three jobs polled in turn every 5 s (free): each round follows a pause.
    const poll = (paid: boolean) => {
      const window: ActivityEvent[] = []
      let at = T0
      for (let round = 0; round < 4; round++) {
        if (paid) {
          window.push(modelCall(at), modelResult(at + 900, { micros: 250_000 }))
          at += 910
        }
        for (const job of ['j1', 'j2', 'j3']) {
          window.push(toolCall(at, 'get_status', { job }), toolResult(at + 200, 'get_status', true))
          at += 210
        }
        at += 5_000
      }
      window.pop()
      return detectToolCycle(window, (window[window.length - 1] as ActivityEvent).at, config)
    }
    expect(poll(false).status).toBe('ok')
    expect(poll(true)).toMatchObject({ status: 'trip', evidence: { period: 3 } })
  })

  it('ends the laps at a free call waited on (a sleep tool) unless the lap pays 1% of the cap', () => {
    // A model step, sleep 10 s, a model step, the same status call: a model polling a deploy.
    const poller = (modelMicros: number) => {
      const window: ActivityEvent[] = []
      const statuses: string[] = []
      for (let lap = 0; lap < 6; lap++) {
        const at = T0 + lap * 14_000
        window.push(
          modelCall(at, 'r'),
          modelResult(at + 1_500, { micros: modelMicros, runId: 'r' }),
        )
        window.push(toolCall(at + 1_520, 'sleep', { seconds: 10 }, 'r'))
        statuses.push(detectToolCycle(window, at + 1_520, config, false, undefined, CAP).status)
        window.push(toolResult(at + 11_520, 'sleep', true, 'r'), modelCall(at + 11_540, 'r'))
        window.push(modelResult(at + 13_000, { micros: modelMicros, runId: 'r' }))
        window.push(toolCall(at + 13_020, 'get_deploy_status', { id: 'dep_42' }, 'r'))
        statuses.push(detectToolCycle(window, at + 13_020, config, false, undefined, CAP).status)
        window.push(toolResult(at + 13_420, 'get_deploy_status', true, 'r'))
      }
      return statuses
    }
    // $0.002 a step on a $20 cap: the sleep is the poller's wait.
    expect(poller(2_000).every((status) => status === 'ok')).toBe(true)
    // $0.25 a step: 2.5% of the cap a lap, a paying loop, counted through its sleeps.
    expect(poller(250_000)).toContain('trip')
  })

  it('needs the repetitions back to back: a new call in between breaks the cycle', () => {
    expect(judge('ABABEAB').status).toBe('ok')
    expect(judge('ABAEBAB').status).toBe('ok')
    expect(judge('ABEABEAB').status).toBe('warn') // A-B-E is the cycle here, not A-B
  })

  it('leaves a single repeated call to repeated-tool-call', () => {
    expect(judge('AAAAAAAA').status).toBe('ok')
  })

  it('never flags alternating tools whose arguments change (search, read, search, read)', () => {
    const window: ActivityEvent[] = []
    for (let i = 0; i < 40; i++) {
      window.push(
        toolCall(T0 + i * 2, 'search', { q: `topic ${WORDS[i % 20]} ${WORDS[(i * 7) % 20]}` }),
        toolCall(T0 + i * 2 + 1, 'read', { url: `https://r/${WORDS[(i * 3) % 20]}/${i}` }),
      )
      expect(detectToolCycle(window, T0 + i * 2 + 1, config).status).toBe('ok')
    }
  })

  it('throttles a cycle whose arguments differ only by counters and ids at normalizedTripAt laps', () => {
    // A search with a counter, then the same page read again: one call comes back each lap.
    const window: ActivityEvent[] = []
    const statuses: string[] = []
    for (let i = 0; i < 4; i++) {
      window.push(
        toolCall(T0 + i * 2, 'search', { q: `topic ${i}` }),
        toolCall(T0 + i * 2 + 1, 'read', { url: 'https://r/pricing' }),
      )
      const finding = detectToolCycle(window, T0 + i * 2 + 1, config)
      statuses.push(`${finding.status} ${finding.action ?? '-'}`)
    }
    expect(statuses).toEqual(['ok -', 'ok -', 'warn block', 'trip block'])
    // Three calls a lap, every one new (a timestamp, an attempt, a filter counting up): 4 laps.
    const three: ActivityEvent[] = []
    for (let i = 0; i < 4; i++) {
      three.push(toolCall(T0 + i * 3, 'list_files', { dir: 'src', at: `2026-01-01T00:00:0${i}Z` }))
      three.push(toolCall(T0 + i * 3 + 1, 'read_file', { path: 'src/index.ts', attempt: i }))
      three.push(toolCall(T0 + i * 3 + 2, 'run_tests', { filter: `index ${i}` }))
    }
    expect(detectToolCycle(three, T0 + 11, config)).toMatchObject({
      status: 'trip',
      action: 'block',
      evidence: { match: 'similar', period: 3, repetitions: 4 },
    })
  })

  it("leaves a list-then-open walk over new pages and issues to repeated-tool-call's count (the red team's 30 steps)", () => {
    // page 1, 2, 3... and a new issue each time, no pause: each shape is every other call,
    // counted by repeated-tool-call's similar tier as one tool paging is (10 laps).
    for (const runId of ['triage-1', undefined]) {
      const findings = walk(15, { runId })
      expect(findings).toHaveLength(30)
      expect(findings.filter((finding) => finding.status !== 'ok')).toEqual([])
    }
    // The same walk re-reading the same page and the same issue: a loop, revoked at 3 laps.
    const loop = first(walk(15, { page: () => 1, issue: () => 101 }), 'trip')
    expect(loop.call).toBe(6)
    expect(loop.finding).toMatchObject({ evidence: { match: 'identical', period: 2 } })
    expect(loop.finding?.action).toBeUndefined() // the configured action: revoke
  })

  it('tells a walk from a loop hiding behind a counter: a call that comes back in its laps', () => {
    expect(walk(15).every((finding) => finding.status === 'ok')).toBe(true)
    const trips = {
      // The same page every lap (a note with a counter between the same search)...
      samePage: first(walk(15, { page: () => 1 }), 'trip'),
      // ...the same issue every lap...
      sameIssue: first(walk(15, { issue: () => 101 }), 'trip'),
      // ...or pages 1-3 over and over: from the 4th lap, page 1 is in the laps twice.
      pagesComeBack: first(walk(15, { page: (lap) => 1 + (lap % 3) }), 'trip'),
    }
    for (const { call, finding } of Object.values(trips)) {
      expect(call).toBe(2 * config.normalizedTripAt)
      expect(finding).toMatchObject({
        action: 'block',
        evidence: { match: 'similar', period: 2, tripAt: config.normalizedTripAt },
      })
      expect(finding?.evidence?.walk).toBeUndefined()
    }
  })

  it('judges a walk whose laps go on past a pause (a paying loop that sleeps) at WALK_LAPS laps', () => {
    // $0.25 a model step (2.5% of the cap a lap): counted through a 2.5 s sleep after each lap,
    // which ends repeated-tool-call's count.
    const paced = walk(12, { sleepMs: 2_500, stepMicros: 250_000 })
    expect(first(paced, 'warn').call).toBe(2 * (WALK_LAPS - 1))
    const trip = first(paced, 'trip')
    expect(trip.call).toBe(2 * WALK_LAPS)
    expect(trip.finding).toMatchObject({
      action: 'block',
      evidence: { match: 'similar', walk: true, period: 2, repetitions: WALK_LAPS },
    })
    expect(trip.finding?.summary).toContain('every call new, through a pause (trips at 10)')
    // Free steps: the sleep ends the laps, as it does for any cycle.
    expect(walk(12, { sleepMs: 2_500, stepMicros: 0 }).every((f) => f.status === 'ok')).toBe(true)
    // Past a pause, a call that comes back still trips at normalizedTripAt laps.
    const samePage = walk(12, { sleepMs: 2_500, stepMicros: 250_000, page: () => 1 })
    expect(first(samePage, 'trip').call).toBe(2 * config.normalizedTripAt)
  })

  it('stands aside when three model calls run at once in the window (several threads, no cycle)', () => {
    const window = sequence('ABABAB')
    expect(detectToolCycle(window, T0 + 5_000, config).status).toBe('trip')
    // One long stream beside the loop: still a cycle.
    expect(detectToolCycle([modelCall(T0 - 10), ...window], T0 + 5_000, config).status).toBe('trip')
    const threads = window.filter((event) => event.kind !== 'model_result')
    expect(detectToolCycle(threads, T0 + 5_000, config).status).toBe('ok')
    expect(detectToolCycle(window, T0 + 5_000, config, true).status).toBe('ok')
  })

  it('only counts calls within windowMs', () => {
    const window = sequence('ABABAB')
    expect(detectToolCycle(window, T0 + 5_000, { ...config, windowMs: 3_500 }).status).toBe('warn')
  })

  it('scopes to the run of the current call', () => {
    const window = [...sequence('ABAB', 'run-1'), ...sequence('AB', 'run-2')]
    expect(detectToolCycle(window, T0 + 10_000, config).status).toBe('ok')
  })

  it('never flags a window of distinct calls (property)', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.integer(), { minLength: 1, maxLength: 40 }), (ids) => {
        // Identical-argument cycles only: the ids differ, so at most a similar cycle is seen.
        const window = ids.map((id, i) => toolCall(T0 + i, `tool-${id % 3}`, { id }))
        const finding = detectToolCycle(window, T0 + ids.length, config)
        return finding.status === 'ok' || finding.evidence?.match === 'similar'
      }),
    )
  })

  it('trips on any cycle of 2 to 4 distinct calls repeated three times (property)', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.integer(), { minLength: 2, maxLength: 4 }),
        fc.array(fc.integer(), { maxLength: 5 }),
        (cycle, prefix) => {
          const ids = [...prefix.map((n) => `p${n}`), ...cycle, ...cycle, ...cycle].map(String)
          const window = ids.map((id, i) => toolCall(T0 + i, 'tool', { id }))
          const finding = detectToolCycle(window, T0 + ids.length, config)
          return finding.status === 'trip' && finding.evidence?.period === cycle.length
        },
      ),
    )
  })
})
