import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import type { ActivityEvent } from '../../store.js'
import { modelCall, modelResult, spend, toolCall, toolResult } from '../activity-fixtures.js'
import { canonicalHash } from '../canonical-hash.js'
import { DEFAULT_RUNAWAY_CONFIG } from '../runaway-defaults.js'
import { detectRepeatedToolCall } from './repeated-tool-call.js'

const config = DEFAULT_RUNAWAY_CONFIG.repeatedToolCall
const T0 = 1_700_000_000_000

/** `n` agent steps calling `tool` with `args`, one a second, with model calls in between. */
function loop(
  n: number,
  tool: string,
  args: (i: number) => unknown,
  runId?: string,
): ActivityEvent[] {
  const window: ActivityEvent[] = []
  for (let i = 0; i < n; i++) {
    const at = T0 + i * 1_000
    window.push(
      modelCall(at, runId),
      modelResult(at + 100, { runId }),
      toolCall(at + 200, tool, args(i), runId),
    )
    if (i < n - 1) window.push(toolResult(at + 300, tool, true, runId))
  }
  return window
}

const lastAt = (window: ActivityEvent[]) => (window[window.length - 1] as ActivityEvent).at

/** A call and, unless it is the last, its result (a loop waits for each result). */
const calls = (list: Array<[number, string, unknown]>): ActivityEvent[] =>
  list.flatMap(([at, tool, args], i) =>
    i < list.length - 1
      ? [toolCall(at, tool, args), toolResult(at + 1, tool, true)]
      : [toolCall(at, tool, args)],
  )

