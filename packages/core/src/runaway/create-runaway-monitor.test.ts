import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { RunawayDetectedError } from '../errors.js'
import { createKillSwitch } from '../kill-switch.js'
import type { AgentPolicy } from '../policy.js'
import type { ActivityEvent, AgentRecord, Store } from '../store.js'
import { memoryStore } from '../stores/memory-store.js'
import { canonicalHash } from './canonical-hash.js'
import type { RunawayConfig } from './config.js'
import { createRunawayMonitor } from './create-runaway-monitor.js'
import { shapeHash } from './shape-hash.js'
import type { Observation, RunawayMonitor, RunawayVerdict } from './types.js'

const T0 = 1_700_000_000_000
const WORDS =
  'alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike november oscar papa quebec romeo sierra tango'.split(
    ' ',
  )

async function setup(
  runaway: RunawayConfig = {},
  options: { capUsd?: number; store?: Store } = {},
) {
  const store = options.store ?? memoryStore()
  const policy: AgentPolicy = { alerts: [], runaway }
  const agent = await store.createAgent({
    handle: 'researcher-agent-7',
    credentialHash: 'f'.repeat(64),
    capMicros: (options.capUsd ?? 10_000) * 1_000_000,
    currency: 'usd',
    createdAt: T0,
    updatedAt: T0,
    policy,
  })
  return { store, agent, monitor: createRunawayMonitor(store) }
}

const search = (q: unknown, runId?: string): Observation => ({
  kind: 'tool_call',
  tool: 'search',
  args: q,
  runId,
})

/** A search call and its result (a loop waits for each result): the call's verdict. */
async function searchStep(
  monitor: RunawayMonitor,
  agent: AgentRecord,
  args: unknown,
  at: number,
  runId?: string,
): Promise<RunawayVerdict> {
  const verdict = await monitor.observe(agent, search(args, runId), at)
  await monitor.observe(agent, { kind: 'tool_result', tool: 'search', ok: true, runId }, at + 1)
  return verdict
}

