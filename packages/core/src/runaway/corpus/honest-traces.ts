// Honest work the defaults must never refuse: each trace is a workload the old defaults
// revoked, or one that sits close to a detector's threshold. Times and prices are those of
// ordinary agents (a model step takes 1-12 s and costs a fraction of a cent to a few cents).
import { MINUTE, SECOND, type Trace, TraceBuilder } from './trace.js'

const WORDS = (
  'pricing latency benchmark vector index cache retrieval tokenizer embedding agent memory ' +
  'planner schema migration postgres kafka queue sharding replication consensus raft paxos ' +
  'compiler parser runtime garbage collector allocator kernel scheduler network protocol ' +
  'encryption signature certificate oauth session cookie browser render layout accessibility'
).split(' ')

/**
 * `count` model calls at once (a Promise.all over documents), then their answers; with a run
 * id, in ONE run (a map inside one graph run; 150, as run-limits stops a run past 200).
 */
function fanOut(count: number, runId?: string): Trace {
  const b = new TraceBuilder(runId ? 11 : 1)
  for (let i = 0; i < count; i++) {
    b.model(i * 2, {
      costMicros: 2_000,
      output: `summary of document ${i}`,
      latencyMs: b.between(1_500, 8_000),
      runId,
    })
  }
  return b.build({
    name: `fan-out-${count}${runId ? '-one-run' : ''}`,
    kind: 'honest',
    description: `${count} parallel model calls (${runId ? 'in one run: a map over documents' : 'Promise.all over documents'}), $0.002 each`,
    capUsd: 5,
  })
}

/** Batches of 60 parallel calls every 10 s for 5 minutes: 1,800 calls. */
function fanOutBatches(): Trace {
  const b = new TraceBuilder(2)
  for (let batch = 0; batch < 30; batch++) {
    for (let i = 0; i < 60; i++) {
      b.model(batch * 10 * SECOND + i, {
        costMicros: 2_000,
        output: `batch ${batch} item ${i}`,
        latencyMs: b.between(1_000, 6_000),
      })
    }
  }
  return b.build({
    name: 'fan-out-60-batches',
    kind: 'honest',
    description: '30 batches of 60 parallel model calls, one batch every 10 s (1,800 calls)',
    capUsd: 10,
  })
}

/**
 * 200 pages fetched through a pool of 8 (p-limit): the URLs differ only by a number; with a
 * run id, after a model step, in one run.
 */
function fanOutToolPool(runId?: string): Trace {
  const b = new TraceBuilder(runId ? 12 : 3)
  const free = Array.from({ length: 8 }, () => 0)
  if (runId) b.model(0, { costMicros: 5_000, output: 'crawl the docs', runId })
  for (let i = 0; i < 200; i++) {
    const slot = free.indexOf(Math.min(...free))
    const start = Math.max(free[slot] as number, runId ? 1_600 : 0)
    free[slot] = b.tool(
      start,
      'fetch_page',
      { url: `https://docs.example.com/page/${i}` },
      { latencyMs: b.between(200, 900), priceMicros: 1_000, runId },
    )
  }
  return b.build({
    name: `fan-out-tool-pool${runId ? '-one-run' : ''}`,
    kind: 'honest',
    description: `${runId ? 'a model step, then ' : ''}200 paid page fetches through a pool of 8, URLs differing only by a number${runId ? ', in one run' : ''}`,
    capUsd: 5,
  })
}

/**
 * 90 yes/no labels at once in ONE run (LangGraph map-reduce over documents), twice: the same
 * two outputs again and again, from parallel calls (180 calls: run-limits stops past 200).
 */
function classifierMapOneRun(): Trace {
  const b = new TraceBuilder(13)
  for (let batch = 0; batch < 2; batch++) {
    for (let i = 0; i < 90; i++) {
      b.model(batch * 20 * SECOND + i * 3, {
        costMicros: 200,
        output: i % 4 === 0 ? 'no' : 'yes',
        latencyMs: b.between(300, 1_200),
        runId: 'graph-run-1',
      })
    }
  }
  return b.build({
    name: 'classifier-map-one-run',
    kind: 'honest',
    description: '2 maps of 90 parallel yes/no labels in one run, 20 s apart',
    capUsd: 5,
  })
}

/**
 * A batch job labelling 180 documents one after another in one run (a graph node looping
 * over them, the LangChain callback handler's root run): mostly the same label, each for a
 * different document. (Past 200 model calls, run-limits stops a run by design.)
 */
function classifierSequentialOneRun(): Trace {
  const b = new TraceBuilder(15)
  let at = 0
  for (let i = 0; i < 180; i++) {
    at = b.model(at, {
      costMicros: 200,
      output: i % 7 === 0 ? 'negative' : 'positive',
      ask: `document ${i}`,
      latencyMs: b.between(300, 900),
      runId: 'batch-job-1',
    })
  }
  return b.build({
    name: 'classifier-sequential-one-run',
    kind: 'honest',
    description: '180 documents labelled one after another in one run, mostly "positive"',
    capUsd: 5,
  })
}

