// The one lifecycle of a guarded model call, that every adapter drives: reserve; hand the
// provider its clamped limits and a stop signal; count what streams; check the tool calls the
// model asks for; end exactly once, whatever happens, at the cost call-ending.ts decides; and
// say which error the caller sees. An adapter only translates its framework's events into
// these calls (the core README's "Writing an adapter").
import { InvalidConfigError, KillSwitchError } from './errors.js'
import { ModelTicket } from './guard-tickets.js'
import type {
  AgentGuard,
  BudgetScope,
  ModelCallFailure,
  ModelCallRequest,
  ModelCallResult,
  ModelCallTicket,
  OutputDelta,
  Settlement,
  TokenUsage,
} from './guard-types.js'
import type { StreamEvent } from './model-stream.js'
import { beyondHold } from './pricing/sent-request.js'
import { providerStatusOf } from './provider-status.js'
import { pickBudgetScope } from './reserve-scope.js'
import { revocationError } from './revocation-error.js'
import { Roster, type RosterMember } from './roster.js'

/** How a call ended early, as `ModelCall.fail` is told it (the status is read from the error). */
export type FailOptions = Omit<ModelCallFailure, 'providerStatus'>

/** What the provider call is given: the clamped max output tokens and the stop signal. */
export interface ProviderLimits {
  maxOutputTokens: number
  signal: AbortSignal
}

/** A model call in flight: its limits, its stop signal and its endings. */
export interface ModelCall {
  readonly ticket: ModelCallTicket
  /** The max output tokens to send to the provider: the caller's, clamped to the budget. */
  readonly maxOutputTokens: number
  /**
   * Pass it to the provider call. Aborted when the agent is revoked, when the output
   * reaches what the hold pays for, when the caller's own signal aborts, and when the call
   * fails: the provider stops billing.
   */
  readonly signal: AbortSignal
  /**
   * Calls the provider (once) with the call's limits and stop signal, unless the call was
   * stopped since the reserve (then the request never left and `fail` releases the hold).
   * Rejects as soon as the call is stopped, even when the provider ignores its abort: it is
   * charged all the same.
   */
  send<T>(provider: (limits: ProviderLimits) => PromiseLike<T>): Promise<T>
  /**
   * `send`, and if the provider call fails (or the call is stopped meanwhile), `fail`: the
   * call is ended and the promise rejects with the error the caller should see.
   */
  run<T>(provider: (limits: ProviderLimits) => PromiseLike<T>): Promise<T>
  /**
   * Accounts streamed output. Throws the typed error (and aborts `signal`) once the output
   * reaches what the hold pays for or the agent is revoked: end the call with `fail` then.
   */
  output(delta: OutputDelta): void
  /**
   * Checks a tool call the model asked for, before the framework executes it (revocation,
   * loop detection; a paid tool's price is held when it runs, see `runToolCall`). Throws the
   * typed error, and stops the call, when it is refused: the check's own error (a runaway
   * finding) outranks the revocation it caused. `toolCallId`, the framework's id of the call:
   * where the tool runs with that id (`runToolCall`), it takes this call's run and budgets.
   */
  checkToolCall(call: { name: string; args: unknown; toolCallId?: string }): Promise<void>
  /**
   * One part of a stream the framework hands over part by part, as it means to the guard
   * (`text` and `output` counted, a `tool-call` counted and checked): `output` and
   * `checkToolCall` by the stream's rules, a tool call's arguments counted once (not again
   * at the end when they streamed under its id). Undefined, or a promise for a tool call's
   * check; throws or rejects as those do. `error` and `finish` are the stream's to end.
   */
  apply(event: StreamEvent): Promise<void> | undefined
  /** The provider answered: settles the larger of its usage and what the guard counted. */
  finish(result: ModelCallResult): Promise<Settlement>
  /**
   * Checks the body the provider was sent (as its client reports it, e.g. the AI SDK's
   * `request.body`) against the hold: something between the adapter and the provider that
   * raised the output limit, added an option billed apart or a tool the provider runs
   * itself throws InvalidConfigError (field `model`) naming it, and stops the call. The
   * money already left: end the call as usual (`finish` with the usage, or `fail`).
   */
  checkSent(body: unknown): void
  /**
   * The call ended any other way: aborts the provider, ends the call at the cost
   * call-ending.ts decides (the provider's HTTP status is read from `error`: an outright
   * refusal is released) and returns the error the caller should see: a kill switch error
   * given here, else the first one that stopped the call (the cap reached mid-stream, a
   * refused tool call, a revocation), else the revocation, else `error` itself. `sent` defaults to whether `send` called the provider (true when `send` was not
   * used: the request may have left); the other options as `ModelCallFailure` says (an
   * abort of the caller's own signal is `byCaller` without being told).
   */
  fail(error: unknown, options?: FailOptions): Promise<unknown>
}

