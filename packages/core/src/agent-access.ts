// How a guard admits or refuses its agent: it resolves the credential to the agent once,
// refuses a revoked agent or a stopped run, carries out runaway verdicts, and records every
// refusal (audit entry and `denied` event) before throwing the typed error.
import { hashCredential, isWellFormedCredential } from './credentials.js'
import { type Engine, type PendingResults, storeCall } from './engine.js'
import {
  AgentRevokedError,
  KillSwitchError,
  RunawayDetectedError,
  SpendingCapExceededError,
  StoreUnavailableError,
} from './errors.js'
import type { KillSwitchEvents } from './events.js'
import { auditEntry, emit } from './guard-ledger.js'
import { toUsd } from './money.js'
import { redactCredentials } from './redact.js'
import { NO_MONITOR, type Observation, type RunawayVerdict } from './runaway/types.js'
import { enforceVerdict } from './runaway-enforcement.js'
import type { ActivityBatch, ActivityEvent, AgentRecord, ReserveResult } from './store.js'
import { ToolCallScopes } from './tool-call-scopes.js'

/** The activity of a call, ready to ride on its reserve: results not yet recorded, then it. */
export interface PreparedActivity {
  batch: ActivityBatch
  observations: Observation[]
}

/**
 * How long a result waits for the next call to carry it before it is written on its own:
 * between one and two of these (the timer is not re-armed at every call, which would cost
 * a timer per call; it is re-armed once when calls took results meanwhile).
 */
const PENDING_FLUSH_MS = 1_000

export type DenialRule = KillSwitchEvents['denied']['rule']

const STOPPED_RUNS_KEPT = 1_000

/** A window as a store recorded it: `activity[activityStart..activityEnd)` (store.ts). */
type RecordedWindow = Pick<
  Extract<ReserveResult, { ok: true }>,
  'activity' | 'activityStart' | 'activityEnd'
>

/**
 * What a monitor's judgement made at once throws, failing closed as a store call does:
 * whatever it throws that is not a kill switch error refuses the call as the store being
 * unavailable.
 */
function judgeFailure(engine: Engine, error: unknown): unknown {
  if (KillSwitchError.isInstance(error)) return error
  return new StoreUnavailableError(`The ${engine.store.kind} store failed`, { cause: error })
}

/** One guard's view of its agent: who it is, whether it may act, and its refusals. */
export class AgentAccess {
  readonly #engine: Engine
  readonly #credentialHash: string | undefined
  readonly #controller: AbortController
  #resolving: Promise<AgentRecord> | undefined
  readonly #stoppedRuns = new Set<string>()
  /** Set by a stop verdict without a run id: everything this guard does is refused. */
  #stopped = false
  /** The freshest record of the agent this guard has seen (from its last store call). */
  agent: AgentRecord | undefined
  /**
   * Results (a model's answer, a tool's outcome, a payment, an error) not yet written to
   * the shared window: the next call's reserve carries them, so a guarded call costs two
   * store round trips with detection on. They are judged then, before that call goes out.
   * Shared by the credential's guards in this process (`engine.pendingFor`).
   */
  readonly #results: PendingResults
  /** Shared by the credential's guards in this process (`engine.toolCallScopesFor`). */
  readonly toolCallScopes: ToolCallScopes

  constructor(engine: Engine, credential: string) {
    this.#engine = engine
    if (isWellFormedCredential(credential)) {
      this.#credentialHash = hashCredential(credential)
      this.#controller = engine.controllerFor(this.#credentialHash)
      this.#results = engine.pendingFor(this.#credentialHash)
      this.toolCallScopes = engine.toolCallScopesFor(this.#credentialHash)
      // Resolved at once, not at the first call: the guard's `signal` must abort when the
      // agent is (or gets) revoked even if this guard never makes a call. A failure here is
      // not a refusal (nothing was asked): the first call resolves again and refuses then.
      if (!this.#controller.signal.aborted) {
        this.#lookup().then(
          (agent) => this.#watch(agent),
          () => {},
        )
      }
    } else {
      // A malformed credential can never become valid: its guard is dead from the start.
      this.#results = { items: [], flushTimer: undefined, taken: 0 }
      this.toolCallScopes = new ToolCallScopes()
      this.#controller = new AbortController()
      this.#controller.abort(new AgentRevokedError())
    }
  }