interface Polling {
  runId?: string
  /** How long it polls (10 minutes). */
  minutes?: number
  /** The trace's name, when not `polling[-agent]-<period>s[-no-run-id]`. */
  name?: string
  /** How long each status call takes (100-300 ms when left out). */
  latencyMs?: number
}

/** A job polled by code (the same free call) every `periodMs`, with or without a run id. */
function pollingEvery(
  periodMs: number,
  { runId, minutes = 10, name, latencyMs }: Polling = {},
): Trace {
  const b = new TraceBuilder(14 + periodMs)
  let at = b.model(0, { costMicros: 5_000, output: 'starting the export job', runId })
  const polls = Math.round((minutes * MINUTE) / periodMs)
  for (let i = 0; i < polls; i++) {
    b.tool(
      at + 50 + i * periodMs,
      'get_job_status',
      { jobId: 'job-7f3a' },
      {
        latencyMs: latencyMs ?? b.between(100, 300),
        runId,
      },
    )
  }
  at += 50 + polls * periodMs
  b.model(at, { costMicros: 5_000, output: 'the export is ready', runId })
  const s = periodMs / SECOND
  return b.build({
    name: name ?? `polling-${s}s${runId ? '' : '-no-run-id'}`,
    kind: 'honest',
    description: `get_job_status with the same arguments every ${s} s${latencyMs ? `, each call taking ${latencyMs / SECOND} s` : ''} for ${minutes} minutes (free, by code)`,
    capUsd: 10,
  })
}

/**
 * The model polls: a cheap model step, then the same status call, every `periodMs` (the
 * framework waits between steps), with the same output each time.
 */
function pollingAgentEvery(periodMs: number, { runId, minutes = 10, name }: Polling = {}): Trace {
  const b = new TraceBuilder(15 + periodMs)
  const polls = Math.round((minutes * MINUTE) / periodMs)
  for (let i = 0; i < polls; i++) {
    const done = b.model(i * periodMs, {
      costMicros: 500,
      output: 'the job is still running: check again',
      latencyMs: 800,
      runId,
    })
    b.tool(done + 10, 'get_job_status', { jobId: 'job-7f3a' }, { latencyMs: 150, runId })
  }
  const s = periodMs / SECOND
  return b.build({
    name: name ?? `polling-agent-${s}s${runId ? '' : '-no-run-id'}`,
    kind: 'honest',
    description: `a cheap model step, the same output and the same status call every ${s} s, ${minutes} minutes${runId ? ', in one run' : ''}`,
    capUsd: 10,
  })
}

/**
 * A free tool failing (429) and retried by code with exponential backoff, 1, 2, 4 and 8 s
 * (p-retry's defaults), the 5th attempt succeeding; three such searches in 2 minutes.
 */
function toolRetryBackoff(runId?: string): Trace {
  const b = new TraceBuilder(16)
  let at = 0
  for (let episode = 0; episode < 3; episode++) {
    at = b.model(at, { costMicros: 8_000, output: `look up acme, step ${episode}`, runId })
    at += 20
    let delay = SECOND
    for (let attempt = 0; attempt < 5; attempt++) {
      at = b.tool(
        at,
        'search_api',
        { q: 'acme corp pricing' },
        {
          latencyMs: 120,
          ok: attempt === 4,
          runId,
        },
      )
      if (attempt < 4) {
        at += delay
        delay *= 2
      }
    }
    at = b.model(at + 20, { costMicros: 8_000, output: `found it, step ${episode}`, runId }) + 20
    at += 10 * SECOND
  }
  return b.build({
    name: `tool-retry-backoff${runId ? '' : '-no-run-id'}`,
    kind: 'honest',
    description: 'a free search failing 4 times, retried after 1, 2, 4, 8 s (p-retry), 3 times',
    capUsd: 10,
  })
}

/**
 * A support worker answering tickets one after another with no run id (the AI SDK's
 * `generateText` per ticket, as its quick start writes it): each ticket a model step that
 * looks up the same refund policy, then a different answer, the next ticket at once. The
 * same lookup in every turn is no loop: each turn answers a new ask. (A paid lookup is
 * still throttled by slow-loop once it has cost 3% of the cap: name runs to lift it.)
 */
function ticketWorkerNoRunId(): Trace {
  const b = new TraceBuilder(40)
  let at = 0
  for (let ticket = 0; at < 10 * MINUTE; ticket++) {
    at = b.model(at, {
      costMicros: 1_200,
      output: 'call get_refund_policy',
      ask: `ticket ${10_000 + ticket}: ${b.pick(['refund', 'return', 'damaged', 'late'])}`,
      latencyMs: b.between(700, 1_500),
    })
    at = b.tool(at + 5, 'get_refund_policy', { region: 'EU' }, { latencyMs: 60 })
    at = b.model(at + 5, {
      costMicros: 2_500,
      output: `answer to ticket ${10_000 + ticket}`,
      ask: 'EU refund policy: 30 days',
      latencyMs: b.between(700, 1_500),
    })
    at += b.between(5, 40)
  }
  return b.build({
    name: 'ticket-worker-no-run-id',
    kind: 'honest',
    description: 'tickets back to back, no run id, the same policy lookup in each',
    capUsd: 50,
  })
}

