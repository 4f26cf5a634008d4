// Runaways the defaults must stop before they spend 10% of their cap or run a minute past
// the start of their loop, whichever comes first. Most start with a little honest work, so
// that the loop begins in a window that already holds other activity. The loops vary what
// real loops vary: a counter, a timestamp, a request id, spacing, key order, case, wording.
import { MINUTE, SECOND, type Trace, TraceBuilder, USD } from './trace.js'

/** A few honest research steps before the loop; returns when they end. */
function warmUp(b: TraceBuilder, runId: string | undefined, steps = 4): number {
  let at = 0
  for (let i = 0; i < steps; i++) {
    at = b.model(at, { costMicros: 10_000, output: `plan ${i}`, latencyMs: 2_000, runId })
    at = b.tool(
      at + 20,
      'web_search',
      { query: `background topic ${'abcdefgh'[i]}` },
      {
        runId,
        priceMicros: 5_000,
      },
    )
    at += 500
  }
  return at + 1_000
}

/** A model-driven loop: each lap a model step, then `call(lap)` on `tool`, 2.5 s a lap. */
function modelLoop(
  b: TraceBuilder,
  start: number,
  laps: number,
  calls: (lap: number) => Array<{ tool: string; args: unknown; priceMicros?: number }>,
  options: { runId?: string; costMicros?: number; lapMs?: number } = {},
): void {
  const { runId, costMicros = 10_000, lapMs = 2_500 } = options
  for (let lap = 0; lap < laps; lap++) {
    let at = start + lap * lapMs
    for (const call of calls(lap)) {
      at = b.model(at, { costMicros, output: `lap ${lap} ${call.tool}`, latencyMs: 900, runId })
      at = b.tool(at + 20, call.tool, call.args, {
        runId,
        latencyMs: 300,
        priceMicros: call.priceMicros ?? 0,
      })
    }
  }
}

function loopTrace(
  name: string,
  description: string,
  seed: number,
  calls: (
    lap: number,
    b: TraceBuilder,
  ) => Array<{ tool: string; args: unknown; priceMicros?: number }>,
  options: { runId?: string; capUsd?: number; lapMs?: number; laps?: number } = {},
): Trace {
  const b = new TraceBuilder(seed)
  const { runId, capUsd = 10, lapMs, laps = 300 } = options
  const start = warmUp(b, runId)
  modelLoop(b, start, laps, (lap) => calls(lap, b), {
    runId,
    lapMs: lapMs ?? 2_500 * calls(0, b).length,
  })
  return b.build({ name, kind: 'runaway', description, capUsd, loopStartAt: start })
}

const search = (args: unknown) => [{ tool: 'web_search', args, priceMicros: 5_000 }]

function uuid(b: TraceBuilder): string {
  const hex = () => b.between(0, 15).toString(16)
  const part = (n: number) => Array.from({ length: n }, hex).join('')
  return `${part(8)}-${part(4)}-4${part(3)}-a${part(3)}-${part(12)}`
}

