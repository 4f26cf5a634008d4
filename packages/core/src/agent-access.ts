// How a guard admits or refuses its agent: it resolves the credential to the agent once,
// refuses a revoked agent or a stopped run, carries out runaway verdicts, and records every
// refusal (audit entry and `denied` event) before throwing the typed error.
import { hashCredential, isWellFormedCredential } from './credentials.js'
import { type Engine, storeCall } from './engine.js'
import {
  AgentRevokedError,
  KillSwitchError,
  RunawayDetectedError,
  SpendingCapExceededError,
} from './errors.js'
import type { KillSwitchEvents } from './events.js'
import { auditEntry, emit } from './guard-ledger.js'
import { toUsd } from './money.js'
import type { Observation } from './runaway/types.js'
import { enforceVerdict } from './runaway-enforcement.js'
import type { AgentRecord } from './store.js'

export type DenialRule = KillSwitchEvents['denied']['rule']

const STOPPED_RUNS_KEPT = 1_000

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

  constructor(engine: Engine, credential: string) {
    this.#engine = engine
    if (isWellFormedCredential(credential)) {
      this.#credentialHash = hashCredential(credential)
      this.#controller = engine.controllerFor(this.#credentialHash)
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
      this.#controller = new AbortController()
      this.#controller.abort(new AgentRevokedError())
    }
  }

  get signal(): AbortSignal {
    return this.#controller.signal
  }

  /** Resolves the agent and refuses it if revoked or if its run was stopped. */
  async admit(runId: string | undefined): Promise<AgentRecord> {
    const agent = await this.resolve()
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

  /** Reports an observation to the runaway monitor and carries out its verdict. */
  async observe(agent: AgentRecord, observation: Observation): Promise<void> {
    const engine = this.#engine
    const verdict = await storeCall(engine.store, () =>
      engine.monitor.observe(agent, observation, engine.now()),
    )
    if (verdict.action === 'none') return
    const refusal = await enforceVerdict(engine, agent, verdict, observation, {
      onStop: (runId) => this.#stopRun(runId),
      onRevoked: (revoked) => this.abort(revoked),
    })
    if (refusal) this.deny(agent.handle, 'runaway', refusal)
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
    const model = typeof data.model === 'string' ? { model: data.model } : {}
    // A store that cannot answer cannot take an audit entry either.
    if (handle !== undefined && rule !== 'store_unavailable') {
      const summary = `denied (${rule}): ${error.message}`
      engine.audit(
        auditEntry(handle, 'denied', engine.now(), summary, {
          rule,
          code: error.code,
          ...data,
        }),
      )
    }
    emit(engine, 'denied', { handle, code: error.code, rule, message: error.message, ...model })
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