/** One worker taking jobs one after another, each its own run, every job reading one config. */
function sequentialWorker(): Trace {
  const b = new TraceBuilder(17)
  let at = 0
  for (let job = 0; at < 10 * MINUTE; job++) {
    const runId = `job-${job}`
    at = b.tool(at, 'get_config', { env: 'prod' }, { latencyMs: 80, runId })
    at = b.model(at + 5, {
      costMicros: 1_500,
      output: `triage job-${job}`,
      latencyMs: b.between(800, 2_500),
      runId,
    })
    at = b.tool(
      at + 5,
      'update_ticket',
      { id: `T-${10_000 + job}`, status: 'triaged' },
      {
        latencyMs: 120,
        runId,
      },
    )
    at += b.between(5, 50)
  }
  return b.build({
    name: 'sequential-worker',
    kind: 'honest',
    description: 'one worker, jobs back to back, each a run, an identical get_config per job',
    capUsd: 20,
  })
}

/**
 * A classifier answering "yes" 1,000 times, 4 requests a second, no run id (or, with
 * `runIds`, each request its own run, as the Mastra and AI SDK adapters name them).
 */
function classifier(runIds = false): Trace {
  const b = new TraceBuilder(6)
  for (let i = 0; i < 1_000; i++) {
    b.model(i * 250, {
      costMicros: 200,
      output: 'yes',
      latencyMs: b.between(150, 400),
      runId: runIds ? `request-${i}` : undefined,
    })
  }
  return b.build({
    name: `classifier-1000${runIds ? '-run-ids' : ''}`,
    kind: 'honest',
    description: `a classifier giving the same label 1,000 times (4 a second, ${runIds ? 'a run per request' : 'no run id'})`,
    capUsd: 5,
  })
}

/** 150 steps of research over 45 minutes with many distinct tools and a little pagination. */
function research(): Trace {
  const b = new TraceBuilder(7)
  const runId = 'research-1'
  let at = 0
  let query = ''
  let page = 1
  for (let step = 0; step < 150; step++) {
    at = b.model(at, {
      costMicros: b.between(10_000, 30_000),
      output: `thought ${step}`,
      latencyMs: b.between(3_000, 12_000),
      runId,
    })
    const roll = b.random()
    const words = () => `${b.pick(WORDS)} ${b.pick(WORDS)} ${b.pick(WORDS)}`
    if (roll < 0.25) {
      // A new search, or the next page of the last one (never more than 3 pages).
      if (query === '' || page >= 3 || b.random() < 0.6) {
        query = words()
        page = 1
      } else {
        page++
      }
      at = b.tool(at + 50, 'web_search', { query, page }, { priceMicros: 5_000, runId })
    } else if (roll < 0.45) {
      at = b.tool(
        at + 50,
        'open_url',
        { url: `https://${b.pick(WORDS)}.dev/${b.pick(WORDS)}` },
        {
          latencyMs: b.between(300, 2_000),
          runId,
        },
      )
    } else if (roll < 0.6) {
      at = b.tool(
        at + 50,
        'fetch_paper',
        { arxiv: `24${b.between(10, 12)}.${b.between(10_000, 19_999)}` },
        {
          latencyMs: 900,
          runId,
        },
      )
    } else if (roll < 0.72) {
      at = b.tool(at + 50, 'read_file', { path: `notes/${b.pick(WORDS)}.md` }, { runId })
    } else if (roll < 0.82) {
      at = b.tool(at + 50, 'write_note', { title: words(), body: `finding ${step}` }, { runId })
    } else if (roll < 0.92) {
      at = b.tool(
        at + 50,
        'run_python',
        { code: `analyse('${b.pick(WORDS)}', ${step})` },
        {
          latencyMs: b.between(500, 4_000),
          runId,
        },
      )
    } else {
      at = b.tool(
        at + 50,
        'ask_database',
        { sql: `select * from ${b.pick(WORDS)} limit 20` },
        {
          runId,
        },
      )
    }
    at += b.between(500, 4_000)
  }
  return b.build({
    name: 'research-45min',
    kind: 'honest',
    description: 'one run: 150 model steps over ~45 min, 7 tools, distinct queries, up to 3 pages',
    capUsd: 20,
  })
}

/** Steady work, then a 10-minute provider outage retried with exponential backoff. */
function outageRetries(): Trace {
  const b = new TraceBuilder(8)
  let at = 0
  for (let step = 0; step < 60; step++) {
    at = b.model(at, { costMicros: 8_000, output: `step ${step}`, latencyMs: 2_000 }) + 3 * SECOND
  }
  const outageEnds = at + 10 * MINUTE
  let delay = SECOND
  while (at < outageEnds) {
    at = b.failedModel(at, { latencyMs: 200 })
    // Backoff with jitter, capped at a minute (what retry libraries default to).
    at += Math.round(delay * (0.8 + 0.4 * b.random()))
    delay = Math.min(delay * 2, MINUTE)
  }
  for (let step = 60; step < 120; step++) {
    at = b.model(at, { costMicros: 8_000, output: `step ${step}`, latencyMs: 2_000 }) + 3 * SECOND
  }
  return b.build({
    name: 'outage-retries',
    kind: 'honest',
    description: 'a 10-minute provider outage retried with exponential backoff (1 s to 60 s)',
    capUsd: 10,
  })
}