/** Every runaway trace, built. */
export function runawayTraces(): Trace[] {
  const traces: Trace[] = [
    loopTrace(
      'identical-loop',
      'the same search every 2.5 s in one run',
      101,
      () => search({ query: 'acme corp pricing' }),
      { runId: 'run-1' },
    ),
    loopTrace('identical-loop-no-run', 'the same search every 2.5 s, no run id', 102, () =>
      search({ query: 'acme corp pricing' }),
    ),
    loopTrace(
      'counter-args',
      'the same search with an attempt counter',
      103,
      (lap) => search({ query: 'acme corp pricing', attempt: lap + 1 }),
      { runId: 'run-1' },
    ),
    loopTrace('counter-in-text', 'the same search with "(try N)" in the query', 104, (lap) =>
      search({ query: `acme corp pricing (try ${lap + 2})` }),
    ),
    loopTrace('timestamp-args', 'the same report asked with a fresh timestamp', 105, (lap) => [
      {
        tool: 'get_report',
        args: { account: 'acme', asOf: new Date(1_767_225_600_000 + lap * 2_500).toISOString() },
      },
    ]),
    loopTrace('epoch-args', 'the same report with Date.now() in the arguments', 106, (lap) => [
      { tool: 'get_report', args: { account: 'acme', nonce: 1_767_225_600_000 + lap * 2_517 } },
    ]),
    loopTrace(
      'uuid-args',
      'the same ticket created with a new request id each time',
      107,
      (_, b) => [
        { tool: 'create_ticket', args: { requestId: uuid(b), title: 'Sync failed for acme' } },
      ],
    ),
    loopTrace('whitespace-args', 'the same search with different spacing', 108, (lap) =>
      search({
        query: `${' '.repeat(lap % 3)}acme${' '.repeat(1 + (lap % 4))}corp pricing${'\n'.repeat(lap % 2)}`,
      }),
    ),
    loopTrace('key-order-args', 'the same call with its keys in another order', 109, (lap) =>
      search(
        lap % 2
          ? { query: 'acme corp pricing', region: 'eu' }
          : { region: 'eu', query: 'acme corp pricing' },
      ),
    ),
    loopTrace('case-args', 'the same search in different case', 110, (lap) =>
      search({
        query: ['Acme Corp Pricing', 'acme corp pricing', 'ACME CORP PRICING', 'Acme corp pricing'][
          lap % 4
        ],
      }),
    ),
    loopTrace(
      'paraphrased-queries',
      'the same question reworded (order, stop words, plurals)',
      111,
      (lap) =>
        search({
          query: [
            'acme corp pricing plans',
            'What are the pricing plans of Acme Corp?',
            'acme corp plan prices',
            'Pricing plans for ACME corp',
            'acme corp: pricing, plans',
            'the plans and pricing of acme corp',
          ][lap % 6],
        }),
    ),
    loopTrace(
      'ab-cycle-exact',
      'search then open the same page, again and again',
      112,
      () => [
        { tool: 'web_search', args: { query: 'acme pricing' }, priceMicros: 5_000 },
        { tool: 'open_url', args: { url: 'https://acme.com/pricing' } },
      ],
      { runId: 'run-1' },
    ),
    loopTrace(
      'ab-cycle-varying',
      'an A-B cycle whose arguments carry a counter and a ref id',
      113,
      (lap, b) => [
        { tool: 'web_search', args: { query: 'acme pricing', page: lap + 1 }, priceMicros: 5_000 },
        { tool: 'open_url', args: { url: `https://acme.com/pricing?ref=${uuid(b)}` } },
      ],
      { runId: 'run-1' },
    ),
    loopTrace('abc-cycle-varying', 'an A-B-C cycle with timestamps and counters', 114, (lap) => [
      {
        tool: 'list_files',
        args: { dir: 'src', at: new Date(1_767_225_600_000 + lap * 7_500).toISOString() },
      },
      { tool: 'read_file', args: { path: 'src/index.ts', attempt: lap } },
      { tool: 'run_tests', args: { filter: `index ${lap}` } },
    ]),
  ]
  traces.push(noProgressModelOnly(), errorStorm(), modelErrorStorm(), paidToolHammer(), incident())
  traces.push(
    loopBesideStream(),
    parallelLoops(),
    slowLoop(),
    slowCycle(),
    spendSpike(),
    fastBurn(),
  )
  traces.push(restartedRuns(), parallelCallsLoop())
  // Added after a red team: each spent its whole $20 cap with nothing but the cap stopping it.
  traces.push(
    fiveToolCycle('five-tool-cycle-no-run', { modelStep: false }),
    fiveToolCycle('five-tool-cycle-model', { modelStep: true, runId: 'r2' }),
    fiveToolCycle('five-tool-cycle-paced', { modelStep: true, runId: 'r3', sleepMs: 2_000 }),
    alternatingRuns(),
    slowFiveToolCycle(),
  )
  // Added after the ninth red team: the first three spent the whole cap; the others guard the
  // fixes of its false positives (a sleep tool, bursts of failures, distinct calls between).
  traces.push(
    restartedRunsReworded(),
    freeTextFieldLoop('explanation-field-loop'),
    freeTextFieldLoop('nonce-field-loop'),
    fiveToolCycleSleepTool(),
    parallelErrorStorm(),
    repeatBesideCounterNote(),
  )
  // Added after the tenth red team: each spent 80-100% of its cap once a new call between
  // repeats excused them.
  traces.push(
    paidRepeatBesideNewNotes('paid-repeat-new-notes', 'research-9'),
    paidRepeatBesideNewNotes('paid-repeat-new-notes-no-run', undefined),
  )
  // Added after red team rt36: each ran past its goal once the defaults spared pollers and
  // research (to the cap, to a run limit, or 60 laps).
  traces.push(
    thinkThenPaidPage(),
    toolsRunApartFromModel(),
    reaskAfterSleep(),
    reaskAfterSleep(true),
  )
  // Added after red team rt42a: ran to the cap once an ask every 0.9 s read as a poll.
  traces.push(paidReaskEverySecond(), reaskToolResultsUnseen())
  return traces
}

/**
 * A stuck model paging a $0.05 API: a free `think` worded anew, then the next page, 0.7 s
 * model steps, no run id. Every page comes back empty.
 */
