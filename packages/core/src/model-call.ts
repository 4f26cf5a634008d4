// The guarded-call lifecycle as one object, for adapters: reserve, hand the provider its
// clamped limits and a stop signal, count what streams, end exactly once, and say which
// error the caller sees. Built on the guard's own methods, so an adapter may use either.
import { KillSwitchError } from './errors.js'
import type {
  AgentGuard,
  ModelCallRequest,
  ModelCallResult,
  ModelCallTicket,
  OutputDelta,
  Settlement,
  TokenUsage,
} from './guard-types.js'

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
   * Accounts streamed output. Throws the typed error (and aborts `signal`) once the output
   * reaches what the hold pays for or the agent is revoked: end the call with `fail` then.
   */
  output(delta: OutputDelta): void
  /** The provider answered: settles the larger of its usage and what the guard counted. */
  finish(result: ModelCallResult): Promise<Settlement>
  /**
   * The call ended any other way: aborts the provider, settles what may have been spent
   * (`sent: false` only when the provider call provably never started: then the hold is
   * released) and returns the error the caller should see. A revocation outranks the
   * error the provider threw on its abort; any kill switch error outranks a plain one.
   */
  fail(error: unknown, options?: { sent?: boolean; usage?: TokenUsage }): Promise<unknown>
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
 *   const result = await provider({ maxTokens: call.maxOutputTokens, signal: call.signal })
 *   await call.finish({ usage: result.usage, text: result.text })
 *   return result
 * } catch (error) {
 *   throw await call.fail(error)
 * }
 */
export async function startModelCall(guard: AgentGuard, start: ModelCallStart): Promise<ModelCall> {
  const { signal: callerSignal, ...request } = start
  const ticket = await guard.beforeModelCall(request)
  const stopper = new AbortController()
  // The first kill switch error that stopped the call: it outranks what the provider threw.
  let stoppedBy: KillSwitchError | undefined
  const stop = (reason: unknown) => {
    if (KillSwitchError.isInstance(reason)) stoppedBy ??= reason
    if (!stopper.signal.aborted) stopper.abort(reason)
  }
  const onRevoked = () => stop(guard.signal.reason)
  const onCaller = () => stop(callerSignal?.reason)
  guard.signal.addEventListener('abort', onRevoked, { once: true })
  callerSignal?.addEventListener('abort', onCaller, { once: true })
  if (guard.signal.aborted) onRevoked()
  if (callerSignal?.aborted) onCaller()
  // The guard's signal lives as long as the agent: every call takes its listener off.
  const detach = () => {
    guard.signal.removeEventListener('abort', onRevoked)
    callerSignal?.removeEventListener('abort', onCaller)
  }

  return {
    ticket,
    maxOutputTokens: ticket.maxOutputTokens,
    signal: stopper.signal,
    output(delta) {
      try {
        guard.onOutputDelta(ticket, delta)
      } catch (error) {
        stop(error)
        throw error
      }
    },
    async finish(result) {
      detach()
      return guard.afterModelCall(ticket, result)
    },
    async fail(error, options = {}) {
      detach()
      stop(error)
      const shown = guard.signal.aborted
        ? guard.signal.reason
        : KillSwitchError.isInstance(error)
          ? error
          : (stoppedBy ?? error)
      const sent = options.sent ?? true
      await guard.failModelCall(
        ticket,
        shown,
        options.usage === undefined ? { sent } : { sent, usage: options.usage },
      )
      return shown
    },
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
  provider: (limits: { maxOutputTokens: number; signal: AbortSignal }) => PromiseLike<T>,
  result: (value: T) => ModelCallResult,
): Promise<T> {
  const call = await startModelCall(guard, start)
  let started = false
  let value: T
  try {
    value = await untilStopped(call.signal, () => {
      started = true
      return provider({ maxOutputTokens: call.maxOutputTokens, signal: call.signal })
    })
  } catch (error) {
    // Stopped before the provider was called (revoked meanwhile): nothing left, released.
    throw await call.fail(error, { sent: started })
  }
  await call.finish(result(value))
  return value
}

/** The provider's promise, or a rejection as soon as the call's signal aborts. */
function untilStopped<T>(signal: AbortSignal, run: () => PromiseLike<T>): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason)
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason)
    signal.addEventListener('abort', onAbort, { once: true })
    Promise.resolve()
      .then(run)
      .then(resolve, reject)
      .finally(() => signal.removeEventListener('abort', onAbort))
  })
}