/**
 * A support agent serving many conversations: 20 guarded calls a second for 15 minutes. With
 * `runIds` false its adapter names no runs: the conversations interleave in one scope.
 */
function busyAgent(runIds = true): Trace {
  const b = new TraceBuilder(runIds ? 9 : 19)
  // A conversation every 300 ms, each 3 steps of a model call and a tool call: 20 calls a
  // second in all, about 9 conversations at a time.
  for (let c = 0; c < 3_000; c++) {
    const runId = runIds ? `conversation-${c}` : undefined
    let at = c * 300
    const customer = `cus_${(c * 7_919) % 100_000}`
    for (let step = 0; step < 3; step++) {
      at = b.model(at, {
        costMicros: 1_000,
        output: `reply ${c}.${step}`,
        latencyMs: b.between(400, 900),
        runId,
      })
      const tool = b.pick(['lookup_order', 'search_kb', 'get_customer'])
      at = b.tool(at + 10, tool, { customer, step }, { latencyMs: b.between(50, 200), runId })
      at += 100
    }
  }
  return b.build({
    name: runIds ? 'busy-20rps' : 'busy-20rps-no-run-ids',
    kind: 'honest',
    description: `3,000 conversations over 15 min, 20 guarded calls a second, $0.60 a minute${runIds ? '' : ', no run ids'}`,
    capUsd: 100,
  })
}

/** 4 processes x 4 workers sharing one agent, each job a run (or none), 30 minutes. */
function multiProcess(runIds = true): Trace {
  const b = new TraceBuilder(runIds ? 10 : 20)
  let job = 0
  for (let process = 0; process < 4; process++) {
    for (let worker = 0; worker < 4; worker++) {
      let at = b.between(0, 3_000)
      while (at < 30 * MINUTE) {
        const name = `job-${job++}`
        const runId = runIds ? name : undefined
        // Every job reads the same config, then works on its ticket.
        at = b.tool(at, 'get_config', { env: 'prod' }, { latencyMs: 80, runId, process })
        at = b.model(at + 5, {
          costMicros: 1_500,
          output: `triage ${name}`,
          latencyMs: b.between(800, 2_500),
          runId,
          process,
        })
        at = b.tool(
          at + 5,
          'update_ticket',
          { id: `T-${10_000 + job}`, status: 'triaged' },
          {
            latencyMs: 120,
            runId,
            process,
          },
        )
        at += b.between(200, 1_500)
      }
    }
  }
  return b.build({
    name: runIds ? 'multi-process-4x4' : 'multi-process-4x4-no-run-ids',
    kind: 'honest',
    description: `4 processes x 4 workers on one agent, identical get_config per job, 30 min${runIds ? '' : ', no run ids'}`,
    capUsd: 50,
    processes: 4,
  })
}

