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

/** 300 model calls at once (a Promise.all over documents), then their answers. */
function fanOut300(): Trace {
  const b = new TraceBuilder(1)
  for (let i = 0; i < 300; i++) {
    b.model(i * 2, {
      costMicros: 2_000,
      output: `summary of document ${i}`,
      latencyMs: b.between(1_500, 8_000),
    })
  }
  return b.build({
    name: 'fan-out-300',
    kind: 'honest',
    description: '300 parallel model calls (Promise.all over documents), $0.002 each',
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

/** 200 pages fetched through a pool of 8 (p-limit): the URLs differ only by a number. */
function fanOutToolPool(): Trace {
  const b = new TraceBuilder(3)
  const free = Array.from({ length: 8 }, () => 0)
  for (let i = 0; i < 200; i++) {
    const slot = free.indexOf(Math.min(...free))
    const start = free[slot] as number
    free[slot] = b.tool(
      start,
      'fetch_page',
      { url: `https://docs.example.com/page/${i}` },
      {
        latencyMs: b.between(200, 900),
        priceMicros: 1_000,
      },
    )
  }
  return b.build({
    name: 'fan-out-tool-pool',
    kind: 'honest',
    description: '200 paid page fetches through a pool of 8, URLs differing only by a number',
    capUsd: 5,
  })
}

/** A job polled every 30 s for an hour by code (the same free call 120 times). */
function pollingCode(): Trace {
  const b = new TraceBuilder(4)
  b.model(0, { costMicros: 5_000, output: 'starting the export job' })
  for (let i = 0; i < 120; i++) {
    b.tool(
      2 * SECOND + i * 30 * SECOND,
      'get_job_status',
      { jobId: 'job-7f3a' },
      {
        latencyMs: 150,
      },
    )
  }
  b.model(3_602 * SECOND, { costMicros: 5_000, output: 'the export is ready' })
  return b.build({
    name: 'polling-1h',
    kind: 'honest',
    description: 'get_job_status with the same arguments every 30 s for an hour (free)',
    capUsd: 10,
  })
}

/** The model itself polls: a cheap model step before each poll, for an hour. */
function pollingAgent(): Trace {
  const b = new TraceBuilder(5)
  for (let i = 0; i < 120; i++) {
    const at = i * 30 * SECOND
    const done = b.model(at, {
      costMicros: 500,
      output: 'the job is still running: check again',
      latencyMs: 800,
    })
    b.tool(done + 10, 'get_job_status', { jobId: 'job-7f3a' }, { latencyMs: 150 })
  }
  return b.build({
    name: 'polling-agent-1h',
    kind: 'honest',
    description: 'a cheap model step and the same status call every 30 s for an hour',
    capUsd: 10,
  })
}

/** A classifier answering "yes" 1,000 times, 4 requests a second, no run id. */
function classifier(): Trace {
  const b = new TraceBuilder(6)
  for (let i = 0; i < 1_000; i++) {
    b.model(i * 250, { costMicros: 200, output: 'yes', latencyMs: b.between(150, 400) })
  }
  return b.build({
    name: 'classifier-1000',
    kind: 'honest',
    description: 'a classifier giving the same label 1,000 times (4 a second, no run id)',
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
    fanOut300(),
    fanOutBatches(),
    fanOutToolPool(),
    pollingCode(),
    pollingAgent(),
    classifier(),
    research(),
    outageRetries(),
    busyAgent(),
    busyAgent(false),
    multiProcess(),
    multiProcess(false),
  ]
}