describe('createRunawayMonitor', () => {
  it('revokes a loop whose tools run a run each while its model runs in none (red team rt36)', async () => {
    // LangChain: guardModel's calls carry no run; the callback handler gives each tool call a
    // run of its own. Before, the run comparison never saw the model between the runs, and
    // read the same free call 1.2 s apart as a poll.
    const { agent, monitor } = await setup()
    const actions: string[] = []
    for (let lap = 0; lap < 8; lap++) {
      const at = T0 + lap * 1_200
      const runId = `tool-run-${lap}`
      await monitor.observe(agent, { kind: 'model_call', model: 'gpt-4o' }, at)
      await monitor.observe(
        agent,
        { kind: 'model_result', model: 'gpt-4o', costMicros: 1_000, outputHash: `plan-${lap}` },
        at + 1_000,
      )
      const call = {
        kind: 'tool_call',
        tool: 'get_export',
        args: { exportId: 'exp-7' },
        runId,
      } as const
      actions.push((await monitor.observe(agent, call, at + 1_010)).action)
      await monitor.observe(
        agent,
        { kind: 'tool_result', tool: 'get_export', ok: true, runId },
        at + 1_100,
      )
    }
    expect(actions).toContain('revoke')
  })

  it('answers none, enforced, for ordinary activity', async () => {
    const { agent, monitor } = await setup()
    expect(await monitor.observe(agent, { kind: 'model_call', model: 'gpt-4o' }, T0)).toEqual({
      action: 'none',
      enforced: true,
    })
  })

  it('warns once, then revokes at the fifth identical tool call, with names and hashes as evidence', async () => {
    const { agent, monitor } = await setup()
    const args = { query: 'acme corp layoffs', page: 1 }
    const verdicts: RunawayVerdict[] = []
    for (let i = 0; i < 5; i++) {
      verdicts.push(
        await searchStep(
          monitor,
          agent,
          i % 2 ? args : { page: 1, query: 'acme corp layoffs' },
          // A loop in code: the same call again at once (every 0.9 s or more is a poll).
          T0 + i * 400,
        ),
      )
    }
    expect(verdicts.map((verdict) => verdict.action)).toEqual([
      'none',
      'none',
      'warn',
      'none',
      'revoke',
    ])
    const tripped = verdicts[4] as RunawayVerdict
    expect(tripped.enforced).toBe(true)
    expect(tripped.finding).toMatchObject({
      detector: 'repeated-tool-call',
      status: 'trip',
      evidence: { tool: 'search', argsHash: canonicalHash(args), count: 5, warnAt: 3, tripAt: 5 },
    })
    expect(JSON.stringify(tripped)).not.toContain('acme')
  })

  it('in shadow mode computes the same decisions and marks them not enforced', async () => {
    const { agent, monitor } = await setup({ enforce: false })
    const verdicts: RunawayVerdict[] = []
    for (let i = 0; i < 6; i++)
      verdicts.push(await searchStep(monitor, agent, { q: 1 }, T0 + i * 10))
    expect(verdicts.map((verdict) => verdict.action)).toEqual([
      'none',
      'none',
      'warn',
      'none',
      'revoke',
      'revoke',
    ])
    expect(verdicts.every((verdict) => verdict.enforced === false)).toBe(true)
  })

  it('carries out the configured rung of the ladder per detector', async () => {
    const { agent, monitor } = await setup({ repeatedToolCall: { action: 'block' } })
    let verdict: RunawayVerdict | undefined
    for (let i = 0; i < 5; i++) verdict = await searchStep(monitor, agent, { q: 1 }, T0 + i * 10)
    expect(verdict?.action).toBe('block')
    expect(verdict?.finding?.evidence).toMatchObject({ retryAfterMs: 5_000 })
  })

  it('a block throttles its scope with a retry-after, refuses without recording, and doubles while the loop goes on', async () => {
    const recorded: string[] = []
    const inner = memoryStore()
    const store: Store = {
      ...inner,
      createAgent: (record) => inner.createAgent(record),
      recordActivity: (handle, events, keep) => {
        for (const event of [events].flat()) recorded.push(event.kind)
        return inner.recordActivity(handle, events, keep)
      },
    }
    const { agent, monitor } = await setup({}, { store })
    const counter = (i: number) => ({ q: 'acme pricing', attempt: i })
    const verdicts: RunawayVerdict[] = []
    for (let i = 0; i < 10; i++)
      verdicts.push(await searchStep(monitor, agent, counter(i), T0 + i * 1_000, 'run-1'))
    expect(verdicts[9]).toMatchObject({
      action: 'block',
      finding: {
        detector: 'repeated-tool-call',
        evidence: { match: 'similar', retryAfterMs: 5_000 },
      },
    })
    const before = recorded.length
    // During the throttle: the run's calls are refused and not recorded; other runs go on.
    const held = await monitor.observe(agent, search(counter(10), 'run-1'), T0 + 12_000)
    expect(held).toMatchObject({ action: 'block', finding: { evidence: { held: true } } })
    expect(recorded.length).toBe(before)
    expect((await searchStep(monitor, agent, { q: 'other' }, T0 + 12_100, 'run-2')).action).toBe(
      'none',
    )
    // After it, the loop goes on and trips again: twice as long.
    const again = await searchStep(monitor, agent, counter(11), T0 + 15_000, 'run-1')
    expect(again.finding?.evidence).toMatchObject({ retryAfterMs: 10_000 })
  })

  it('does nothing for a disabled detector', async () => {
    const { agent, monitor } = await setup({ repeatedToolCall: { enabled: false } })
    const actions = []
    for (let i = 0; i < 8; i++)
      actions.push((await monitor.observe(agent, search({ q: 1 }), T0 + i * 10_000)).action)
    expect(actions).not.toContain('revoke')
  })

  it('sees a loop spread over several processes sharing one store', async () => {
    const { store, agent } = await setup()
    const workers = [
      createRunawayMonitor(store),
      createRunawayMonitor(store),
      createRunawayMonitor(store),
    ]
    const verdicts = []
    for (let i = 0; i < 5; i++) {
      const worker = workers[i % 3] as RunawayMonitor
      verdicts.push(await searchStep(worker, agent, { q: 1 }, T0 + i * 10))
    }
    expect(verdicts[4]?.action).toBe('revoke')
  })

  it('stores names and hashes in the shared window, never argument values', async () => {
    const recorded: ActivityEvent[] = []
    const inner = memoryStore()
    const store: Store = {
      ...inner,
      kind: 'recording',
      createAgent: (record) => inner.createAgent(record),
      recordActivity: (handle, events, keep) => {
        recorded.push(...[events].flat())
        return inner.recordActivity(handle, events, keep)
      },
    }
    const { agent, monitor } = await setup({}, { store })
    await monitor.observe(agent, search({ apiKey: 'sk-very-secret' }), T0)
    expect(recorded).toEqual([
      {
        at: T0,
        kind: 'tool_call',
        runId: undefined,
        tool: 'search',
        hash: canonicalHash({ apiKey: 'sk-very-secret' }),
        shape: shapeHash({ apiKey: 'sk-very-secret' }),
      },
    ])
  })

  it('records the arguments in evidence only when recordArguments is on', async () => {
    const { agent, monitor } = await setup({ recordArguments: true })
    let verdict: RunawayVerdict | undefined
    for (let i = 0; i < 5; i++)
      verdict = await searchStep(monitor, agent, { q: 'llm pricing', page: 2 }, T0 + i * 10)
    expect(verdict?.finding?.evidence?.arguments).toBe('{"page":2,"q":"llm pricing"}')
  })

  it('blocks on spend velocity at the result that crosses it, and keeps blocking calls while it lasts', async () => {
    const { agent, monitor } = await setup({ spendVelocity: { action: 'block' } })
    const results: RunawayVerdict[] = []
    for (let i = 0; i < 5; i++) {
      await monitor.observe(agent, { kind: 'model_call', model: 'gpt-4o' }, T0 + i * 1000)
      results.push(
        await monitor.observe(
          agent,
          { kind: 'model_result', model: 'gpt-4o', costMicros: 6_000_000 },
          T0 + i * 1000 + 500,
        ),
      )
    }
    // $6, $12 (warn), $18 (warning not repeated), $24, $30 (trip).
    expect(results.map((verdict) => verdict.action)).toEqual([
      'none',
      'warn',
      'none',
      'none',
      'block',
    ])
    expect(results[4]?.finding?.detector).toBe('spend-velocity')
    const next = await monitor.observe(agent, { kind: 'model_call', model: 'gpt-4o' }, T0 + 6_000)
    expect(next).toMatchObject({ action: 'block', finding: { detector: 'spend-velocity' } })
    // A minute later the spend has left the window: the breaker closes again.
    expect(
      (await monitor.observe(agent, { kind: 'model_call', model: 'gpt-4o' }, T0 + 70_000)).action,
    ).toBe('none')
  })

  it('throttles on spend velocity by default at the result that crosses it, longer each time it persists', async () => {
    const { agent, monitor } = await setup()
    const actions: string[] = []
    for (let i = 0; i < 5; i++) {
      await monitor.observe(agent, { kind: 'model_call', model: 'gpt-4o' }, T0 + i * 1000)
      const result = { kind: 'model_result', model: 'gpt-4o', costMicros: 6_000_000 } as const
      actions.push((await monitor.observe(agent, result, T0 + i * 1000 + 500)).action)
    }
    expect(actions).toEqual(['none', 'warn', 'none', 'none', 'block'])
    const call = (at: number) => monitor.observe(agent, { kind: 'model_call', model: 'gpt-4o' }, at)
    expect(await call(T0 + 6_000)).toMatchObject({
      action: 'block',
      finding: { evidence: { held: true } },
    })
    // After the 5 s, the last minute still holds $30: refused again, for 10 s.
    expect((await call(T0 + 9_600)).finding?.evidence).toMatchObject({ retryAfterMs: 10_000 })
    // A minute after the spend, calls go through.
    expect((await call(T0 + 70_000)).action).toBe('none')
  })

  it('trips on an error streak and lets a retry that succeeds through', async () => {
    const { agent, monitor } = await setup()
    const fail = async (at: number) => {
      await monitor.observe(agent, { kind: 'model_call', model: 'gpt-4o' }, at)
      return monitor.observe(agent, { kind: 'error', source: 'model' }, at + 1)
    }
    for (let i = 0; i < 9; i++) expect((await fail(T0 + i * 100)).action).not.toBe('block')
    await monitor.observe(
      agent,
      { kind: 'model_result', model: 'gpt-4o', costMicros: 10 },
      T0 + 1_000,
    )
    for (let i = 0; i < 9; i++) expect((await fail(T0 + 2_000 + i * 100)).action).not.toBe('block')
    expect(await fail(T0 + 3_000)).toMatchObject({
      action: 'block',
      finding: { detector: 'error-streak' },
    })
  })

  describe('after an error-streak throttle (a circuit breaker, half-open)', () => {
    const stormed = async () => {
      const { agent, monitor } = await setup()
      const call = (at: number) => monitor.observe(agent, { kind: 'model_call', model: 'm' }, at)
      const fail = (at: number) => monitor.observe(agent, { kind: 'error', source: 'model' }, at)
      const succeed = (at: number) =>
        monitor.observe(agent, { kind: 'model_result', model: 'm', costMicros: 10 }, at)
      // A retry storm: 10 failures in a second trip a 5 s throttle...
      let verdict: RunawayVerdict | undefined
      for (let i = 0; i < 10; i++) {
        await call(T0 + i * 100)
        verdict = await fail(T0 + i * 100 + 50)
      }
      expect(verdict).toMatchObject({
        action: 'block',
        finding: { detector: 'error-streak', evidence: { retryAfterMs: 5_000 } },
      })
      const until = T0 + 950 + 5_000
      // ...and a call made before it, failing while it lasts, neither trips nor escalates it.
      await call(T0 + 940)
      expect((await fail(T0 + 2_000)).action).toBe('none')
      expect(await call(T0 + 3_000)).toMatchObject({
        action: 'block',
        finding: { evidence: { held: true, throttledUntil: until } },
      })
      return { call, fail, succeed, until }
    }

    it('lets the first call after it through (a probe); its success ends the streak, nothing is refused after', async () => {
      const { call, fail, succeed, until } = await stormed()
      expect((await call(until)).action).toBe('none')
      expect((await succeed(until + 800)).action).toBe('none')
      for (let i = 0; i < 10; i++) expect((await call(until + 1_000 + i * 500)).action).toBe('none')
      // A new failure after the recovery starts a new streak: one failure is no storm.
      expect((await fail(until + 6_000)).action).toBe('none')
      expect((await call(until + 7_000)).action).toBe('none')
    })

    it('trips again when the probe fails too (the loop goes on), the retry-after doubled each time', async () => {
      const { call, fail, until } = await stormed()
      expect((await call(until)).action).toBe('none')
      expect(await fail(until + 50)).toMatchObject({
        action: 'block',
        finding: { detector: 'error-streak', evidence: { retryAfterMs: 10_000 } },
      })
      expect((await call(until + 5_000)).action).toBe('block')
      expect((await call(until + 10_050)).action).toBe('none')
      expect((await fail(until + 10_100)).finding?.evidence).toMatchObject({ retryAfterMs: 20_000 })
    })

    it('trips again at the first failed probe, however long after and however few (the old streak out of its window)', async () => {
      const { call, fail, until } = await stormed()
      // The app waited a minute: the storm's failures are past the detector's 60 s window.
      // Probes made together fail together (one burst): the loop goes on all the same.
      for (let i = 0; i < 5; i++) await call(until + 61_000 + i)
      expect(await fail(until + 61_500)).toMatchObject({
        action: 'block',
        finding: {
          detector: 'error-streak',
          evidence: { probeFailed: true, retryAfterMs: 10_000 },
        },
      })
    })

    it('never trips again on the old failures alone, at however many calls after it', async () => {
      const { call, until } = await stormed()
      // Calls still in flight (a slow provider) neither break nor extend the streak.
      for (let i = 0; i < 40; i++) expect((await call(until + i * 1_000)).action).toBe('none')
    })
  })

  describe('a worker pool retrying through a provider outage, through the guard (red team)', () => {
    /**
     * 10 workers take 40 jobs; the provider answers 503 until `recoversAt` (ms from the
     * start; never when undefined). Each attempt is retried twice at once (the AI SDK, told
     * `retry-after-ms: 10`), then the app backs off 1, 2, 4, 8 s and gives the job up after a
     * 5th failed round; a refused call fails its round. Virtual time, the real guard.
     */
    async function pool(recoversAt: number | undefined) {
      let clock = T0
      const ks = createKillSwitch({
        now: () => clock,
        prices: { 'test-model': { inputPerMTok: 1, outputPerMTok: 1 } },
      })
      const created = await ks.agents.create({ handle: 'pool', spendingCap: 100 })
      const guard = ks.guard(created.credential)
      type Step = {
        at: number
        worker: number
        end?: Awaited<ReturnType<typeof guard.beforeModelCall>>
      }
      const queue: Step[] = []
      const jobs = Array.from({ length: 10 }, (_, worker) => ({
        job: worker,
        round: 0,
        attempt: 0,
      }))
      let nextJob = 10
      let done = 0
      let givenUp = 0
      // When calls were let through.
      const admitted: number[] = []
      const refusals: { at: number; retryAfterMs: number | undefined; trip: boolean }[] = []
      const next = (worker: number, at: number) => {
        const state = jobs[worker] as (typeof jobs)[number]
        if (nextJob >= 40) return
        Object.assign(state, { job: nextJob++, round: 0, attempt: 0 })
        queue.push({ at, worker })
      }
      const failRound = (worker: number, at: number) => {
        const state = jobs[worker] as (typeof jobs)[number]
        state.round++
        state.attempt = 0
        if (state.round < 5) queue.push({ at: at + 1_000 * 2 ** (state.round - 1), worker })
        else {
          givenUp++
          next(worker, at)
        }
      }
      for (let worker = 0; worker < 10; worker++) queue.push({ at: 1_300 + worker * 30, worker })
      while (queue.length > 0 && clock - T0 < 120_000) {
        queue.sort((a, b) => a.at - b.at)
        const step = queue.shift() as Step
        clock = T0 + step.at
        const state = jobs[step.worker] as (typeof jobs)[number]
        const up = recoversAt !== undefined && step.at >= recoversAt
        if (step.end === undefined) {
          try {
            const ticket = await guard.beforeModelCall({
              model: 'test-model',
              input: `job ${state.job}`,
              maxOutputTokens: 10,
            })
            admitted.push(step.at)
            queue.push({ at: step.at + (up ? 800 : 150), worker: step.worker, end: ticket })
          } catch (error) {
            if (!(error instanceof RunawayDetectedError)) throw error
            expect(error.detector).toBe('error-streak')
            const trip = error.message.includes('in a row')
            refusals.push({ at: step.at, retryAfterMs: error.retryAfterMs, trip })
            failRound(step.worker, step.at)
          }
        } else if (up) {
          await guard.afterModelCall(step.end, { usage: { inputTokens: 10, outputTokens: 10 } })
          done++
          next(step.worker, step.at)
        } else {
          await guard.failModelCall(step.end, new Error('503 Service Unavailable'))
          if (++state.attempt < 3) queue.push({ at: step.at + 10, worker: step.worker })
          else failRound(step.worker, step.at)
        }
      }
      return { done, givenUp, refusals, admitted }
    }

    it('the storm is throttled once; after the throttle every call goes through and every job completes', async () => {
      const { done, givenUp, refusals } = await pool(6_000)
      const trips = refusals.filter((refusal) => refusal.trip)
      // The retry storm before the recovery is throttled (5 s)...
      expect(trips).toHaveLength(1)
      const [trip] = trips as [(typeof trips)[number]]
      expect(trip.at).toBeLessThan(6_000)
      expect(trip.retryAfterMs).toBe(5_000)
      // ...and once that throttle has ended, nothing is refused again: no job is given up.
      expect(refusals.filter((refusal) => refusal.at >= trip.at + 5_000)).toEqual([])
      expect({ done, givenUp }).toEqual({ done: 40, givenUp: 0 })
    })

    it('an outage that never ends is throttled again after each probe, twice as long each time', async () => {
      const { done, refusals, admitted } = await pool(undefined)
      expect(done).toBe(0)
      const trips = refusals.filter((refusal) => refusal.trip)
      expect(trips.slice(0, 4).map((trip) => trip.retryAfterMs)).toEqual([
        5_000, 10_000, 20_000, 40_000,
      ])
      // Each trip after the first answers a probe that failed: a call let through after the
      // last throttle ended, not the first call to come back.
      for (let i = 1; i < 4; i++) {
        const last = trips[i - 1] as (typeof trips)[number]
        const ended = last.at + (last.retryAfterMs ?? 0)
        const at = (trips[i] as (typeof trips)[number]).at
        expect(admitted.some((call) => call >= ended && call < at)).toBe(true)
      }
    })
  })

  it('counts a chain error once, not again as the echo of the failure beneath it', async () => {
    const { agent, monitor } = await setup()
    const actions = new Set<string>()
    for (let i = 0; i < 9; i++) {
      const at = T0 + i * 5_000
      await monitor.observe(agent, { kind: 'model_call', model: 'gpt-4o' }, at)
      actions.add((await monitor.observe(agent, { kind: 'error', source: 'model' }, at + 1)).action)
      // The failure bubbling up through three enclosing chains.
      for (let depth = 0; depth < 3; depth++) {
        const verdict = await monitor.observe(
          agent,
          { kind: 'error', source: 'chain' },
          at + 2 + depth,
        )
        expect(verdict.action).toBe('none')
      }
    }
    expect(actions.has('block')).toBe(false)
    // A chain failing on its own, long after the last failure, is a failure of its own: the 10th.
    const tenth = await monitor.observe(agent, { kind: 'error', source: 'chain' }, T0 + 50_000)
    expect(tenth).toMatchObject({ action: 'block', finding: { evidence: { failures: 10 } } })
  })

  it('throttles no hourly refresh beside a chat: the chat pays for its own turns, not for the refresh', async () => {
    const { agent, monitor } = await setup({}, { capUsd: 100 })
    const verdicts = new Set<string>()
    let spent = 0
    let at = T0
    for (let hour = 0; hour < 6; hour++) {
      const refresh: Observation = {
        kind: 'tool_call',
        tool: 'refresh_cache',
        args: { key: 'pricing' },
      }
      verdicts.add((await monitor.observe({ ...agent, spentMicros: spent }, refresh, at)).action)
      await monitor.observe(
        agent,
        { kind: 'tool_result', tool: 'refresh_cache', ok: true },
        at + 800,
      )
      // An hour of chat, no run ids: a $0.03 turn every 30 s.
      for (let turn = 0; turn < 120; turn++) {
        at += 30_000
        await monitor.observe(agent, { kind: 'model_call', model: 'gpt-4o' }, at - 2_000)
        spent += 30_000
        const answer: Observation = { kind: 'model_result', model: 'gpt-4o', costMicros: 30_000 }
        await monitor.observe({ ...agent, spentMicros: spent }, answer, at)
      }
    }
    expect([...verdicts]).toEqual(['none'])
  })

  it('stops a run past its model-call limit, and only that run', async () => {
    const { agent, monitor } = await setup({
      runLimits: { maxModelCalls: 3 },
      callRate: { enabled: false },
    })
    const call = (runId: string, at: number) =>
      monitor.observe(agent, { kind: 'model_call', model: 'm', runId }, at)
    const actions = []
    for (let i = 0; i < 4; i++) actions.push((await call('run-1', T0 + i)).action)
    expect(actions).toEqual(['none', 'none', 'warn', 'stop'])
    expect((await call('run-2', T0 + 10)).action).toBe('none')
    // Without a run id there is no run to limit.
    for (let i = 0; i < 6; i++) {
      expect(
        (await monitor.observe(agent, { kind: 'model_call', model: 'm' }, T0 + 20 + i)).action,
      ).toBe('none')
    }
  })

  it('acts on a threshold breach only when enabled', async () => {
    const off = await setup({}, { capUsd: 50 })
    const spent: AgentRecord = { ...off.agent, spentMicros: 49_000_000 }
    expect((await off.monitor.observe(spent, { kind: 'model_call', model: 'm' }, T0)).action).toBe(
      'none',
    )
    const on = await setup({ thresholdBreach: { enabled: true, fraction: 0.9 } }, { capUsd: 50 })
    const verdict = await on.monitor.observe(
      { ...on.agent, spentMicros: 45_000_000 },
      { kind: 'model_call', model: 'm' },
      T0,
    )
    expect(verdict).toMatchObject({ action: 'revoke', finding: { detector: 'threshold-breach' } })
  })

  it('never trips on a long run that keeps making progress', async () => {
    const { agent, monitor } = await setup()
    const actions = new Set<string>()
    for (let i = 0; i < 150; i++) {
      const at = T0 + i * 4_000
      const runId = 'long-run'
      actions.add(
        (await monitor.observe(agent, { kind: 'model_call', model: 'm', runId }, at)).action,
      )
      actions.add(
        (
          await monitor.observe(
            agent,
            { kind: 'model_result', model: 'm', runId, costMicros: 40_000, outputHash: `out-${i}` },
            at + 2_000,
          )
        ).action,
      )
      actions.add(
        // New questions each step (a counter alone would look like a loop: see the next test).
        (
          await monitor.observe(
            agent,
            search({ q: `step ${WORDS[i % 20]} ${WORDS[(i * 7) % 20]}`, page: 1 + (i % 3) }, runId),
            at + 2_100,
          )
        ).action,
      )
      actions.add(
        (
          await monitor.observe(
            agent,
            { kind: 'tool_result', tool: 'search', ok: i % 5 !== 0, runId },
            at + 2_500,
          )
        ).action,
      )
    }
    expect([...actions]).toEqual(['none'])
  })

  it('throttles a run whose calls differ only by a counter, at the 10th in a minute', async () => {
    const { agent, monitor } = await setup()
    const actions: string[] = []
    for (let i = 0; i < 10; i++) {
      const verdict = await searchStep(monitor, agent, { q: 'acme', page: i }, T0 + i * 1_500, 'r')
      actions.push(verdict.action)
    }
    expect(actions.slice(-5)).toEqual(['warn', 'none', 'none', 'none', 'block'])
  })

  it('stops the $4,000-in-11-minutes incident in the first minute, by spend velocity when the arguments tell nothing', async () => {
    // Paid x402 calls with varied arguments: $3.03 twice a second.
    const { agent, monitor } = await setup({ repeatedToolCall: { enabled: false } })
    let stoppedAt: number | undefined
    let detector: string | undefined
    for (let i = 0; i < 1320 && stoppedAt === undefined; i++) {
      const at = T0 + i * 500
      const call = await monitor.observe(agent, search({ page: i }), at)
      const paid = await monitor.observe(
        agent,
        { kind: 'payment', costMicros: 3_030_000, payee: 'api.example.com' },
        at + 10,
      )
      const verdict = [call, paid].find((v) => v.action === 'block')
      if (verdict) {
        stoppedAt = at + 10 - T0
        detector = verdict.finding?.detector
      }
    }
    expect(detector).toBe('spend-velocity')
    expect(stoppedAt).toBeLessThan(60_000)
  })

  it('fails closed: a store error rejects the observation', async () => {
    const { agent } = await setup()
    const broken = {
      ...memoryStore(),
      recordActivity: () => Promise.reject(new Error('connection refused')),
    }
    await expect(createRunawayMonitor(broken).observe(agent, search({}), T0)).rejects.toThrow(
      'connection refused',
    )
  })
})