/** Every honest trace, built. */
export function honestTraces(): Trace[] {
  return [
    fanOut(300),
    fanOutBatches(),
    fanOutToolPool(),
    pollingEvery(30 * SECOND, { minutes: 60, name: 'polling-1h' }),
    pollingAgentEvery(30 * SECOND, { minutes: 60, name: 'polling-agent-1h' }),
    classifier(),
    research(),
    outageRetries(),
    busyAgent(),
    busyAgent(false),
    multiProcess(),
    multiProcess(false),
    // Added after a red team: each was revoked by the defaults before.
    toolRetryBackoff(),
    toolRetryBackoff('lookup-1'),
    pollingEvery(5 * SECOND),
    pollingEvery(10 * SECOND),
    pollingEvery(5 * SECOND, { runId: 'export-1' }),
    pollingAgentEvery(5 * SECOND, { runId: 'export-1' }),
    pollingAgentEvery(10 * SECOND, { runId: 'export-1' }),
    pollingAgentEvery(5 * SECOND),
    pollingAgentEvery(30 * SECOND, {
      runId: 'run-export-1',
      minutes: 60,
      name: 'polling-agent-1h-run',
    }),
    classifierMapOneRun(),
    classifierSequentialOneRun(),
    classifier(true),
    fanOut(150, 'map-run-1'),
    fanOutToolPool('crawl-1'),
    sequentialWorker(),
    // Guards for the longer cycles (tool-cycle up to 8 calls, slow-loop up to 8 different
    // calls): several tools in turn, new arguments each lap; or the same calls, after a wait.
    paginateSources(),
    roundRobinPoller(3),
    roundRobinPoller(6),
    // Added after the ninth red team: each was refused by the defaults before, but the last
    // and the per-document classifier, which guard the fixes (distinct searches must keep
    // distinct shapes; runs of one lookup each are no repeated runs).
    codingAgent('tests', 'task-42'),
    codingAgent('read', 'task-43'),
    codingAgent('tests'),
    sleepToolPoller(),
    parallelRateLimited(20),
    parallelRateLimited(50),
    parallelRateLimited(20, true),
    parallelRateLimited(50, true),
    chatWithHourlyRefresh(),
    classifierWithLookup(),
    classifierWithLookup(true),
    pollingEvery(5 * SECOND, { latencyMs: 3_100, name: 'polling-5s-slow-call' }),
    pollingEvery(5 * SECOND, { latencyMs: 4_500, name: 'polling-5s-slower-call' }),
    pollingEvery(2_500, { latencyMs: 1_000, name: 'polling-2.5s-1s-call' }),
    pollingEvery(2_500, { latencyMs: 1_000, runId: 'watch-1', name: 'polling-2.5s-1s-call-run' }),
    ragSearches(),
    // Added after the tenth red team (the ninth's fixes had made them refused).
    sequentialThinking(),
    invoiceJobs(),
    // Added after the twelfth red team: each was revoked by the defaults before.
    askedToPoll(3 * SECOND, 700),
    askedToPoll(5 * SECOND, 1_500),
    askedToPoll(10 * SECOND, 4_500),
    listThenOpenWalk(),
    listThenOpenWalk(18, false),
    // Added after the seventeenth red team: revoked by the defaults at the fifth ticket.
    ticketWorkerNoRunId(),
    // Added after red team rt35: the pollers were revoked at their 5th poll, the research
    // agent throttled at its 10th paper.
    pollingEvery(2 * SECOND),
    pollingEvery(SECOND),
    pollingEvery(2 * SECOND, { runId: 'export-2' }),
    askedToPoll(2 * SECOND, 700),
    fastPaidResearch(),
    fastPaidResearch('survey-1'),
    // Added after red team rt41a: an app asking through the model every second (a 1 s sleep,
    // fast steps), no run id, revoked at its 6th poll by the AI SDK adapter's defaults.
    askedToPoll(SECOND, 40),
    // Added after red team rt42a: the same, sleeping 0.45 s (revoked at its 8th to 11th ask).
    askedToPoll(700, 40),
  ]
}

/**
 * An agent walking a repo's issues in one run: list_issues page 1, 2, 3... and get_issue of a
 * new issue between, a model step (0.9-1.6 s) before each call, free tools. 18 steps: at 20,
 * repeated-tool-call's similar tier throttles it (10 calls of one shape, as one tool paging).
 */
function listThenOpenWalk(steps = 18, oneRun = true): Trace {
  const runId = oneRun ? 'triage-1' : undefined
  const b = new TraceBuilder(runId ? 63 : 64)
  const repo = 'acme/api'
  const opened = new Set<number>()
  let at = 0
  for (let step = 0; step < steps; step++) {
    const lap = Math.floor(step / 2)
    let tool = 'list_issues'
    let args: Record<string, unknown> = { repo, page: lap + 1 }
    if (step % 2 === 1) {
      let number = b.between(100, 999)
      while (opened.has(number)) number = b.between(100, 999)
      opened.add(number)
      tool = 'get_issue'
      args = { repo, number }
    }
    at = b.model(at, {
      costMicros: b.between(1_500, 3_000),
      output: `plan: ${tool} ${JSON.stringify(args)}`,
      ask: step === 0 ? 'Triage the open issues of acme/api' : `result of step ${step}`,
      latencyMs: b.between(900, 1_600),
      runId,
    })
    at = b.tool(at + 20, tool, args, { latencyMs: b.between(150, 400), runId }) + 20
  }
  b.model(at, {
    costMicros: 4_000,
    output: 'Triage summary.',
    ask: `result of step ${steps}`,
    runId,
  })
  return b.build({
    name: `list-then-open-${steps}${runId ? '' : '-no-run-id'}`,
    kind: 'honest',
    description: `one run: list_issues page 1, 2, 3... and get_issue of a new issue between, ${steps} model steps at 0.9-1.6 s`,
    capUsd: 10,
  })
}

/**
 * Code asks the model every `periodMs`, start to start, whether a job is done: a step that
 * calls the status tool, its result, a step that answers "still running" (the turn ends),
 * then the app sleeps what is left of its period: 2 steps of `latencyMs` leave little idle
 * (0.85 s at 10 s with 4.5 s steps), under the scope's pause. The job is done at the end.
 */
function askedToPoll(periodMs: number, latencyMs: number, minutes = 10): Trace {
  const b = new TraceBuilder(70 + periodMs)
  const polls = Math.round((minutes * MINUTE) / periodMs)
  for (let i = 0; i < polls; i++) {
    const last = i === polls - 1
    let at = b.model(i * periodMs, {
      costMicros: 300,
      output: 'get_job_status({"jobId":"job-4711"})',
      latencyMs,
    })
    at = b.tool(at + 10, 'get_job_status', { jobId: 'job-4711' }, { latencyMs: 150 })
    b.model(at + 10, {
      costMicros: 200,
      output: last ? 'the export is ready' : 'the job is still running',
      latencyMs,
    })
  }
  const s = periodMs / SECOND
  return b.build({
    name: `asked-to-poll-${s}s-${latencyMs / SECOND}s-steps`,
    kind: 'honest',
    description: `code asks the model every ${s} s whether a job is done; it calls the same status tool and answers, each step ${latencyMs / SECOND} s, ${minutes} minutes`,
    capUsd: 10,
  })
}