function thinkThenPaidPage(): Trace {
  const b = new TraceBuilder(171)
  const start = warmUp(b, undefined)
  let at = start
  for (let page = 1; page <= 300; page++) {
    at = b.model(at, { costMicros: 2_000, output: `think ${page}`, latencyMs: 700 })
    const thought = `page came back empty, maybe the ${NOTE_WORDS[page % 8]} ${NOTE_WORDS[(page * 3) % 8]} filter hides them`
    at = b.tool(at + 10, 'think', { thought }, { latencyMs: 5 })
    at = b.model(at + 10, { costMicros: 2_000, output: `page ${page}`, latencyMs: 700 })
    const args = { customer: 'acme', page }
    at = b.tool(at + 10, 'list_orders', args, { latencyMs: 200, priceMicros: 50_000 })
  }
  return b.build({
    name: 'think-then-paid-page',
    kind: 'runaway',
    description: 'a free think worded anew, then the next $0.05 page, empty every time, no run id',
    capUsd: 100,
    loopStartAt: start,
  })
}

/**
 * A model guarded with no run (guardModel, 1 s steps) asking each lap for the same free
 * export status, its tools in a run of their own (a callback handler's run).
 */
function toolsRunApartFromModel(): Trace {
  const b = new TraceBuilder(172)
  let at = 0
  for (let lap = 0; lap < 300; lap++) {
    at = b.model(at, { costMicros: 50_000, output: 'get_export exp-7', latencyMs: 1_000 })
    at = b.tool(at + 10, 'get_export', { exportId: 'exp-7' }, { latencyMs: 90, runId: 'job-1' })
  }
  return b.build({
    name: 'tools-run-apart-from-model',
    kind: 'runaway',
    description: 'the same free call every lap, the model with no run, the tools in one',
    capUsd: 100,
    loopStartAt: 0,
  })
}

/**
 * An app re-asking in a `while` after a 0.3 s sleep: the model calls the same free status
 * tool, then answers that the export is not ready (0.5 s steps, $0.05 each). With
 * `runPerAsk`, each ask is a run of its own, as LangChain's middleware makes each invoke.
 */
function reaskAfterSleep(runPerAsk = false): Trace {
  const b = new TraceBuilder(runPerAsk ? 174 : 173)
  let at = 0
  for (let ask = 0; ask < 300; ask++) {
    const runId = runPerAsk ? `ask-${ask}` : undefined
    at = b.model(at, { costMicros: 50_000, output: 'get_export exp-7', latencyMs: 500, runId })
    at = b.tool(at + 10, 'get_export', { exportId: 'exp-7' }, { latencyMs: 150, runId })
    at = b.model(at + 10, { costMicros: 50_000, output: 'not ready', latencyMs: 500, runId })
    at += 300
  }
  return b.build({
    name: runPerAsk ? 'reask-after-300ms-sleep-run-per-ask' : 'reask-after-300ms-sleep',
    kind: 'runaway',
    description: `an app re-asking after a 0.3 s sleep, the same status call and answer${runPerAsk ? ', a run per ask' : ''}`,
    capUsd: 100,
    loopStartAt: 0,
  })
}

/**
 * An app re-asking in a `while` after a 0.5 s sleep, a run per ask (LangChain's middleware,
 * or a runId per ask): the model calls the same $0.05 report tool, then says it is not ready
 * (0.5 s steps). Asked every ~1.7 s, it reads as a poll through the model; each lap pays
 * again (red team rt42a: ran to the cap).
 */
function paidReaskEverySecond(): Trace {
  const b = new TraceBuilder(175)
  let at = 0
  for (let ask = 0; ask < 300; ask++) {
    const runId = `ask-${ask}`
    at = b.model(at, { costMicros: 10_000, output: 'get_report r-1', latencyMs: 500, runId })
    at = b.tool(
      at + 10,
      'get_report',
      { id: 'r-1' },
      { latencyMs: 150, priceMicros: 50_000, runId },
    )
    at = b.model(at + 10, { costMicros: 10_000, output: 'not ready', latencyMs: 500, runId })
    at += 500
  }
  return b.build({
    name: 'paid-reask-after-500ms-sleep-run-per-ask',
    kind: 'runaway',
    description:
      'an app re-asking after a 0.5 s sleep, a run per ask, the same $0.05 report call and answer',
    capUsd: 100,
    loopStartAt: 0,
  })
}

/**
 * An app re-asking at once, a run per ask (the AI SDK with a runId per request, as its README
 * advises), whose tools' results the kill switch never sees (the middleware without
 * guardTools): the same free call and answer each lap (red team rt42a: every run read as
 * overlapping the last one's open call, never compared; $8.17 of a $10 cap in 9.4 s).
 */
