// Cost per observation of each runaway detector and of the whole monitor over the memory
// store (target: <= 1 µs per detector per observation, PERFORMANCE.md). Not a test: run it
// alone with `npm run x -- node packages/core/src/runaway/detectors.bench.ts`, or import
// `benchDetectors` from the bench runner.
//
// One detector call takes well under a microsecond, below what a per-iteration timer can
// resolve, so each measured iteration runs a batch and the figures are divided by it.
import { registerHooks } from 'node:module'
import { pathToFileURL } from 'node:url'
import { Bench } from 'tinybench'
import type { ActivityEvent, AgentRecord } from '../store.js'

/** Detector calls per measured iteration. */
const BATCH = 1_000
/** Monitor observations per measured iteration (each awaits the store). */
const MONITOR_BATCH = 200
const T0 = 1_700_000_000_000

let hooked = false

/**
 * Node runs this TypeScript file directly (type stripping), but the sources import each other
 * with `.js` suffixes, which only the build rewrites. Resolve a missing relative `.js` to its
 * `.ts` source so that the benchmark needs no build.
 */
function resolveSources(): void {
  if (hooked) return
  hooked = true
  registerHooks({
    resolve(specifier, context, nextResolve) {
      try {
        return nextResolve(specifier, context)
      } catch (error) {
        if (!specifier.startsWith('.') || !specifier.endsWith('.js')) throw error
        return nextResolve(`${specifier.slice(0, -3)}.ts`, context)
      }
    },
  })
}

/**
 * Measures each detector, the argument hash and the monitor over the memory store, on a
 * full 256-event window of a busy agent that is not looping (the hot path: every detector
 * scans and finds nothing).
 *
 * @example
 * for (const row of await benchDetectors()) console.log(row.name, row.medianUs.toFixed(3), 'µs')
 */
export async function benchDetectors(): Promise<
  Array<{ name: string; medianUs: number; opsPerSec: number }>