describe('detectRepeatedToolCall', () => {
  it('is ok below warnAt, warns from warnAt, trips exactly at tripAt', () => {
    const statuses = [1, 2, 3, 4, 5, 6].map((n) => {
      const window = loop(n, 'search', () => ({ q: 'pricing' }))
      return detectRepeatedToolCall(window, lastAt(window), config).status
    })
    expect(statuses).toEqual(['ok', 'ok', 'warn', 'warn', 'trip', 'trip'])
  })

  it('names the tool, its thresholds and the calls by hash, never the argument values', () => {
    const window = loop(5, 'search', () => ({ q: 'secret-customer-name' }))
    const finding = detectRepeatedToolCall(window, lastAt(window), config)
    expect(finding).toMatchObject({
      detector: 'repeated-tool-call',
      status: 'trip',
      evidence: {
        tool: 'search',
        argsHash: canonicalHash({ q: 'secret-customer-name' }),
        count: 5,
        tripAt: 5,
        warnAt: 3,
      },
    })
    expect(finding.evidence?.calls).toHaveLength(5)
    expect(finding.summary).toContain('search called 5 times')
    expect(JSON.stringify(finding)).not.toContain('secret-customer-name')
  })

  it('tells a similar-arguments finding without a run id how separate tasks avoid it', () => {
    // A templated worker: the same tool on another id each task, no run id.
    const bare = loop(10, 'lookup', (i) => ({ id: 10_000 + i }))
    const finding = detectRepeatedToolCall(bare, lastAt(bare), config)
    expect(finding.status).toBe('trip')
    expect(finding.summary).toMatch(
      /no run id: if these are separate tasks, give each its own runId$/,
    )
    // In a run, or the very same call again (a loop whatever the run): nothing to suggest.
    const inRun = loop(10, 'lookup', (i) => ({ id: 10_000 + i }), 'run-1')
    const identical = loop(5, 'lookup', () => ({ id: 1 }))
    for (const window of [inRun, identical]) {
      const other = detectRepeatedToolCall(window, lastAt(window), config)
      expect(other.status).toBe('trip')
      expect(other.summary).not.toContain('runId')
    }
  })

  it('treats arguments with keys in another order as the same call', () => {
    const window = loop(5, 'search', (i) => (i % 2 ? { q: 'x', page: 1 } : { page: 1, q: 'x' }))
    expect(detectRepeatedToolCall(window, lastAt(window), config).status).toBe('trip')
  })

  it('never flags the same tool with different arguments', () => {
    const word = (i: number) => `q${String.fromCharCode(97 + (i % 26), 97 + Math.floor(i / 26))}`
    const window = loop(60, 'search', (i) => ({ q: word(i), lang: 'en' }))
    for (let end = 1; end <= window.length; end++) {
      const prefix = window.slice(0, end)
      expect(detectRepeatedToolCall(prefix, lastAt(prefix), config).status).toBe('ok')
    }
  })

  it('only counts calls within windowMs: polling every 30 s is never a loop', () => {
    // Five identical calls, three minutes apart: 12 minutes in all, more than the 1-minute window.
    const window = calls([0, 1, 2, 3, 4].map((i) => [T0 + i * 180_000, 'poll', { job: 1 }]))
    expect(detectRepeatedToolCall(window, lastAt(window), config).status).toBe('ok')
    const polls = calls(
      Array.from({ length: 120 }, (_, i) => [T0 + i * 30_000, 'poll', { job: 1 }] as const),
    )
    for (let end = 1; end <= polls.length; end++) {
      const prefix = polls.slice(0, end)
      expect(detectRepeatedToolCall(prefix, lastAt(prefix), config).status).toBe('ok')
    }
    // Whatever the window: each poll follows a pause (a poller waits, a loop does not).
    expect(
      detectRepeatedToolCall(window, lastAt(window), { ...config, windowMs: 24 * 3_600_000 })
        .status,
    ).toBe('ok')
  })

  it('only counts the last withinCalls tool calls', () => {
    const list: Array<[number, string, unknown]> = []
    for (let i = 0; i < 5; i++) {
      list.push([T0 + i * 1000, 'read', { path: 'a.ts' }])
      // 5 other calls in between: the 5 reads span 25 tool calls, over withinCalls (20).
      for (let j = 0; j < 5; j++)
        list.push([T0 + i * 1000 + 10 * j + 10, 'edit', { n: i * 10 + j }])
    }
    list.push([T0 + 5_000, 'read', { path: 'a.ts' }])
    const window = calls(list)
    expect(detectRepeatedToolCall(window, T0 + 5_000, config).evidence?.count).toBe(4)
    expect(detectRepeatedToolCall(window, T0 + 5_000, { ...config, withinCalls: 40 }).status).toBe(
      'trip',
    )
  })

  it('scopes to the run when the call has a run id: one lookup per conversation is not a loop', () => {
    const window: ActivityEvent[] = []
    for (let i = 0; i < 8; i++)
      window.push(toolCall(T0 + i, 'lookup_policy', {}, `conversation-${i}`))
    expect(detectRepeatedToolCall(window, T0 + 8, config).status).toBe('ok')
    const sameRun = loop(5, 'lookup_policy', () => ({}), 'conversation-1')
    expect(detectRepeatedToolCall(sameRun, lastAt(sameRun), config).status).toBe('trip')
  })

  it('throttles (normalizedAction) at normalizedTripAt calls whose arguments differ only by a counter', () => {
    const statuses = [5, 6, 9, 10].map((n) => {
      const window = loop(n, 'search', (i) => ({ q: 'acme pricing', attempt: i }))
      const finding = detectRepeatedToolCall(window, lastAt(window), config)
      return `${finding.status} ${finding.action ?? '-'} ${finding.evidence?.match ?? '-'}`
    })
    expect(statuses).toEqual([
      'ok - -',
      'warn block similar',
      'warn block similar',
      'trip block similar',
    ])
  })

  it('treats case, spacing, ids, timestamps and word order as the same shape, never as identical', () => {
    const queries = ['Acme  Pricing', 'pricing acme', 'ACME pricing!', ' acme\tpricing ']
    const window = loop(10, 'search', (i) => ({
      q: queries[i % 4],
      id: `${(0x0f8fad5b + i).toString(16)}-d9cb-469f-a165-70867728950e`,
      at: `2026-01-01T10:00:${String(i * 5).padStart(2, '0')}Z`,
    }))
    expect(detectRepeatedToolCall(window, lastAt(window), config)).toMatchObject({
      status: 'trip',
      action: 'block',
      evidence: { match: 'similar', count: 10 },
    })
  })

  it('does not judge the calls of a scope whose calls overlap (concurrency is not a loop)', () => {
    const window = calls(
      Array.from({ length: 30 }, (_, i) => [T0 + i * 10, 'fetch_page', { url: 'https://a.dev/a' }]),
    )
    expect(detectRepeatedToolCall(window, T0 + 300, config, true).status).toBe('ok')
    expect(detectRepeatedToolCall(window, T0 + 300, config, false).status).toBe('trip')
  })

  it('stands aside when three model calls run at once in the window (workers in other processes)', () => {
    const step = (at: number, overlap: boolean) => [
      modelCall(at),
      ...(overlap ? [modelCall(at + 50), modelCall(at + 60)] : []),
      modelResult(at + 100),
      ...(overlap ? [modelResult(at + 150), modelResult(at + 160)] : []),
      toolCall(at + 200, 'get_config', { env: 'prod' }),
      toolResult(at + 300, 'get_config', true),
    ]
    const sequential = Array.from({ length: 5 }, (_, i) => step(T0 + i * 1_000, false)).flat()
    sequential.pop()
    expect(detectRepeatedToolCall(sequential, T0 + 4_200, config).status).toBe('trip')
    const workers = Array.from({ length: 5 }, (_, i) => step(T0 + i * 1_000, i === 2)).flat()
    workers.pop()
    expect(detectRepeatedToolCall(workers, T0 + 4_200, config).status).toBe('ok')
  })

  it('counts the calls of one model step once (parallel tool calls are not repetitions)', () => {
    const step = (at: number) => [
      modelCall(at),
      modelResult(at + 100),
      ...[1, 2, 3].map((n) => toolCall(at + 200 + n, 'fetch_page', { url: `https://a.dev/${n}` })),
    ]
    const window = [...step(T0), ...step(T0 + 2_000), ...step(T0 + 4_000)]
    // 9 calls of one shape, 3 of them identical, in 3 steps: 3 repetitions, not 9.
    expect(detectRepeatedToolCall(window, T0 + 4_203, config)).toMatchObject({
      status: 'warn',
      evidence: { match: 'identical', count: 3 },
    })
    expect(
      detectRepeatedToolCall(window, T0 + 4_203, { ...config, normalizedTripAt: 3 }),
    ).toMatchObject({
      status: 'trip',
      evidence: { count: 3 },
    })
  })

  it('judges only a tool call', () => {
    const window = loop(6, 'search', () => ({ q: 1 }))
    window.push(toolResult(T0 + 10_000, 'search', true))
    expect(detectRepeatedToolCall(window, T0 + 10_000, config).status).toBe('ok')
  })

  it('never revokes a window of distinct calls (property): at most the similar tier throttles', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.tuple(fc.constantFrom('a', 'b', 'c'), fc.integer()), {
          selector: ([tool, n]) => `${tool}:${n}`,
          maxLength: 60,
          minLength: 1,
        }),
        (calls) => {
          const window = calls.map(([tool, n], i) => toolCall(T0 + i, tool, { n }))
          const finding = detectRepeatedToolCall(window, T0 + calls.length, config)
          return finding.status === 'ok' || finding.evidence?.match === 'similar'
        },
      ),
    )
  })

  it('counts a retry after its own failure as the same attempt (p-retry backoff: 1, 2, 4, 8 s)', () => {
    const window: ActivityEvent[] = []
    let at = T0
    for (let attempt = 0; attempt < 5; attempt++) {
      window.push(toolCall(at, 'search_api', { q: 'acme' }))
      if (attempt < 4) window.push(toolResult(at + 100, 'search_api', false))
      at += 100 + 500 // retried quickly: no pause, only the failures in between
    }
    expect(detectRepeatedToolCall(window, lastAt(window), config).status).toBe('ok')
    // A model step between the failures: the model asks again, a loop's repetition.
    const asked = loop(5, 'search_api', () => ({ q: 'acme' })).map((event) =>
      event.kind === 'tool_result' ? { ...event, ok: false } : event,
    )
    expect(detectRepeatedToolCall(asked, lastAt(asked), config).status).toBe('trip')
  })

  it('does not count a check repeated between new edits: a coding agent running npm test', () => {
    const files = ['parser', 'lexer', 'router', 'cache', 'auth', 'queue', 'config', 'logger']
    const window: ActivityEvent[] = []
    const statuses: string[] = []
    files.forEach((file, i) => {
      const at = T0 + i * 4_000
      const edit = { path: `src/${file}.ts`, old_string: 'return null', new_string: `${file}()` }
      window.push(modelCall(at), modelResult(at + 900), toolCall(at + 1_000, 'edit_file', edit))
      window.push(toolResult(at + 1_200, 'edit_file', true), modelCall(at + 1_300))
      window.push(modelResult(at + 2_300), toolCall(at + 2_400, 'bash', { command: 'npm test' }))
      statuses.push(detectRepeatedToolCall(window, at + 2_400, config).status)
      window.push(toolResult(at + 3_900, 'bash', true))
    })
    expect(statuses.every((status) => status === 'ok')).toBe(true)
    // A call between the repeats that is itself a repeat (a note with a counter: one shape)
    // is no new work: the same test run 5 times beside it is still a loop.
    const noted: ActivityEvent[] = []
    for (let i = 0; i < 5; i++) {
      const at = T0 + i * 4_000
      noted.push(modelCall(at), modelResult(at + 900))
      noted.push(toolCall(at + 1_000, 'write_note', { text: `attempt ${i + 1}` }))
      noted.push(toolResult(at + 1_200, 'write_note', true), modelCall(at + 1_300))
      noted.push(modelResult(at + 2_300), toolCall(at + 2_400, 'bash', { command: 'npm test' }))
      if (i < 4) noted.push(toolResult(at + 3_900, 'bash', true))
    }
    expect(detectRepeatedToolCall(noted, lastAt(noted), config)).toMatchObject({
      status: 'trip',
      evidence: { match: 'identical', count: 5 },
    })
  })

  it('takes a free call waited on for 2 s or more (a sleep tool) for a pause', () => {
    // A model step, sleep 10 s, a model step, the same status call: 8 laps.
    const window: ActivityEvent[] = []
    for (let lap = 0; lap < 8; lap++) {
      const at = T0 + lap * 14_000
      window.push(modelCall(at), modelResult(at + 1_500))
      window.push(toolCall(at + 1_520, 'sleep', { seconds: 10 }))
      window.push(toolResult(at + 11_520, 'sleep', true), modelCall(at + 11_540))
      window.push(modelResult(at + 13_000), toolCall(at + 13_020, 'status', { id: 'dep_42' }))
      expect(detectRepeatedToolCall(window, at + 13_020, config).status).toBe('ok')
      window.push(toolResult(at + 13_420, 'status', true))
    }
    // A paid call waited on is work, not a wait: its payment comes before its result.
    const paid: ActivityEvent[] = []
    for (let lap = 0; lap < 5; lap++) {
      const at = T0 + lap * 3_000
      paid.push(modelCall(at), modelResult(at + 300), toolCall(at + 320, 'enrich', { d: 'a.co' }))
      if (lap < 4) paid.push(spend(at + 2_900, 50_000), toolResult(at + 2_900, 'enrich', true))
    }
    expect(detectRepeatedToolCall(paid, lastAt(paid), config).status).toBe('trip')
  })

  it("measures a code poller's period start to start: polls every 2.5 s are no loop, however long each takes", () => {
    const poll = (periodMs: number, latencyMs: number, paid = false) => {
      const window: ActivityEvent[] = []
      for (let i = 0; i < 12; i++) {
        const at = T0 + i * periodMs
        window.push(toolCall(at, 'status', { job: 1 }))
        if (i < 11) {
          if (paid) window.push(spend(at + latencyMs, 1_000))
          window.push(toolResult(at + latencyMs, 'status', true))
        }
      }
      return detectRepeatedToolCall(window, lastAt(window), config).status
    }
    // Idle 1.9 s and 1.5 s after each result: under the pause, yet polling.
    expect(poll(5_000, 3_100)).toBe('ok')
    expect(poll(2_500, 1_000)).toBe('ok')
    // The same call by a timer every 2 s or every second (red team rt35: revoked at the 5th).
    expect(poll(2_000, 100)).toBe('ok')
    expect(poll(1_000, 200)).toBe('ok')
    // Code repeating it at its own pace is a loop.
    expect(poll(500, 200)).toBe('trip')
    // A paid call polled that fast is paid for each time: counted.
    expect(poll(2_500, 1_000, true)).toBe('trip')
  })

  it("counts a run's tool calls its model made out of the run (no run id on the model) as a loop, not a poll", () => {
    // AI SDK guardTools({ runId }) beside a middleware given none: the run sees only its tool
    // calls, 1 s or 2.6 s apart, the same each time; the agent's model works between them.
    const split = (stepMs: number, withModel = true, modelRun?: string) => {
      const window: ActivityEvent[] = []
      for (let i = 0; i < 6; i++) {
        const at = T0 + i * (stepMs + 110)
        if (withModel)
          window.push(modelCall(at, modelRun), modelResult(at + stepMs, { runId: modelRun }))
        window.push(toolCall(at + stepMs + 5, 'search', { q: 'acme' }, 'r1'))
        if (i < 5) window.push(toolResult(at + stepMs + 105, 'search', true, 'r1'))
      }
      return detectRepeatedToolCall(window, lastAt(window), config).status
    }
    // Before: a poll (the same call again 0.9 s apart), or a pause (2 s idle after a result).
    expect(split(1_000)).toBe('trip')
    expect(split(2_600)).toBe('trip')
    // The same calls with no model anywhere: code polling.
    expect(split(1_000, false)).toBe('ok')
    // Red team rt37: the model in a run of its own (chat-1), asking each lap: no timer's poll.
    expect(split(1_000, true, 'chat-1')).toBe('trip')
  })

  it('takes code asking the model to poll, sleeping between asks, for polling', () => {
    // Each ask: a model step that calls the status tool, its result, a model step that answers
    // "still running" (the turn ends), then the app sleeps what is left of its period.
    const asks = (periodMs: number, latencyMs: number, options: { paid?: boolean } = {}) => {
      const window: ActivityEvent[] = []
      for (let i = 0; i < 12; i++) {
        const start = T0 + i * periodMs
        const called = start + latencyMs + 10
        window.push(modelCall(start), modelResult(start + latencyMs))
        window.push(toolCall(called, 'get_job_status', { jobId: 'job-4711' }))
        if (i === 11) break
        if (options.paid) window.push(spend(called + 140, 1_000))
        window.push(toolResult(called + 150, 'get_job_status', true))
        window.push(modelCall(called + 160), modelResult(called + 160 + latencyMs))
      }
      return detectRepeatedToolCall(window, lastAt(window), config).status
    }
    // The red team's polls: idle between asks of 1.45 s, 1.85 s and 0.85 s, under the pause.
    expect(asks(3_000, 700)).toBe('ok')
    expect(asks(5_000, 1_500)).toBe('ok')
    expect(asks(10_000, 4_500)).toBe('ok')
    // Red team rt35: every 2 s, steps of 0.7 s: 0.43 s asleep between asks (revoked before).
    expect(asks(2_000, 700)).toBe('ok')
    // Red team rt36: an app re-asking in a loop after a 0.3 s sleep, its steps fast or slow.
    expect(asks(1_470, 500)).toBe('trip')
    expect(asks(3_470, 1_500)).toBe('trip')
    // Code asking again at once: a loop, however slow its steps (3.2 s apart here, 10 ms
    // from each answer to the next ask).
    expect(asks(1_220, 500)).toBe('trip')
    expect(asks(3_180, 1_500)).toBe('trip')
    // A paid status call is paid for each time: counted.
    expect(asks(5_000, 1_500, { paid: true })).toBe('trip')
  })

  it('takes a paid call on new arguments between new searches for research, the same paid call again for a loop', () => {
    // Red team rt35: a research agent alternating new searches ($0.01) with papers read
    // ($0.002), whose URLs differ by their id only (one shape), 0.7 s model steps: throttled
    // at its 10th paper before.
    const queries = ['sparse attention', 'kv cache eviction', 'speculative decoding']
    queries.push('mixture of experts routing', 'long context retrieval', 'quantized inference')
    queries.push(
      'flash attention kernels',
      'rotary embeddings',
      'paged attention',
      'ring attention',
    )
    queries.push('state space models', 'linear attention')
    const research = (
      paper: (i: number) => string,
      between: (i: number) => [tool: string, args: unknown, price: number],
      paperPrice = 2_000,
    ) => {
      const window: ActivityEvent[] = []
      let at = T0
      const step = (tool: string, args: unknown, price: number, last = false) => {
        window.push(modelCall(at), modelResult(at + 700))
        window.push(toolCall(at + 710, tool, args))
        if (!last && price > 0) window.push(spend(at + 900, price))
        if (!last) window.push(toolResult(at + 900, tool, true))
        at += 910
      }
      queries.forEach((_, i) => {
        step(...between(i))
        step('fetch_page', { url: paper(i) }, paperPrice, i === queries.length - 1)
      })
      return detectRepeatedToolCall(window, lastAt(window), config).status
    }
    const newSearch = (i: number) =>
      ['search', { q: queries[i] }, 10_000] as [string, unknown, number]
    const paper = (i: number) => `https://arxiv.org/abs/2411.${17_927 + i * 113}`
    expect(research(paper, newSearch)).toBe('ok')
    // The same paper bought again and again between the searches: money spent again.
    expect(research(() => 'https://arxiv.org/abs/2411.17927', newSearch)).toBe('trip')
    // Red team rt36: a stuck model paging a paid API, a free note worded anew before each page
    // (to the cap before), or three paid searches in turn (3x later): a loop.
    const page = (i: number) => `https://api.example.com/orders?page=${i + 1}`
    const think = (i: number) =>
      ['think', { thought: `maybe the ${queries[i]} filter hides them` }, 0] as [
        string,
        unknown,
        number,
      ]
    expect(research(page, think)).toBe('trip')
    const cycled = (i: number) =>
      ['search', { q: queries[i % 3] }, 10_000] as [string, unknown, number]
    expect(research(paper, cycled)).toBe('trip')
    // Red team rt37: the note paid a penny. Before a $0.002 page it is half a page's price (new
    // work); before a $0.05 page, a fiftieth (a loop: to the cap before).
    const paidNote = (i: number) =>
      ['save_note', { text: `maybe the ${queries[i]} filter hides them` }, 1_000] as [
        string,
        unknown,
        number,
      ]
    expect(research(page, paidNote)).toBe('ok')
    expect(research(page, paidNote, 50_000)).toBe('trip')
    // Red team rt38: a $0.001 search before a $0.02 paper is research (a twentieth).
    const cheapSearch = (i: number) =>
      ['search', { q: queries[i] }, 1_000] as [string, unknown, number]
    expect(research(paper, cheapSearch, 20_000)).toBe('ok')
  })

  it('takes the same lookup in each new task for new work; the same answer again is a loop', () => {
    // Tickets back to back with no run id: a step that calls the policy tool (its answer holds
    // the ticket it answers), the lookup, a step that answers, the next ticket 20 ms later.
    const tickets = (ask: (i: number) => string, answer: (i: number) => string, paid = false) => {
      const window: ActivityEvent[] = []
      for (let i = 0; i < 8; i++) {
        const at = T0 + i * 2_100
        window.push(modelCall(at), modelResult(at + 900, { output: `call policy|${ask(i)}` }))
        window.push(toolCall(at + 910, 'get_refund_policy', { region: 'EU' }))
        if (i === 7) break
        if (paid) window.push(spend(at + 960, 10_000))
        window.push(toolResult(at + 970, 'get_refund_policy', true))
        window.push(modelCall(at + 980), modelResult(at + 2_080, { output: answer(i) }))
      }
      return detectRepeatedToolCall(window, lastAt(window), config).status
    }
    expect(
      tickets(
        (i) => `ticket ${i}`,
        (i) => `answer ${i}`,
      ),
    ).toBe('ok')
    expect(
      tickets(
        (i) => `ticket ${i}`,
        (i) => `answer ${i}`,
        true,
      ),
    ).toBe('ok')
    // An app asking the same question again at once, or with a counter: the same answer.
    const policy = () => 'EU: 30 days'
    expect(tickets(() => 'what is the EU refund policy?', policy)).toBe('trip')
    expect(tickets((i) => `what is the EU refund policy? (attempt ${i})`, policy)).toBe('trip')
  })

  it('still counts an agent that reflects (a step that calls no tool) before each repeated call', () => {
    const window: ActivityEvent[] = []
    for (let i = 0; i < 6; i++) {
      const at = T0 + i * 3_200
      // A reflection step, then at once the step that calls the tool, then its result.
      window.push(modelCall(at), modelResult(at + 1_500))
      window.push(modelCall(at + 1_510), modelResult(at + 3_010))
      window.push(toolCall(at + 3_020, 'get_job_status', { jobId: 'job-4711' }))
      if (i < 5) window.push(toolResult(at + 3_170, 'get_job_status', true))
    }
    expect(detectRepeatedToolCall(window, lastAt(window), config).status).toBe('trip')
  })

  it('still counts a loop inside one run however slow its model steps (its turn never ends)', () => {
    const window: ActivityEvent[] = []
    for (let i = 0; i < 6; i++) {
      const at = T0 + i * 3_170
      window.push(modelCall(at), modelResult(at + 3_000))
      window.push(toolCall(at + 3_010, 'get_job_status', { jobId: 'job-4711' }))
      if (i < 5) window.push(toolResult(at + 3_160, 'get_job_status', true))
    }
    // Each 3 s step starts as the last tool result comes back: over 2.5 s apart, no turn end.
    expect(detectRepeatedToolCall(window, lastAt(window), config).status).toBe('trip')
  })

  it('counts only since the last pause: a poller every 5 s is never a loop, a call again every 0.5 s is', () => {
    const poll = (periodMs: number) =>
      calls(
        Array.from({ length: 12 }, (_, i) => [T0 + i * periodMs, 'status', { job: 1 }] as const),
      )
    const slow = poll(5_000)
    expect(detectRepeatedToolCall(slow, lastAt(slow), config).status).toBe('ok')
    const fast = poll(500)
    expect(detectRepeatedToolCall(fast, lastAt(fast), config).status).toBe('trip')
    // The wait a throttle imposed (until T0 + 40 s here) is not a pause.
    expect(detectRepeatedToolCall(slow, lastAt(slow), config, false, T0 + 60_000).status).toBe(
      'trip',
    )
  })
})