/** The caller's signal, when the framework has one (an AbortSignal in its options). */
export interface ModelCallStart extends ModelCallRequest {
  signal?: AbortSignal
}

/**
 * Reserves a model call and returns its lifecycle.
 *
 * @example
 * const call = await guard.startModelCall({ model: 'gpt-4o', input: messages })
 * try {
 *   const result = await call.send(({ maxOutputTokens, signal }) => provider({ maxOutputTokens, signal }))
 *   await call.finish({ usage: result.usage, text: result.text })
 *   return result
 * } catch (error) {
 *   throw await call.fail(error)
 * }
 */
export function startModelCall(guard: AgentGuard, start: ModelCallStart): Promise<ModelCall> {
  // Reserved as given: the guard reads the request's own fields, never the caller's signal,
  // and a copy without it would cost an object rest on every call.
  return guard
    .beforeModelCall(start)
    .then((ticket) => new GuardedModelCall(guard, ticket, pickBudgetScope(start), start.signal))
}

/**
 * What stops a call: its stop signal and why it stopped. Kept apart from the call because
 * the guard's revocation listener and the caller's signal hold it for as long as the call
 * is open: holding the call itself (and so its ticket, the owner of its hold's lease) would
 * keep a call the adapter dropped without an ending renewed forever. Dropped, the call's
 * ticket is collected, its lease stops, and its hold lapses (charged) like a crashed one's.
 */