> {
  resolveSources()
  const { canonicalHash } = await import('./canonical-hash.js')
  const fixtures = await import('./activity-fixtures.js')
  const { DEFAULT_RUNAWAY_CONFIG: config } = await import('./runaway-defaults.js')
  const { detectRepeatedToolCall } = await import('./detectors/repeated-tool-call.js')
  const { detectToolCycle } = await import('./detectors/tool-cycle.js')
  const { detectNoProgress } = await import('./detectors/no-progress.js')
  const { detectSpendVelocity } = await import('./detectors/spend-velocity.js')
  const { detectCallRate } = await import('./detectors/call-rate.js')
  const { detectSlowLoop, SlowLoopTracker } = await import('./detectors/slow-loop.js')
  const { detectSpendSpike } = await import('./detectors/spend-spike.js')
  const { RateWindow } = await import('./rate-window.js')
  const { SpendHistory } = await import('./spend-history.js')
  const { shapeHash } = await import('./shape-hash.js')
  const { detectErrorStreak } = await import('./detectors/error-streak.js')
  const { detectRunLimits } = await import('./detectors/run-limits.js')
  const { detectThresholdBreach } = await import('./detectors/threshold-breach.js')
  const { createRunawayMonitor } = await import('./create-runaway-monitor.js')
  const { memoryStore } = await import('../stores/memory-store.js')

  // 64 agent steps, one a second: model call, result, tool call, tool result.
  const history: ActivityEvent[] = []
  for (let i = 0; i < 64; i++) {
    const at = T0 + i * 1_000
    history.push(
      fixtures.modelCall(at),
      fixtures.modelResult(at + 400, { micros: 20_000, output: `answer ${i}` }),
      fixtures.toolCall(at + 500, 'search', { query: `topic ${i}`, page: 1 }),
      fixtures.toolResult(at + 900, 'search', true),
    )
  }
  const now = T0 + 64_000
  const endingWith = (event: ActivityEvent) => [...history.slice(1), event]
  const onToolCall = endingWith(fixtures.toolCall(now, 'search', { query: 'new topic', page: 1 }))
  // Slow loop keeps a tracker per scope: a step and a tool call update it, then it is read.
  const loops = new SlowLoopTracker()
  let loopClock = T0
  let loopCall = 0
  const calls = new RateWindow(config.callRate.windowMs)
  const spendHistory = new SpendHistory(
    config.spendVelocity.windowMs,
    config.spendVelocity.historyMs,
  )
  const onModelResult = endingWith(fixtures.modelResult(now, { micros: 20_000, output: 'new' }))
  const onFailure = endingWith(fixtures.failure(now))
  const run = { runId: 'run-1', startedAt: T0, modelCalls: 64, toolCalls: 64 }
  const args = { query: 'llm pricing 2026', page: 3, filters: { lang: 'en', safe: true } }

  let sink = 0
  const batch = (fn: () => string) => () => {
    for (let i = 0; i < BATCH; i++) sink += fn().length === 0 ? 0 : 1
  }
  const detectors: Array<[string, () => string]> = [
    [
      'repeated-tool-call',
      () => detectRepeatedToolCall(onToolCall, now, config.repeatedToolCall).status,
    ],
    ['tool-cycle', () => detectToolCycle(onToolCall, now, config.toolCycle).status],
    ['no-progress', () => detectNoProgress(onModelResult, now, config.noProgress).status],
    ['spend-velocity', () => detectSpendVelocity(onModelResult, now, config.spendVelocity).status],
    // Call rate and spend spike read process-local counters: the update and the read are
    // what each observation costs.
    [
      'call-rate',
      () => {
        calls.add(now, 1)
        return detectCallRate(calls.sum(now), 'model_call', config.callRate).status
      },
    ],
    [
      'spend-spike',
      () => {
        spendHistory.add(now, 20_000)
        return detectSpendSpike(spendHistory.read(now), config.spendVelocity).status
      },
    ],
    [
      'slow-loop',
      () => {
        loopClock += 1_000
        loops.step()
        loops.spent(20_000)
        // A busy agent: a new call every time, now and then one it made before.
        const key = `k${loopCall++ % 7 === 0 ? 0 : loopCall}`
        const reading = loops.call('search', key, loopClock, config.slowLoop)
        return detectSlowLoop(reading, 50_000_000, config.slowLoop, loopClock).status
      },
    ],
    ['error-streak', () => detectErrorStreak(onFailure, now, config.errorStreak).status],
    ['run-limits', () => detectRunLimits(run, now, config.runLimits).status],
    [
      'threshold-breach',
      () =>
        detectThresholdBreach(
          { spentMicros: 1_000_000, capMicros: 50_000_000 },
          { ...config.thresholdBreach, enabled: true },
        ).status,
    ],
    ['canonical-hash (tool arguments)', () => canonicalHash(args)],
    ['shape-hash (tool arguments, normalised)', () => shapeHash(args)],
  ]

  const bench = new Bench({ time: 300, warmupTime: 100 })
  for (const [name, fn] of detectors) bench.add(name, batch(fn))

  // The whole monitor: one agent step (4 observations) with new arguments each time.
  const store = memoryStore()
  const agentFields = {
    credentialHash: '0'.repeat(64),
    capMicros: 1_000_000_000_000,
    currency: 'usd' as const,
    createdAt: T0,
    updatedAt: T0,
    policy: { alerts: [], runaway: {} },
  }
  const agent: AgentRecord = await store.createAgent({ ...agentFields, handle: 'bench-agent' })
  // The baseline the monitor builds on: the store's append-and-return-window alone.
  await store.createAgent({
    ...agentFields,
    handle: 'bench-baseline',
    credentialHash: '1'.repeat(64),
  })
  const template = fixtures.toolCall(T0, 'search', 'x')
  let baselineClock = T0
  bench.add('baseline: memoryStore.recordActivity (per observation)', async () => {
    for (let i = 0; i < MONITOR_BATCH; i++) {
      baselineClock += 250
      await store.recordActivity(
        'bench-baseline',
        { ...template, at: baselineClock },
        config.historySize,
      )
    }
  })
  const monitor = createRunawayMonitor(store)
  let clock = T0
  let step = 0
  bench.add('monitor.observe (memory store, per observation)', async () => {
    for (let i = 0; i < MONITOR_BATCH / 4; i++) {
      // 1 s per step keeps the agent's pace honest: the detectors see a busy agent, not a flood.
      clock += 1_000
      step++
      // A new run every 50 steps, as an agent serving requests does (and no run limit is hit).
      const runId = `run-${Math.floor(step / 50)}`
      await monitor.observe(agent, { kind: 'model_call', model: 'gpt-4o', runId }, clock)
      const result = {
        kind: 'model_result',
        model: 'gpt-4o',
        costMicros: 20_000,
        outputHash: `o${step}`,
      } as const
      await monitor.observe(agent, { ...result, runId }, clock + 400)
      await monitor.observe(
        agent,
        { kind: 'tool_call', tool: 'search', args: { q: step }, runId },
        clock + 500,
      )
      await monitor.observe(
        agent,
        { kind: 'tool_result', tool: 'search', ok: true, runId },
        clock + 900,
      )
    }
  })

  await bench.run()
  if (sink < 0) console.log(sink) // keeps the detector results observable to the optimiser

  return bench.tasks.map((task) => {
    const result = task.result
    if (result.state !== 'completed') {
      throw new Error(`benchmark "${task.name}" did not complete (${result.state})`)
    }
    const perIteration = /^(monitor|baseline)/.test(task.name) ? MONITOR_BATCH : BATCH
    const medianUs = (result.latency.p50 * 1_000) / perIteration
    return { name: task.name, medianUs, opsPerSec: Math.round(1_000_000 / medianUs) }
  })
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const rows = await benchDetectors()
  console.table(
    rows.map((row) => ({
      name: row.name,
      'median µs / observation': Number(row.medianUs.toFixed(3)),
      'ops/s': row.opsPerSec,
      'within 1 µs': row.medianUs <= 1 ? 'yes' : 'no',
    })),
  )
}