  get signal(): AbortSignal {
    return this.#controller.signal
  }

  /**
   * Resolves the agent and refuses it if revoked or if its run was stopped. Synchronous once
   * the agent is known (every call after a guard's first): no promise on the hot path.
   */
  admit(runId: string | undefined): AgentRecord | Promise<AgentRecord> {
    const known = this.agent
    if (known) return this.#admitted(known, runId)
    return this.resolve().then((agent) => this.#admitted(agent, runId))
  }

  #admitted(agent: AgentRecord, runId: string | undefined): AgentRecord {
    if (this.signal.aborted) this.deny(agent.handle, 'revoked', this.revokedError(agent.handle))
    if (this.#stopped || (runId !== undefined && this.#stoppedRuns.has(runId))) {
      const summary = 'this run was stopped by a runaway detector'
      const error = new RunawayDetectedError({
        handle: agent.handle,
        detector: 'stopped-run',
        action: 'stop',
        summary,
      })
      this.deny(agent.handle, 'runaway', error)
    }
    return agent
  }

  /** The agent behind the credential, looked up once; refuses an unknown one. */
  async resolve(): Promise<AgentRecord> {
    if (this.agent) return this.agent
    if (this.#credentialHash === undefined) {
      return this.deny(undefined, 'revoked', new AgentRevokedError())
    }
    try {
      return await this.#lookup()
    } catch (error) {
      if (!KillSwitchError.isInstance(error)) throw error
      return this.deny(
        undefined,
        error.code === 'agent_revoked' ? 'revoked' : 'store_unavailable',
        error,
      )
    }
  }