function reaskToolResultsUnseen(): Trace {
  const b = new TraceBuilder(176)
  let at = 0
  for (let ask = 0; ask < 300; ask++) {
    const runId = `request-${ask}`
    at = b.model(at, { costMicros: 50_000, output: 'get_report r-1', latencyMs: 500, runId })
    b.add(at + 10, { kind: 'tool_call', tool: 'get_report', args: { id: 'r-1' }, runId })
    at = b.model(at + 170, { costMicros: 50_000, output: 'not ready', latencyMs: 500, runId })
    at += 20
  }
  return b.build({
    name: 'reask-tool-results-unseen-run-per-ask',
    kind: 'runaway',
    description: 'an app re-asking at once, a run per ask, its tool results never reported',
    capUsd: 100,
    loopStartAt: 0,
  })
}

const NOTE_WORDS = ['pricing', 'plans', 'tiers', 'costs', 'fees', 'rates', 'quotes', 'deals']

/**
 * The same $0.15 search every lap, and between the repeats a free note whose words are new
 * each time: the note is a new call, the search the same paid one.
 */
function paidRepeatBesideNewNotes(name: string, runId: string | undefined): Trace {
  const b = new TraceBuilder(name.length + 163)
  const start = warmUp(b, runId)
  let at = start
  for (let lap = 0; lap < 200; lap++) {
    const words = `${NOTE_WORDS[lap % 8]} ${NOTE_WORDS[(lap * 3 + 1) % 8]} ${NOTE_WORDS[(lap * 5 + 2) % 8]}`
    at = b.model(at, { costMicros: 3_000, output: 'plan: web_search', latencyMs: 900, runId })
    at = b.tool(
      at,
      'web_search',
      { q: 'acme corp pricing' },
      { latencyMs: 700, priceMicros: 150_000, runId },
    )
    at = b.model(at, {
      costMicros: 3_000,
      output: `plan: write_note ${lap}`,
      latencyMs: 900,
      runId,
    })
    at = b.tool(at, 'write_note', { text: `still no ${words} found` }, { latencyMs: 50, runId })
  }
  return b.build({
    name,
    kind: 'runaway',
    description: `the same $0.15 search, a free note with new words between the repeats${runId ? '' : ', no run id'}`,
    capUsd: 20,
    loopStartAt: start,
  })
}

/**
 * An outer retry loop around `agent.invoke`, a new run each lap: a model step, the same
 * $0.20 search, then an answer worded a little differently each time (temperature > 0).
 */
function restartedRunsReworded(): Trace {
  const b = new TraceBuilder(140)
  const start = warmUp(b, 'warm-up')
  const wordings = ['I could not find', 'I was unable to find', 'No results showed']
  wordings.push('The search did not return', 'I did not find')
  let at = start
  for (let lap = 0; lap < 200; lap++) {
    const runId = `invoke-${lap}`
    at = b.model(at, {
      costMicros: 4_150,
      output: 'plan: web_search {"q":"acme corp pricing"}',
      ask: 'Find Acme Corp pricing',
      latencyMs: 1_200,
      runId,
    })
    at = b.tool(
      at,
      'web_search',
      { q: 'acme corp pricing' },
      { latencyMs: 800, priceMicros: 200_000, runId },
    )
    at = b.model(at, {
      costMicros: 8_100,
      output: `${wordings[lap % 5]} the pricing page (${lap % 7}).`,
      latencyMs: 1_500,
      runId,
    })
  }
  return b.build({
    name: 'restarted-runs-reworded',
    kind: 'runaway',
    description:
      'a new run each lap: the same $0.20 search, the answer worded differently each time',
    capUsd: 20,
    loopStartAt: start,
  })
}

const EXPLANATIONS = ['Searching for the pricing page', 'Let me look up the pricing again']
EXPLANATIONS.push('I will try the search once more', 'Trying to find pricing information')
EXPLANATIONS.push('Looking for plan costs one more time', 'Retrying search for Acme plans')
EXPLANATIONS.push('Need to check the pricing details', 'Attempting another lookup of prices')
const ADVERBS = ['', ' now', ' again', ' please', ' first', ' quickly', ' carefully']

/**
 * One run calling the same $0.20 search again and again, each call looking new: its free-text
 * `explanation` (as Cursor-style tools have) worded differently, or a letters-only random
 * `request_id`. The model's text varies too.
 */