/**
 * A fast research agent: a new search ($0.01), then a paper it found ($0.002, arXiv URLs that
 * differ by their id only), 20 times, each model step 0.7-1.5 s. Every call new work.
 */
function fastPaidResearch(runId?: string): Trace {
  const b = new TraceBuilder(runId ? 71 : 72)
  const papers = new Set<number>()
  let at = 0
  for (let step = 0; step < 20; step++) {
    at = b.model(at, {
      costMicros: 2_000,
      output: `search step ${step}`,
      latencyMs: b.between(700, 1_500),
      runId,
    })
    const q = `${b.pick(WORDS)} ${b.pick(WORDS)} ${b.pick(WORDS)}`
    at = b.tool(at + 10, 'search', { q }, { latencyMs: 150, priceMicros: 10_000, runId })
    at = b.model(at + 10, {
      costMicros: 2_000,
      output: `read step ${step}`,
      latencyMs: b.between(700, 1_500),
      runId,
    })
    let paper = b.between(10_000, 29_999)
    while (papers.has(paper)) paper = b.between(10_000, 29_999)
    papers.add(paper)
    const url = `https://arxiv.org/abs/2411.${paper}`
    at = b.tool(at + 10, 'fetch_page', { url }, { latencyMs: 150, priceMicros: 2_000, runId })
  }
  b.model(at + 10, { costMicros: 4_000, output: 'the survey', latencyMs: 3_000, runId })
  return b.build({
    name: `fast-paid-research${runId ? '' : '-no-run-id'}`,
    kind: 'honest',
    description: `20 new searches, each followed by a new paper (URLs differing by id), paid, 0.7-1.5 s steps${runId ? ', in one run' : ''}`,
    capUsd: 10,
  })
}

/**
 * An agent thinking step by step with the MCP `sequentialthinking` tool: a free call per
 * thought, each thought new, the numbers counting up; 14 thoughts in one run, then an answer.
 */
function sequentialThinking(): Trace {
  const b = new TraceBuilder(61)
  const runId = 'think-1'
  const topics = ['the schema', 'the migration', 'the rollback', 'the indexes', 'the tests']
  topics.push('the deploy order', 'the feature flag', 'the backfill', 'the monitoring')
  topics.push('the old clients', 'the cache keys', 'the queue consumers', 'the docs', 'the plan')
  let at = 0
  topics.forEach((topic, i) => {
    const args = {
      thought: `Consider ${topic}: what breaks if it changes before the rest`,
      nextThoughtNeeded: i < topics.length - 1,
      thoughtNumber: i + 1,
      totalThoughts: topics.length,
    }
    at = b.model(at, {
      costMicros: 3_000,
      output: `plan: sequentialthinking ${JSON.stringify(args)}`,
      ask: i === 0 ? 'Plan the schema change' : `thought ${i} recorded`,
      runId,
    })
    at = b.tool(at + 20, 'sequentialthinking', args, { latencyMs: 30, runId }) + 20
  })
  b.model(at, { costMicros: 9_000, output: 'Here is the plan.', ask: 'thought 14 recorded', runId })
  return b.build({
    name: 'sequential-thinking',
    kind: 'honest',
    description: '14 steps of the MCP sequentialthinking tool in one run, each thought new',
    capUsd: 20,
  })
}

/**
 * A queue worker processing invoices back to back, a run per invoice: a model step asked
 * about that invoice, the same paid `get_fx_rates({ base: 'USD' })` ($0.002), then its answer.
 */
function invoiceJobs(): Trace {
  const b = new TraceBuilder(62)
  let at = 0
  for (let job = 0; job < 40; job++) {
    const runId = `invoice-${1000 + job}`
    at = b.model(at, {
      costMicros: 2_500,
      output: 'plan: get_fx_rates {"base":"USD"}',
      ask: `Convert invoice INV-${1000 + job} to USD`,
      runId,
    })
    at = b.tool(
      at + 20,
      'get_fx_rates',
      { base: 'USD' },
      { latencyMs: 300, priceMicros: 2_000, runId },
    )
    at =
      b.model(at + 20, {
        costMicros: 3_000,
        output: `INV-${1000 + job}: $${(job * 37.5 + 120).toFixed(2)}`,
        ask: 'rates: EUR 1.08, GBP 1.27',
        runId,
      }) + 20
  }
  return b.build({
    name: 'invoice-jobs',
    kind: 'honest',
    description: '40 invoice jobs back to back, a run each, the same $0.002 rates call in each',
    capUsd: 50,
  })
}

const FILES = ['parser', 'lexer', 'router', 'cache', 'auth', 'queue', 'config', 'logger']
FILES.push('server', 'client', 'schema', 'worker', 'metrics', 'retry', 'session')