class CallStop implements RosterMember {
  /**
   * Made when the signal is first asked for: a call whose adapter never hands it to the
   * provider (LangChain's callback handler) makes no AbortController at all.
   */
  #stopper: AbortController | undefined
  /** Whether the call was stopped, and why (the signal's reason, once it exists). */
  stopped = false
  #reason: unknown
  slot = -1
  /** The first kill switch error that stopped the call: it outranks what the provider threw. */
  stoppedBy: KillSwitchError | undefined
  /**
   * While a tool check is in flight its own error says more than the signal: a runaway trip
   * revokes (aborting the signal) and then throws RunawayDetectedError with the evidence.
   */
  checking = false
  /** `send`'s rejection while the provider runs: every stop goes through `stop`. */
  rejectSend: ((reason: unknown) => void) | undefined
  readonly #guard: AgentGuard
  readonly #live: LiveCalls
  readonly #callerSignal: AbortSignal | undefined
  onRevoked(): void {
    if (!this.checking) this.stop(revocationError(this.#guard))
  }
  /** Made only for a call with a caller's signal (most have none). */
  readonly #onCaller: (() => void) | undefined

  constructor(guard: AgentGuard, callerSignal: AbortSignal | undefined) {
    this.#guard = guard
    this.#callerSignal = callerSignal
    this.#live = liveCalls(guard.signal)
    this.#live.calls.add(this)
    if (guard.signal.aborted) this.onRevoked()
    if (callerSignal) {
      const onCaller = () => this.stop(callerSignal.reason)
      this.#onCaller = onCaller
      callerSignal.addEventListener('abort', onCaller, { once: true })
      if (callerSignal.aborted) onCaller()
    }
  }

  get signal(): AbortSignal {
    if (this.#stopper === undefined) {
      this.#stopper = new AbortController()
      if (this.stopped) this.#stopper.abort(this.#reason)
    }
    return this.#stopper.signal
  }

  /** Whether the caller's own signal stopped the call (before anything else did). */
  get byCaller(): boolean {
    return this.#callerSignal?.aborted === true && this.stoppedBy === undefined
  }

  stop(reason: unknown): void {
    if (KillSwitchError.isInstance(reason)) this.stoppedBy ??= reason
    if (this.stopped) return
    this.stopped = true
    this.#reason = reason
    this.#stopper?.abort(reason)
    this.rejectSend?.(reason)
  }

  detach(): void {
    this.#live.calls.delete(this)
    if (this.#onCaller) this.#callerSignal?.removeEventListener('abort', this.#onCaller)
  }

  /** The store could not renew the call's hold lease: stopped, fail closed. */
  readonly lost = (error: KillSwitchError) => this.stop(error)

  /** The call was dropped without an ending (its hold lapsed): stop its provider too. */
  readonly abandon = () => {
    this.detach()
    this.stop(new Error('The model call was dropped without an ending: its hold lapsed.'))
  }
}

// A class, not an object of closures: one is made per guarded call.
class GuardedModelCall implements ModelCall {
  readonly ticket: ModelCallTicket
  readonly #guard: AgentGuard
  readonly #scope: BudgetScope
  readonly #stop: CallStop
  /** undefined: `send` was not used, so the request may have left by the adapter's own hand. */
  #sent: boolean | undefined
  /** Tool calls whose arguments streamed as output: counted once. */
  #streamedInputs: Set<string> | undefined

  constructor(
    guard: AgentGuard,
    ticket: ModelCallTicket,
    scope: BudgetScope,
    callerSignal: AbortSignal | undefined,
  ) {
    this.ticket = ticket
    this.#guard = guard
    this.#scope = scope
    this.#stop = new CallStop(guard, callerSignal)
    const lease = ModelTicket.stateOf(ticket)?.lease
    if (lease) {
      lease.onOwnerGone = this.#stop.abandon
      lease.onLost = this.#stop.lost
    }
  }

  get maxOutputTokens(): number {
    return this.ticket.maxOutputTokens
  }

  get signal(): AbortSignal {
    return this.#stop.signal
  }

  send<T>(provider: (limits: ProviderLimits) => PromiseLike<T>): Promise<T> {
    if (this.#sent !== undefined) {
      return Promise.reject(new Error('ModelCall.send: the provider is called once per call.'))
    }
    this.#sent = false
    const stop = this.#stop
    const signal = stop.signal
    if (signal.aborted) return Promise.reject(signal.reason)
    // The provider's promise, or a rejection as soon as the call is stopped.
    return new Promise<T>((resolve, reject) => {
      stop.rejectSend = reject
      this.#sent = true
      let answer: PromiseLike<T>
      try {
        answer = provider({ maxOutputTokens: this.ticket.maxOutputTokens, signal })
      } catch (error) {
        answer = Promise.reject(error)
      }
      Promise.resolve(answer).then(
        (value) => {
          stop.rejectSend = undefined
          resolve(value)
        },
        (error: unknown) => {
          stop.rejectSend = undefined
          reject(error)
        },
      )
    })
  }

  run<T>(provider: (limits: ProviderLimits) => PromiseLike<T>): Promise<T> {
    return this.send(provider).then(undefined, (error: unknown) =>
      this.fail(error).then((shown) => {
        throw shown
      }),
    )
  }

  output(delta: OutputDelta): void {
    try {
      this.#guard.onOutputDelta(this.ticket, delta)
    } catch (error) {
      this.#stop.stop(error)
      throw error
    }
  }

  async checkToolCall(call: { name: string; args: unknown; toolCallId?: string }): Promise<void> {
    const guard = this.#guard
    const stop = this.#stop
    stop.checking = true
    try {
      const { name, args, toolCallId } = call
      await guard.beforeToolCall({ name, args, meter: false, toolCallId, ...this.#scope })
    } catch (error) {
      stop.stop(error)
      throw error
    } finally {
      stop.checking = false
    }
    if (guard.signal.aborted) {
      const error = revocationError(guard)
      stop.stop(error)
      throw error
    }
  }

  apply(event: StreamEvent): Promise<void> | undefined {
    switch (event.type) {
      // The event is the delta (its other fields are not read): no copy per streamed part.
      case 'text':
        this.output(event)
        return undefined
      case 'output':
        if (event.toolCallId !== undefined) {
          this.#streamedInputs ??= new Set()
          this.#streamedInputs.add(event.toolCallId)
        }
        this.output(event)
        return undefined
      case 'tool-call': {
        const { input, toolCallId } = event
        const streamed = toolCallId !== undefined && this.#streamedInputs?.has(toolCallId) === true
        if (input !== undefined && !streamed) this.output({ text: input })
        return this.checkToolCall(event)
      }
      default:
        return undefined
    }
  }

  finish(result: ModelCallResult): Promise<Settlement> {
    this.#stop.detach()
    return this.#guard.afterModelCall(this.ticket, result)
  }

  checkSent(body: unknown): void {
    const beyond = beyondHold(body, this.maxOutputTokens)
    if (beyond === undefined) return
    const error = new InvalidConfigError(
      'model',
      `Invalid model: the request the provider was sent asks for more than the kill switch held for (${beyond}): something between the kill switch and the provider changed it (a middleware inside the kill switch). Put the kill switch innermost, around the provider's model itself.`,
    )
    this.#stop.stop(error)
    throw error
  }

  async fail(error: unknown, options: FailOptions = {}): Promise<unknown> {
    const stop = this.#stop
    stop.detach()
    const guard = this.#guard
    // The first kill switch error that stopped the call says why it ended; a revocation
    // not yet heard through the signal's listener (it was checking a tool) comes next.
    const shown = KillSwitchError.isInstance(error)
      ? error
      : (stop.stoppedBy ?? (guard.signal.aborted ? revocationError(guard) : error))
    stop.stop(shown)
    // The provider's status counts only when the provider's own error ended the call.
    const status = shown === error ? providerStatusOf(error) : undefined
    await guard.failModelCall(this.ticket, shown, {
      sent: options.sent ?? this.#sent ?? true,
      byCaller: options.byCaller === true || stop.byCaller,
      untrustedCut: options.untrustedCut === true,
      ...(options.usage === undefined ? {} : { usage: options.usage }),
      ...(status === undefined ? {} : { providerStatus: status }),
    })
    return shown
  }
}

/**
 * Runs one non-streaming provider call through the lifecycle: its limits and stop signal
 * in, its result settled, or its failure ended and the right error thrown. A revocation
 * rejects at once, even when the provider ignores its abort (it is charged all the same).
 *
 * @example
 * const reply = await guard.runModelCall(
 *   { model: 'gpt-4o', input: messages },
 *   ({ maxOutputTokens, signal }) => client.chat.completions.create({ ... }, { signal }),
 *   (reply) => ({ usage: { inputTokens: reply.usage?.prompt_tokens, outputTokens: reply.usage?.completion_tokens } }),
 * )
 */
export async function runModelCall<T>(
  guard: AgentGuard,
  start: ModelCallStart,
  provider: (limits: ProviderLimits) => PromiseLike<T>,
  result: (value: T) => ModelCallResult,
): Promise<T> {
  const call = await startModelCall(guard, start)
  const value = await call.run(provider)
  await call.finish(result(value))
  return value
}

// The guard's signal lives as long as the agent (and is shared by every guard of the
// credential): one listener on it, added once, tells every call in flight, instead of one
// listener per call (or per guard: guards made per request would pile up on the signal).
class LiveCalls {
  readonly calls = new Roster<CallStop>()
  readonly onAbort = () => {
    for (const call of this.calls.members()) call.onRevoked()
  }
}

const callsBySignal = new WeakMap<AbortSignal, LiveCalls>()

function liveCalls(signal: AbortSignal): LiveCalls {
  let calls = callsBySignal.get(signal)
  if (!calls) {
    calls = new LiveCalls()
    signal.addEventListener('abort', calls.onAbort, { once: true })
    callsBySignal.set(signal, calls)
  }
  return calls
}