describe('monitor.judge: what rode on a reserve, judged in place', () => {
  it("judges a tool call against the store's array from start to end only", async () => {
    // The memory store answers with its own array and bounds: what lies before `start` is
    // not in the window and is not counted (4 identical calls: a warning, not 8: revoked).
    const judgeAt = async (start: number) => {
      const { agent, monitor } = await setup({ historySize: 8 })
      const call = search({ q: 'acme' })
      const result: Observation = { kind: 'tool_result', tool: 'search', ok: true }
      const log: ActivityEvent[] = []
      // Eight identical calls, each after the last one's result: the last eight events are
      // the window (four calls), the rest lies before it.
      for (let i = 0; i < 15; i++) {
        const event = monitor.activity?.(agent, i % 2 ? result : call, T0 + i * 300)?.event
        if (event) log.push(event)
      }
      return monitor.judge?.(agent, call, T0 + 4_500, log, log.length, start)?.action
    }
    expect(await judgeAt(7)).toBe('warn')
    expect(await judgeAt(0)).toBe('revoke')
  })

  it('gives exactly the verdicts observe gives with the window cut at each event', async () => {
    const observation = fc.oneof(
      fc.record({
        kind: fc.constant('tool_call' as const),
        tool: fc.constantFrom('search', 'fetch'),
        args: fc.record({ q: fc.constantFrom('acme', 'acme 2', 'prices') }),
      }),
      fc.record({
        kind: fc.constant('tool_result' as const),
        tool: fc.constantFrom('search', 'fetch'),
        ok: fc.boolean(),
      }),
      fc.record({ kind: fc.constant('model_call' as const), model: fc.constant('m') }),
      fc.record({
        kind: fc.constant('model_result' as const),
        model: fc.constant('m'),
        costMicros: fc.constantFrom(0, 500_000, 3_000_000),
        outputHash: fc.constantFrom('a', 'b'),
      }),
      fc.record({ kind: fc.constant('error' as const), source: fc.constant('model' as const) }),
      fc.record({
        kind: fc.constant('payment' as const),
        costMicros: fc.constantFrom(1_000_000, 4_000_000),
        payee: fc.constant('x'),
      }),
    )
    const step = fc.record({
      observation,
      runId: fc.constantFrom(undefined, 'run-1'),
      dt: fc.integer({ min: 0, max: 3_000 }),
      // The event waits for a call to carry it (a result), or goes with the next write.
      carried: fc.boolean(),
    })
    await fc.assert(
      // A short window too, so that what lies before it often matters.
      fc.asyncProperty(
        fc.array(step, { minLength: 1, maxLength: 80 }),
        fc.constantFrom(5, 24),
        async (steps, size) => {
          const runaway = {
            historySize: size,
            spendVelocity: { warnUsd: 5, tripUsd: 12 },
            errorStreak: { warnAt: 2, tripAt: 4 },
            noProgress: { warnAt: 2, tripAt: 3 },
          }
          const a = await setup(runaway)
          const b = await setup(runaway)
          // c reads the memory store's own array (appended to, replaced by a copy of its end
          // past twice the window) with bounds: the same window, never copied.
          const c = await setup(runaway)
          const window: ActivityEvent[] = []
          let log: ActivityEvent[] = []
          let batch: Observation[] = []
          let now = T0
          for (const { observation: given, runId, dt, carried } of steps) {
            now += dt
            const observation = { ...given, ...(runId ? { runId } : {}) } as Observation
            batch.push(observation)
            if (carried && steps.at(-1)?.observation !== given) continue
            // The batch is written in one store operation, then each event judged in turn.
            const events: ActivityEvent[] = []
            for (const each of batch) {
              const event = a.monitor.activity?.(a.agent, each, now)?.event
              if (event) events.push(event)
            }
            window.push(...events)
            if (window.length > size) window.splice(0, window.length - size)
            if (log.length + events.length > size * 2)
              log = log.slice(Math.max(0, log.length - size))
            log.push(...events)
            const start = Math.max(0, log.length - size)
            const written = window.slice()
            for (let i = 0; i < batch.length; i++) {
              const end = Math.max(1, written.length - (batch.length - 1 - i))
              const each = batch[i] as Observation
              const observed = await a.monitor.observe(a.agent, each, now, written.slice(0, end))
              const judged = b.monitor.judge?.(b.agent, each, now, written, end)
              expect(judged).toEqual(observed)
              const upTo = Math.max(start + 1, log.length - (batch.length - 1 - i))
              expect(c.monitor.judge?.(c.agent, each, now, log, upTo, start)).toEqual(observed)
            }
            batch = []
          }
        },
      ),
      { numRuns: 150 },
    )
  })
})