function freeTextFieldLoop(name: 'explanation-field-loop' | 'nonce-field-loop'): Trace {
  const b = new TraceBuilder(name.length + 141)
  const runId = 'research-1'
  const start = warmUp(b, runId)
  const nonce = () =>
    Array.from({ length: 10 }, () => 'abcdefghijklmnopqrstuvwxyz'[b.between(0, 25)]).join('')
  let at = start
  for (let lap = 0; lap < 200; lap++) {
    const args =
      name === 'explanation-field-loop'
        ? {
            query: 'acme corp pricing',
            explanation: `${EXPLANATIONS[lap % 8]}${ADVERBS[Math.floor(lap / 8) % 7]}`,
          }
        : { query: 'acme corp pricing', request_id: nonce() }
    at = b.model(at, {
      costMicros: 5_400,
      output: `plan: web_search ${JSON.stringify(args)}`,
      latencyMs: 1_200,
      runId,
    })
    at = b.tool(at, 'web_search', args, { latencyMs: 800, priceMicros: 200_000, runId })
  }
  return b.build({
    name,
    kind: 'runaway',
    description: `one run: the same $0.20 search, each call with a new ${name === 'explanation-field-loop' ? 'free-text explanation' : 'letters-only request id'}`,
    capUsd: 20,
    loopStartAt: start,
  })
}

/**
 * The 5-tool cycle of `fiveToolCycle` paced by a sleep TOOL (a free call lasting 2 s) each
 * lap instead of an idle wait: a waiting call is a pause, but this loop pays 2.5% of its cap
 * a lap, so it is counted through it.
 */
function fiveToolCycleSleepTool(): Trace {
  const b = new TraceBuilder(143)
  const runId = 'r4'
  const start = warmUp(b, runId)
  let at = start
  for (let lap = 0; lap < 400; lap++) {
    at = b.model(at, {
      costMicros: 250_000,
      output: 'Let me check everything again.',
      ask: 'slept 2 s',
      latencyMs: 1_500,
      runId,
    })
    for (const tool of FIVE_TOOLS) {
      at = b.tool(at, tool, { q: 'acme pricing' }, { latencyMs: 300, priceMicros: 50_000, runId })
    }
    at = b.tool(at, 'sleep', { seconds: 2 }, { latencyMs: 2 * SECOND, runId })
  }
  return b.build({
    name: 'five-tool-cycle-sleep-tool',
    kind: 'runaway',
    description: 'a $0.25 model step, the same 5 paid calls, then a free 2 s sleep tool, one run',
    capUsd: 20,
    loopStartAt: start,
  })
}

/**
 * 8 parallel model calls failing at once, all retried at once with no backoff, again and
 * again: each burst counts once, and they follow one another. (Bursts of 13 or more calls
 * are more than 10 to a window of 256 events: such a storm of free failures is not stopped
 * by error-streak; a paid one is spend-velocity's.)
 */
function parallelErrorStorm(): Trace {
  const b = new TraceBuilder(144)
  const start = warmUp(b, undefined)
  for (let burst = 0; burst < 400; burst++) {
    for (let i = 0; i < 8; i++) b.failedModel(start + burst * 400 + i, { latencyMs: 300 })
  }
  return b.build({
    name: 'parallel-error-storm',
    kind: 'runaway',
    description: '8 parallel model calls failing together, retried together at once, every 0.4 s',
    capUsd: 10,
    loopStartAt: start,
  })
}

/**
 * One run: the same $0.05 search, then a note whose only change is a counter, after a model
 * step each: the note is a call between the repeats, but never a new one (the same shape).
 */
function repeatBesideCounterNote(): Trace {
  const b = new TraceBuilder(145)
  const runId = 'run-1'
  const start = warmUp(b, runId)
  let at = start
  for (let lap = 0; lap < 300; lap++) {
    at = b.model(at, { costMicros: 10_000, output: `lap ${lap} search`, latencyMs: 900, runId })
    at = b.tool(
      at + 20,
      'web_search',
      { query: 'acme corp pricing' },
      {
        runId,
        latencyMs: 300,
        priceMicros: 50_000,
      },
    )
    at = b.model(at, { costMicros: 10_000, output: `lap ${lap} note`, latencyMs: 900, runId })
    at = b.tool(at + 20, 'write_note', { text: `attempt ${lap + 1}: no pricing found` }, { runId })
  }
  return b.build({
    name: 'repeat-beside-counter-note',
    kind: 'runaway',
    description: 'the same $0.05 search, then a note differing only by a counter, one run',
    capUsd: 20,
    loopStartAt: start,
  })
}

const FIVE_TOOLS = ['search', 'fetch', 'lookup', 'read', 'scan'] as const

