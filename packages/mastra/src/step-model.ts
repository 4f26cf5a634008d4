// Mastra calls the step's model itself, so the processor hands it the step's model with each
// call sent through the guard's model call: the provider gets the clamped limit and the stop
// signal, and a call stopped before it left is known never to have left.
import type { ProviderLimits } from '@killswitch/core'

/** Sends one provider call of the step through the guard (`ModelCall.send`). */
export type StepSend = <R>(provider: (limits: ProviderLimits) => PromiseLike<R>) => Promise<R>

type CallOptions = { abortSignal?: AbortSignal; maxOutputTokens?: number }
type Method = (options: CallOptions) => PromiseLike<unknown>

/**
 * The model with its calls sent through `send`; undefined when the model cannot be called
 * directly (a router id string: Mastra resolves it later).
 *
 * @example
 * return { model: stepModel(args.model, (provider) => call.send(provider)) }
 */
export function stepModel<T>(model: T, send: StepSend): T | undefined {
  const { doGenerate, doStream } = (model ?? {}) as { doGenerate?: Method; doStream?: Method }
  if (typeof doGenerate !== 'function' || typeof doStream !== 'function') return undefined
  const through = (method: Method) => (options: CallOptions) =>
    send(({ maxOutputTokens, signal }) =>
      method.call(model, {
        ...options,
        maxOutputTokens,
        abortSignal: options.abortSignal ? AbortSignal.any([options.abortSignal, signal]) : signal,
      }),
    )
  // Everything else is read through the prototype: the model itself, untouched.
  return Object.create(model as object, {
    doGenerate: { value: through(doGenerate) },
    doStream: { value: through(doStream) },
  }) as T
}