/**
 * A coding agent fixing a test suite in one run (or with no run id): a model step plans an
 * edit of the next file, the edit, a model step plans the same check, then the check: the
 * same `npm test` (or a re-read of the same file) every time, its output changing as the
 * fixes land, 15 times. The check takes under the pause (`PAUSE_MS`): nothing waits. Each
 * plan is hashed with the latest tool result it answers, as the guard hashes it.
 */
function codingAgent(check: 'tests' | 'read', runId?: string): Trace {
  const b = new TraceBuilder(runId ? (check === 'tests' ? 31 : 32) : 33)
  let at = 0
  let lastResult = 'Fix the failing tests'
  FILES.forEach((file, fix) => {
    at = b.model(at, {
      costMicros: 18_000,
      output: `plan: edit_file src/${file}.ts`,
      ask: lastResult,
      latencyMs: b.between(2_000, 4_000),
      runId,
    })
    const edit = {
      path: `src/${file}.ts`,
      old_string: 'return null',
      new_string: `return ${file}Value`,
    }
    at = b.tool(at + 20, 'edit_file', edit, { latencyMs: 200, runId })
    lastResult = `edited src/${file}.ts`
    const [tool, args] =
      check === 'tests' ? ['bash', { command: 'npm test' }] : ['read_file', { path: 'src/app.ts' }]
    at = b.model(at + 20, {
      costMicros: 19_000,
      output: `plan: ${tool} ${JSON.stringify(args)}`,
      ask: lastResult,
      latencyMs: b.between(1_500, 3_000),
      runId,
    })
    at = b.tool(at + 20, tool, args, {
      latencyMs: check === 'tests' ? b.between(800, 1_800) : 100,
      runId,
    })
    lastResult =
      check === 'tests' ? `${FILES.length - fix - 1} tests failing` : `app.ts after fix ${fix}`
  })
  b.model(at + 20, { costMicros: 20_000, output: 'All tests pass now.', ask: lastResult, runId })
  return b.build({
    name: `coding-agent-${check}${runId ? '' : '-no-run-id'}`,
    kind: 'honest',
    description: `edit a different file, then the same ${check === 'tests' ? '`npm test`' : 're-read of one file'} (its output changing), 15 fixes${runId ? ', one run' : ', no run id'}`,
    capUsd: 50,
  })
}

/**
 * A model waiting for a deployment: a model step, a free `sleep({ seconds: 10 })` (a call
 * that lasts 10 s), a model step, the same status call; 20 laps, the same answers each lap.
 */
function sleepToolPoller(): Trace {
  const b = new TraceBuilder(34)
  const runId = 'deploy-watch'
  let at = 0
  for (let lap = 0; lap < 20; lap++) {
    at = b.model(at, {
      costMicros: 2_000,
      output: 'plan: sleep {"seconds":10}',
      ask: 'deployment in progress',
      runId,
    })
    at = b.tool(at + 20, 'sleep', { seconds: 10 }, { latencyMs: 10 * SECOND, runId })
    at = b.model(at + 20, {
      costMicros: 2_000,
      output: 'plan: get_deploy_status {"id":"dep_42"}',
      ask: 'slept 10 s',
      runId,
    })
    at = b.tool(at + 20, 'get_deploy_status', { id: 'dep_42' }, { latencyMs: 400, runId }) + 20
  }
  return b.build({
    name: 'model-poller-sleep-tool',
    kind: 'honest',
    description: 'model step, a free 10 s sleep tool, model step, the same status call: 20 laps',
    capUsd: 20,
  })
}

/**
 * A batch of `count` parallel model calls (each its own run, or none) hitting a rate limit
 * at once: every one fails with a 429, then is retried 2 s later (the AI SDK's backoff) and
 * succeeds; then 4 more batches that succeed.
 */
function parallelRateLimited(count: number, runIds = false): Trace {
  const b = new TraceBuilder(35 + count)
  const runId = (i: number) => (runIds ? `doc-${i}` : undefined)
  for (let i = 0; i < count; i++)
    b.failedModel(i, { latencyMs: b.between(250, 350), runId: runId(i) })
  for (let batch = 0; batch < 5; batch++) {
    for (let i = 0; i < count; i++) {
      b.model(2_400 + batch * 10 * SECOND + i, {
        costMicros: 450,
        output: `summary of document ${batch * count + i}`,
        latencyMs: b.between(800, 2_000),
        runId: runId(batch * count + i),
      })
    }
  }
  return b.build({
    name: `rate-limited-burst-${count}${runIds ? '-run-ids' : ''}`,
    kind: 'honest',
    description: `${count} parallel calls all answered 429 at once, each retried once 2 s later${runIds ? ', a run per call' : ''}`,
    capUsd: 50,
  })
}

/**
 * A support agent with no run ids answering chats (a $0.03 model turn every 30 s) for 6
 * hours, and a cron in the same agent refreshing a cache with the same free call hourly.
 */