/**
 * A cycle of 5 paid tools ($0.05 each) with identical arguments, 300 ms a call: with no model
 * step and no run id ($10 a minute), or after a $0.25 model step per lap in one run (its
 * output the same each lap; with `sleepMs`, the loop sleeps that long after each lap).
 */
function fiveToolCycle(
  name: string,
  options: { modelStep: boolean; runId?: string; sleepMs?: number },
): Trace {
  const { modelStep, runId, sleepMs = 0 } = options
  const b = new TraceBuilder(129 + name.length)
  const start = warmUp(b, runId)
  let at = start
  for (let lap = 0; lap < 400; lap++) {
    if (modelStep) {
      // The ask holds the lap's results: the same text answer, a different ask each lap
      // unless the loop sleeps (then the same ask too: a pause hides it from no-progress).
      at = b.model(at, {
        costMicros: 250_000,
        output: 'Let me check everything again.',
        ...(sleepMs > 0 ? {} : { ask: `lap ${lap} results` }),
        latencyMs: 1_500,
        runId,
      })
    }
    for (const tool of FIVE_TOOLS) {
      at = b.tool(at, tool, { q: 'acme pricing' }, { latencyMs: 300, priceMicros: 50_000, runId })
    }
    at += sleepMs
  }
  const pace = modelStep ? `a $0.25 model step and ` : ''
  return b.build({
    name,
    kind: 'runaway',
    description: `${pace}the same 5 paid calls ($0.05) in a cycle${runId ? ', one run' : ', no run id'}${sleepMs ? `, ${sleepMs / SECOND} s sleep a lap` : ''}`,
    capUsd: 20,
    loopStartAt: start,
  })
}

/**
 * A new run each lap, alternating two kinds of lap (a $0.25 model step, then a $0.05 search:
 * "pricing" then "plans"): no run is the same as the one just before it.
 */
function alternatingRuns(): Trace {
  const b = new TraceBuilder(134)
  const start = warmUp(b, 'warm-up')
  let at = start
  for (let lap = 0; lap < 400; lap++) {
    const runId = `run-${lap}`
    const kind = lap % 2 ? 'pricing' : 'plans'
    at = b.model(at, {
      costMicros: 250_000,
      output: `Searching ${kind}.`,
      ask: `find ${kind}`,
      latencyMs: 1_500,
      runId,
    })
    at = b.tool(at, 'search', { q: `acme ${kind}` }, { latencyMs: 300, priceMicros: 50_000, runId })
  }
  return b.build({
    name: 'alternating-runs',
    kind: 'runaway',
    description: 'a new run each lap, alternating two identical kinds of lap ($0.30 a lap, 1.8 s)',
    capUsd: 20,
    loopStartAt: start,
  })
}

/** The 5-tool cycle, slow: a $0.15 model step (20 s), then 5 paid calls ($0.02), every 3 min. */
function slowFiveToolCycle(): Trace {
  const b = new TraceBuilder(135)
  const start = warmUp(b, undefined)
  for (let lap = 0; lap < 80; lap++) {
    let at = b.model(start + lap * 3 * MINUTE, {
      costMicros: 150_000,
      output: `checking everything again, lap ${lap}`,
      latencyMs: 20_000,
    })
    for (const tool of FIVE_TOOLS) {
      at = b.tool(at + 20, tool, { q: 'acme pricing' }, { priceMicros: 20_000 }) + 5 * SECOND
    }
  }
  return b.build({
    name: 'slow-five-tool-cycle',
    kind: 'runaway',
    description: 'the same 5 paid calls after a model step, one $0.25 lap every 3 minutes',
    capUsd: 20,
    loopStartAt: start,
    timeGoal: false,
  })
}

/**
 * A loop that starts a new run each lap (an outer while around `agent.invoke`): a model step,
 * the same $0.05 search, a model step saying it found nothing, then the next run.
 */
function restartedRuns(): Trace {
  const b = new TraceBuilder(127)
  const start = warmUp(b, 'warm-up')
  let at = start
  for (let lap = 0; lap < 400; lap++) {
    const runId = `req-${lap}`
    at = b.model(at, {
      costMicros: 8_000,
      output: 'search for acme pricing',
      latencyMs: 1_500,
      runId,
    })
    at = b.tool(
      at,
      'paid_search',
      { q: 'acme pricing' },
      { latencyMs: 800, priceMicros: 50_000, runId },
    )
    at = b.model(at, { costMicros: 8_250, output: 'I could not find it.', latencyMs: 1_200, runId })
  }
  return b.build({
    name: 'restarted-runs',
    kind: 'runaway',
    description: 'the same $0.05 search between two model steps, each lap a new run (3.5 s a lap)',
    capUsd: 20,
    loopStartAt: start,
  })
}