  /** Finds the agent by its credential (one lookup at a time; retried after a failure). */
  #lookup(): Promise<AgentRecord> {
    const hash = this.#credentialHash as string
    const engine = this.#engine
    this.#resolving ??= storeCall(engine.store, () =>
      engine.store.findAgentByCredentialHash(hash, engine.now()),
    ).then(
      (agent) => {
        if (!agent) {
          // An unknown credential never becomes valid: credentials exist only once created.
          this.#controller.abort(new AgentRevokedError())
          throw new AgentRevokedError()
        }
        engine.bindHandle(hash, agent.handle)
        if (agent.status === 'revoked') this.abort(agent)
        this.agent ??= agent
        return agent
      },
      (error) => {
        this.#resolving = undefined
        throw error
      },
    )
    return this.#resolving
  }

  /**
   * Closes the window between the lookup and binding the handle: a revocation published
   * then found no guard to abort. One more read after binding sees it; any later one is
   * delivered to the bound handle.
   */
  #watch(agent: AgentRecord): void {
    if (agent.status === 'revoked') return
    const engine = this.#engine
    storeCall(engine.store, () => engine.store.getAgent(agent.handle, engine.now())).then(
      (latest) => {
        if (!latest || latest.status === 'revoked') this.abort(latest ?? agent)
      },
      () => {},
    )
  }

  /** Reads the agent again (cached numbers may be stale: holds lapsed, cap raised elsewhere). */
  async reload(handle: string): Promise<AgentRecord> {
    const engine = this.#engine
    const latest = await storeCall(engine.store, () => engine.store.getAgent(handle, engine.now()))
    this.agent = latest ?? this.denyRevoked(handle, undefined)
    return this.agent
  }

  /**
   * Reports an observation to the runaway monitor and carries out its verdict: in one store
   * round trip with the results still pending (a free tool call, a chain's error).
   */
  async observe(agent: AgentRecord, observation: Observation): Promise<void> {
    if (this.#engine.monitor === NO_MONITOR) return
    const prepared = this.prepare(agent, observation)
    if (!prepared) return this.#judge(agent, observation, undefined)
    const engine = this.#engine
    let window: ActivityEvent[]
    try {
      window = await storeCall(engine.store, () =>
        engine.store.recordActivity(agent.handle, prepared.batch.events, prepared.batch.keep),
      )
    } catch (error) {
      this.restore(prepared)
      throw error
    }
    await this.judge(agent, prepared, { activity: window })
  }

  /**
   * For a call about to reserve its hold: refuses it at once while a throttle lasts (it is
   * then not activity), else returns its event with the pending results, to be written by
   * the reserve (only if granted). Undefined when detection keeps no window.
   */
  prepare(agent: AgentRecord, observation: Observation): PreparedActivity | undefined {
    const engine = this.#engine
    const now = engine.now()
    const monitor = engine.monitor
    if (observation.kind === 'model_call' || observation.kind === 'tool_call') {
      this.refuseIfThrottled(agent, observation, now)
    }
    const activity = monitor.activity?.(agent, observation, now)
    if (!activity) return undefined
    const pending = this.#results.items
    if (pending.length === 0) {
      return {
        batch: { events: [activity.event], keep: activity.keep },
        observations: [observation],
      }
    }
    this.#results.items = []
    this.#results.taken++
    // Sized once (a pushed array grows its store a few times): one of these per call.
    const count = pending.length
    const events = new Array<ActivityEvent>(count + 1)
    const observations = new Array<Observation>(count + 1)
    for (let i = 0; i < count; i++) {
      const item = pending[i] as (typeof pending)[number]
      events[i] = item.event
      observations[i] = item.observation
    }
    events[count] = activity.event
    observations[count] = observation
    return { batch: { events, keep: activity.keep }, observations }
  }

  /**
   * Refuses a call while a throttle lasts: carried out like any verdict (audited, refused),
   * with nothing written. `prepare` does it for activity; an input-only call, which is not
   * activity, is checked with it alone.
   */
  refuseIfThrottled(agent: AgentRecord, observation: Observation, now = this.#engine.now()): void {
    const throttle = this.#engine.monitor.throttled?.(agent, observation.runId, now)
    if (throttle) this.#refuseNow(agent, throttle, observation)
  }

  /** Puts back results a refused or failed reserve did not write. */
  restore(prepared: PreparedActivity | undefined): void {
    if (!prepared) return
    const { events } = prepared.batch
    const results = prepared.observations.slice(0, -1).map((observation, i) => ({
      observation,
      event: events[i] as ActivityEvent,
    }))
    this.#results.items = [...results, ...this.#results.items]
    this.#scheduleFlush()
  }

  /**
   * Judges what a reserve (or a window write) recorded: each pending result, then the call,
   * each against the window as it stood at its event. Refuses (throws) on an enforced verdict.
   * With a monitor that judges at once (the built-in one), nothing is awaited unless a
   * verdict must be carried out: this runs on every guarded call.
   */
  judge(
    agent: AgentRecord,
    prepared: PreparedActivity,
    recorded: RecordedWindow | undefined,
  ): void | Promise<void> {
    const events = recorded?.activity ?? prepared.batch.events
    const start = recorded?.activityStart ?? 0
    const end = recorded?.activityEnd ?? events.length
    return this.#judgeFrom(0, agent, prepared, events, start, end)
  }

  /**
   * Judges from the `first` observation on, against `recorded[start..end)`: in place until
   * a verdict must be carried out.
   */
  #judgeFrom(
    first: number,
    agent: AgentRecord,
    prepared: PreparedActivity,
    recorded: readonly ActivityEvent[],
    start: number,
    end: number,
  ): void | Promise<void> {
    const { observations } = prepared
    const count = observations.length
    const engine = this.#engine
    const monitor = engine.monitor
    for (let i = first; i < count; i++) {
      const observation = observations[i] as Observation
      // The batch's events are the window's last: this one is `count - 1 - i` from its end.
      const upTo = Math.min(end, Math.max(start + 1, end - (count - 1 - i)))
      if (!monitor.judge) return this.#observeFrom(i, agent, prepared, recorded, start, end)
      let verdict: RunawayVerdict | undefined
      try {
        verdict = monitor.judge(agent, observation, engine.now(), recorded, upTo, start)
      } catch (error) {
        throw judgeFailure(engine, error)
      }
      if (!verdict) throw new StoreUnavailableError('The runaway monitor gave no verdict')
      if (verdict.action !== 'none') {
        return this.#carryOut(agent, observation, verdict).then(() =>
          this.#judgeFrom(i + 1, agent, prepared, recorded, start, end),
        )
      }
    }
  }

  /** A monitor that cannot judge in place: each observation through `observe`, awaited. */
  async #observeFrom(
    first: number,
    agent: AgentRecord,
    prepared: PreparedActivity,
    recorded: readonly ActivityEvent[],
    start: number,
    end: number,
  ): Promise<void> {
    const { observations } = prepared
    const count = observations.length
    const engine = this.#engine
    for (let i = first; i < count; i++) {
      const observation = observations[i] as Observation
      const last = Math.min(end, Math.max(start + 1, end - (count - 1 - i)))
      // The whole window is judged without a copy.
      const upTo = start === 0 && last === recorded.length ? recorded : recorded.slice(start, last)
      const verdict = await storeCall(engine.store, () =>
        engine.monitor.observe(agent, observation, engine.now(), upTo),
      )
      if (verdict.action !== 'none') await this.#carryOut(agent, observation, verdict)
    }
  }

  /**
   * A result: written with the next call's reserve (or within a second when no call comes).
   * With no window to keep, judged at once (local state only, no store round trip).
   */
  defer(agent: AgentRecord, observation: Observation): void | Promise<void> {
    if (this.#engine.monitor === NO_MONITOR) return
    const activity = this.#engine.monitor.activity?.(agent, observation, this.#engine.now())
    if (!activity) return this.#judge(agent, observation, undefined)
    this.#results.items.push({ observation, event: activity.event })
    this.#scheduleFlush()
  }

  #scheduleFlush(): void {
    if (this.#results.flushTimer || this.#results.items.length === 0) return
    const taken = this.#results.taken
    this.#results.flushTimer = setTimeout(() => {
      this.#results.flushTimer = undefined
      // A call took the results meanwhile: those pending now came since; give them their time.
      if (this.#results.taken !== taken) return this.#scheduleFlush()
      const agent = this.agent
      const first = this.#results.items[0]
      if (!agent || !first) return
      // The first pending result leads; the rest ride with it in one write.
      this.#results.items.shift()
      const prepared: PreparedActivity = {
        batch: {
          events: [...this.#results.items.map((item) => item.event), first.event],
          keep:
            this.#engine.monitor.activity?.(agent, first.observation, this.#engine.now())?.keep ??
            1,
        },
        observations: [...this.#results.items.map((item) => item.observation), first.observation],
      }
      this.#results.items = []
      this.#results.taken++
      const engine = this.#engine
      storeCall(engine.store, () =>
        engine.store.recordActivity(agent.handle, prepared.batch.events, prepared.batch.keep),
      )
        .then((window) => this.judge(agent, prepared, { activity: window }))
        .catch(() => {
          // A refusal here has no call to refuse: it is audited (and a revocation applied).
          // A store failure leaves the results unwritten; the next call is refused anyway.
        })
    }, PENDING_FLUSH_MS)
    this.#results.flushTimer.unref()
  }

  async #judge(
    agent: AgentRecord,
    observation: Observation,
    recorded: readonly ActivityEvent[] | undefined,
  ): Promise<void> {
    const engine = this.#engine
    const verdict = await storeCall(engine.store, () =>
      engine.monitor.observe(agent, observation, engine.now(), recorded),
    )
    if (verdict.action !== 'none') await this.#carryOut(agent, observation, verdict)
  }

  /** Carries out a verdict: audited and alerted, a revocation applied; refuses (throws). */
  async #carryOut(
    agent: AgentRecord,
    observation: Observation,
    verdict: RunawayVerdict,
  ): Promise<void> {
    const engine = this.#engine
    const refusal = await enforceVerdict(engine, agent, verdict, observation, {
      onStop: (runId) => this.#stopRun(runId),
      onRevoked: (revoked) => this.abort(revoked),
    })
    if (refusal) this.deny(agent.handle, 'runaway', refusal)
  }

  #refuseNow(agent: AgentRecord, verdict: RunawayVerdict, observation: Observation): never {
    // enforceVerdict is async only for a revocation; a throttle blocks, which it does at once.
    const finding = verdict.finding ?? { detector: 'throttle', status: 'trip' as const }
    const until = finding.evidence?.throttledUntil
    const error = new RunawayDetectedError({
      handle: agent.handle,
      detector: finding.detector,
      action: 'block',
      summary: finding.summary ?? `${finding.detector} throttle`,
      // What is left of the throttle: a retry sooner is refused again.
      ...(typeof until === 'number'
        ? { retryAfterMs: Math.max(0, until - this.#engine.now()) }
        : {}),
    })
    void enforceVerdict(this.#engine, agent, verdict, observation, {
      onStop: (runId) => this.#stopRun(runId),
      onRevoked: (revoked) => this.abort(revoked),
    })
    return this.deny(agent.handle, 'runaway', error)
  }

  abort(agent: AgentRecord): void {
    if (!this.#controller.signal.aborted) {
      this.#controller.abort(
        new AgentRevokedError({ handle: agent.handle, reason: agent.revokedReason }),
      )
    }
  }

  revokedError(handle: string): AgentRevokedError {
    const reason = this.signal.reason
    return reason instanceof AgentRevokedError ? reason : new AgentRevokedError({ handle })
  }

  denyRevoked(handle: string, agent: AgentRecord | undefined): never {
    if (agent) this.abort(agent)
    else if (!this.#controller.signal.aborted)
      this.#controller.abort(new AgentRevokedError({ handle }))
    return this.deny(handle, 'revoked', this.revokedError(handle))
  }

  capError(
    agent: AgentRecord | undefined,
    requestedUsd: number,
    message?: string,
  ): SpendingCapExceededError {
    return new SpendingCapExceededError({
      handle: agent?.handle ?? 'unknown',
      spendingCapUsd: toUsd(agent?.capMicros ?? 0),
      spentUsd: toUsd(agent?.spentMicros ?? 0),
      heldUsd: toUsd(agent?.heldMicros ?? 0),
      requestedUsd,
      ...(message ? { message } : {}),
    })
  }

  deny(
    handle: string | undefined,
    rule: DenialRule,
    error: KillSwitchError,
    data?: Record<string, unknown>,
  ): never {
    this.recordDenial(handle, rule, error, data)
    throw error
  }

  recordDenial(
    handle: string | undefined,
    rule: DenialRule,
    error: KillSwitchError,
    data: Record<string, unknown> = {},
  ): void {
    const engine = this.#engine
    // What a refused caller sent (a model name) is shown as its error message is: a
    // credential sent as a model is never audited, emitted or logged.
    const shown = typeof data.model === 'string' ? { model: redactCredentials(data.model) } : {}
    // A store that cannot answer cannot take an audit entry either.
    if (handle !== undefined && rule !== 'store_unavailable') {
      const summary = `denied (${rule}): ${error.message}`
      engine.audit(
        auditEntry(handle, 'denied', engine.now(), summary, {
          rule,
          code: error.code,
          ...whatRefused(error),
          ...data,
          ...shown,
        }),
      )
    }
    emit(engine, 'denied', { handle, code: error.code, rule, message: error.message, ...shown })
  }

  #stopRun(runId: string | undefined): void {
    if (runId === undefined) {
      this.#stopped = true
      return
    }
    this.#stoppedRuns.add(runId)
    if (this.#stoppedRuns.size > STOPPED_RUNS_KEPT) {
      this.#stoppedRuns.delete(this.#stoppedRuns.values().next().value as string)
    }
  }
}

/**
 * What refused, as audit data: the level a cap refusal names (`level`, and its `budgetId`
 * and `per` when it has them), a runaway refusal's `detector`, `action` and, while a
 * throttle lasts, `retryAfterMs` (a call refused under a throttle has no `runaway` entry of
 * its own). The log can then be asked what stopped a call, not only read.
 */
function whatRefused(error: KillSwitchError): Record<string, unknown> {
  if (error instanceof RunawayDetectedError) {
    const { detector, action, retryAfterMs } = error
    return { detector, action, ...(retryAfterMs === undefined ? {} : { retryAfterMs }) }
  }
  if (!(error instanceof SpendingCapExceededError)) return {}
  const { level, budgetId, per } = error
  return {
    level,
    ...(budgetId === undefined ? {} : { budgetId }),
    ...(per === undefined ? {} : { per }),
  }
}