function chatWithHourlyRefresh(): Trace {
  const b = new TraceBuilder(36)
  let at = 0
  for (let hour = 0; hour < 6; hour++) {
    at = b.tool(at, 'refresh_cache', { key: 'pricing' }, { latencyMs: 800 })
    for (let turn = 0; turn < 120; turn++) {
      at = b.model(at + 28 * SECOND, {
        costMicros: 30_000,
        output: `answer ${hour}-${turn}`,
        latencyMs: 2_000,
      })
    }
  }
  return b.build({
    name: 'chat-with-hourly-refresh',
    kind: 'honest',
    description:
      'chat turns ($0.03 every 30 s, no run ids) and the same free refresh_cache hourly, 6 h',
    capUsd: 100,
  })
}

/**
 * 1,000 documents labelled in parallel batches of 50 (no run id, or one per document): each
 * first reads the same label taxonomy with a free call, then a model labels it.
 */
function classifierWithLookup(runIds = false): Trace {
  const b = new TraceBuilder(runIds ? 38 : 37)
  const labels = ['positive', 'negative', 'neutral']
  let at = 0
  for (let batch = 0; batch < 20; batch++) {
    const items = Array.from({ length: 50 }, (_, k) => batch * 50 + k)
    const runId = (item: number) => (runIds ? `item-${item}` : undefined)
    for (const item of items) {
      b.tool(at, 'get_taxonomy', { version: 'v3' }, { latencyMs: 200, runId: runId(item) })
    }
    at += 200
    for (const item of items) {
      b.model(at, {
        costMicros: 4_520,
        output: labels[item % 3] as string,
        ask: `review #${item}`,
        latencyMs: 1_200,
        runId: runId(item),
      })
    }
    at += 1_300
  }
  return b.build({
    name: `classifier-lookup-batches${runIds ? '-run-ids' : ''}`,
    kind: 'honest',
    description: `1,000 labels in parallel batches of 50, each reading the same free taxonomy first${runIds ? ', a run per document' : ''}`,
    capUsd: 100,
  })
}

/** The RAG agent: 30 distinct searches in one run, a model step before each. */
function ragSearches(): Trace {
  const b = new TraceBuilder(39)
  const topics = ['pricing', 'enterprise plan cost', 'vs globex pricing', 'discount for nonprofits']
  topics.push('annual billing', 'seat minimum', 'api rate limits', 'sso support', 'data residency')
  topics.push('soc2 report', 'refund policy', 'free trial length', 'customer reviews')
  topics.push('support hours', 'uptime sla', 'integrations list', 'changelog', 'founders')
  topics.push('funding round', 'headcount', 'competitors', 'market share', 'roadmap ai')
  topics.push('security incidents', 'gdpr', 'hipaa', 'on premise', 'mobile app')
  topics.push('partner program', 'reseller margin')
  let at = 0
  for (const topic of topics) {
    at = b.model(at, { costMicros: 4_000, output: `next: acme ${topic}`, runId: 'rag' })
    at = b.tool(at + 20, 'search', { query: `acme ${topic}`, k: 5 }, { runId: 'rag' }) + 20
  }
  return b.build({
    name: 'rag-30-searches',
    kind: 'honest',
    description:
      'one run: 30 searches with distinct queries (and the same k), a model step before each',
    capUsd: 50,
  })
}

/**
 * Pagination over 6 sources in one run: a model step ($0.01), then the next page of one
 * source (a paid search, $0.01), source after source, 8 pages each: the same 6 tools in
 * turn, arguments of the same shape, never the same call twice.
 */
function paginateSources(): Trace {
  const b = new TraceBuilder(21)
  const runId = 'survey-1'
  const sources = ['search_arxiv', 'search_github', 'search_hn', 'search_docs', 'search_web']
  sources.push('search_news')
  let at = 0
  for (let page = 1; page <= 8; page++) {
    for (const source of sources) {
      at = b.model(at, {
        costMicros: 10_000,
        output: `next: ${source} page ${page}`,
        latencyMs: b.between(900, 1_500),
        runId,
      })
      at = b.tool(
        at + 20,
        source,
        { query: 'agent spending limits', page },
        { latencyMs: b.between(200, 500), priceMicros: 10_000, runId },
      )
    }
  }
  return b.build({
    name: 'paginate-6-sources',
    kind: 'honest',
    description: 'one run: 6 search tools in turn, the next page of each every lap, 8 pages',
    capUsd: 20,
  })
}

/** Code polling `jobs` jobs in turn (the same free status calls) every 5 s, no run id. */
function roundRobinPoller(jobs: number): Trace {
  const b = new TraceBuilder(22 + jobs)
  let at = b.model(0, { costMicros: 5_000, output: `starting ${jobs} exports` })
  for (let round = 0; round < 120; round++) {
    for (let job = 0; job < jobs; job++) {
      at = b.tool(at, `get_${job % 2 ? 'export' : 'build'}_status`, { jobId: `job-${job}` })
    }
    at += 5 * SECOND
  }
  return b.build({
    name: `polling-${jobs}-jobs-5s`,
    kind: 'honest',
    description: `${jobs} jobs polled in turn (free status calls) every 5 s for 10 minutes, no run id`,
    capUsd: 10,
  })
}