/** Each lap a model step asks for the same 3 searches at once (parallel tool calls), no run id. */
function parallelCallsLoop(): Trace {
  const b = new TraceBuilder(128)
  const start = warmUp(b, undefined)
  for (let lap = 0; lap < 300; lap++) {
    const at = b.model(start + lap * 2_600, {
      costMicros: 4_800,
      output: 'look it up',
      latencyMs: 1_500,
    })
    for (const q of ['acme query price', 'acme query plans', 'acme query cost']) {
      b.tool(at + 5, 'search', { q }, { latencyMs: 300 })
    }
  }
  return b.build({
    name: 'parallel-calls-loop',
    kind: 'runaway',
    description: 'a model step then the same 3 free searches in parallel, every 2.6 s, no run id',
    capUsd: 20,
    loopStartAt: start,
  })
}

/** A run whose model answers the same thing every 2 s with no tool call. */
function noProgressModelOnly(): Trace {
  const b = new TraceBuilder(116)
  const runId = 'run-1'
  const start = warmUp(b, runId)
  for (let lap = 0; lap < 300; lap++) {
    b.model(start + lap * 2 * SECOND, {
      costMicros: 15_000,
      output: 'I need to check the pricing page again.',
      latencyMs: 1_200,
      runId,
    })
  }
  return b.build({
    name: 'no-progress-model',
    kind: 'runaway',
    description: 'the model repeats the same answer every 2 s in one run, no tools',
    capUsd: 10,
    loopStartAt: start,
  })
}

/** A paid API that charges for failures, retried at once, 4 times a second. */
function errorStorm(): Trace {
  const b = new TraceBuilder(117)
  const start = warmUp(b, undefined)
  for (let i = 0; i < 2_000; i++) {
    b.tool(
      start + i * 250,
      'enrich_company',
      { domain: `acme${i % 3 ? '' : '-corp'}.com` },
      {
        latencyMs: 120,
        priceMicros: 50_000,
        ok: false,
      },
    )
  }
  return b.build({
    name: 'error-retry-storm',
    kind: 'runaway',
    description: 'a paid API failing ($0.05 a failure), retried 4 times a second with no backoff',
    capUsd: 20,
    loopStartAt: start,
  })
}

/** A provider erroring, retried with no backoff 10 times a second. */
function modelErrorStorm(): Trace {
  const b = new TraceBuilder(118)
  const start = warmUp(b, undefined)
  for (let i = 0; i < 3_000; i++) b.failedModel(start + i * 100, { latencyMs: 60 })
  return b.build({
    name: 'model-error-storm',
    kind: 'runaway',
    description: 'model calls failing, retried 10 times a second with no backoff',
    capUsd: 10,
    loopStartAt: start,
  })
}

/** A code loop hammering a paid search with a counter, 8 calls a second ($4.80 a minute). */
function paidToolHammer(): Trace {
  const b = new TraceBuilder(119)
  const start = warmUp(b, undefined)
  for (let i = 0; i < 1_500; i++) {
    b.tool(
      start + i * 125,
      'paid_search',
      { q: 'acme corp', n: i },
      {
        latencyMs: 100,
        priceMicros: 10_000,
      },
    )
  }
  return b.build({
    name: 'paid-tool-8rps',
    kind: 'runaway',
    description: 'a paid search ($0.01) with a counter in its arguments, 8 calls a second',
    capUsd: 20,
    loopStartAt: start,
  })
}

/** The incident: $0.50 a call, 12 calls a second, pages counting up ($4,000 in 11 minutes). */
function incident(): Trace {
  const b = new TraceBuilder(120)
  for (let i = 0; i < 7_920; i++) {
    b.tool(
      Math.floor((i * 1_000) / 12),
      'paid_search',
      { query: 'competitor pricing', page: i },
      {
        latencyMs: 1,
        priceMicros: 500_000,
      },
    )
  }
  return b.build({
    name: 'incident-4000usd',
    kind: 'runaway',
    description: '$0.50 a call, 12 calls a second, page counting up: $4,000 in 11 minutes',
    capUsd: 5_000,
    loopStartAt: 0,
  })
}

/** The demo's researcher: an identical loop while a long summary streams beside it. */
function loopBesideStream(): Trace {
  const b = new TraceBuilder(126)
  const start = warmUp(b, undefined)
  b.model(start, { costMicros: 50_000, output: 'the long summary', latencyMs: 600_000 })
  for (let lap = 0; lap < 300; lap++) {
    const at = b.model(start + 100 + lap * 1_500, {
      costMicros: 2_000,
      output: `attempt ${lap}: searching again`,
      latencyMs: 200,
    })
    b.tool(
      at + 10,
      'web_search',
      { query: 'agent budget overruns 2026' },
      {
        latencyMs: 300,
        priceMicros: 200_000,
      },
    )
  }
  return b.build({
    name: 'loop-beside-stream',
    kind: 'runaway',
    description: 'the same $0.20 search every 1.5 s while a long stream runs beside it',
    capUsd: 20,
    loopStartAt: start,
  })
}

/**
 * Two conversations stuck in the same loop at once, on an agent that names no runs: their
 * calls overlap, so the scope is concurrent and the fast loop detectors stand aside.
 */
function parallelLoops(): Trace {
  const b = new TraceBuilder(125)
  for (let k = 0; k < 2; k++) {
    for (let lap = 0; lap < 400; lap++) {
      const at = b.model(k * 700 + lap * 2_500, {
        costMicros: 10_000,
        output: `lap ${lap}`,
        latencyMs: 900,
      })
      b.tool(
        at + 20,
        'web_search',
        { query: 'acme corp pricing' },
        {
          latencyMs: 300,
          priceMicros: 5_000,
        },
      )
    }
  }
  return b.build({
    name: 'parallel-loops-no-run-ids',
    kind: 'runaway',
    description: 'two identical loops at once on an agent that names no runs',
    capUsd: 10,
    loopStartAt: 0,
  })
}

/** The same paid step retried every 4 minutes for hours. */
function slowLoop(): Trace {
  const b = new TraceBuilder(121)
  const start = warmUp(b, undefined)
  for (let lap = 0; lap < 60; lap++) {
    const at = b.model(start + lap * 4 * MINUTE, {
      costMicros: 300_000,
      output: `retrying the enrichment, lap ${lap}`,
      latencyMs: 20_000,
    })
    b.tool(at + 20, 'enrich_company', { domain: 'acme.com' }, { priceMicros: 50_000 })
  }
  return b.build({
    name: 'slow-loop-hours',
    kind: 'runaway',
    description: 'the same $0.35 step (model + paid call) every 4 minutes for 4 hours',
    capUsd: 20,
    loopStartAt: start,
    timeGoal: false,
  })
}

/** An A-B cycle with varying arguments, one lap every 3 minutes. */
function slowCycle(): Trace {
  const b = new TraceBuilder(122)
  const start = warmUp(b, 'run-slow')
  const runId = 'run-slow'
  for (let lap = 0; lap < 80; lap++) {
    let at = b.model(start + lap * 3 * MINUTE, {
      costMicros: 150_000,
      output: `lap ${lap}`,
      latencyMs: 15_000,
      runId,
    })
    at = b.tool(
      at + 20,
      'web_search',
      { query: 'acme pricing', page: lap },
      { runId, priceMicros: 5_000 },
    )
    at = b.model(at + 20, { costMicros: 150_000, output: `lap ${lap} b`, latencyMs: 15_000, runId })
    b.tool(at + 20, 'open_url', { url: `https://acme.com/pricing?t=${lap * 180}` }, { runId })
  }
  return b.build({
    name: 'slow-cycle-hours',
    kind: 'runaway',
    description: 'an A-B cycle with varying arguments, one $0.31 lap every 3 minutes',
    capUsd: 30,
    loopStartAt: start,
    timeGoal: false,
  })
}

/** 20 minutes at $0.05 a minute, then $3 a minute with nothing repeated. */
function spendSpike(): Trace {
  const b = new TraceBuilder(123)
  let at = 0
  for (let i = 0; at < 20 * MINUTE; i++) {
    at = b.model(at, { costMicros: 10_000, output: `calm ${i}`, latencyMs: 2_000 }) + 10 * SECOND
  }
  const start = at
  for (let i = 0; i < 400; i++) {
    b.model(start + i * 5 * SECOND, {
      costMicros: 250_000,
      output: `long context answer ${i}`,
      latencyMs: 4_000,
    })
  }
  return b.build({
    name: 'spend-spike',
    kind: 'runaway',
    description: '20 min at $0.05/min, then $3/min of distinct expensive calls',
    capUsd: 50,
    loopStartAt: start,
  })
}

/** A new agent spending $1 a second from its first call, nothing repeated. */
function fastBurn(): Trace {
  const b = new TraceBuilder(124)
  for (let i = 0; i < 600; i++) {
    b.model(i * SECOND, { costMicros: USD, output: `answer ${i}`, latencyMs: 800 })
  }
  return b.build({
    name: 'fast-burn',
    kind: 'runaway',
    description: 'a new agent spending $1 a second on distinct calls from the start',
    capUsd: 500,
    loopStartAt: 0,
  })
}
