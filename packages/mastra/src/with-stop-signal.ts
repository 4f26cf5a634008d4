// A processor cannot pass a signal to the model call, but processInputStep may return the
// step's model: the same model whose calls also abort on the agent's revocation, so that the
// provider's request ends at once (as in every adapter), not when the caller's own signal
// or the next chunk notices.

type CallOptions = { abortSignal?: AbortSignal }
type Callable = {
  doGenerate?: (options: CallOptions) => unknown
  doStream?: (options: CallOptions) => unknown
}

/**
 * Returns the model with `signal` merged into the abort signal of each call; undefined when
 * the model cannot be called directly (a router id string: Mastra resolves it later).
 *
 * @example
 * return { model: withStopSignal(args.model, guard.signal) }
 */
export function withStopSignal<T>(model: T, signal: AbortSignal): T | undefined {
  if (model === null || typeof model !== 'object') return undefined
  const callable = model as Callable
  if (typeof callable.doGenerate !== 'function' || typeof callable.doStream !== 'function') {
    return undefined
  }
  const merge = (options: CallOptions): CallOptions => ({
    ...options,
    abortSignal: options.abortSignal ? AbortSignal.any([options.abortSignal, signal]) : signal,
  })
  // Everything else is read through the prototype: the model itself, untouched. Its own
  // methods run on it (`this` is the model), so its private state stays reachable.
  return Object.create(model, {
    doGenerate: {
      value: (options: CallOptions) => callable.doGenerate?.call(model, merge(options)),
    },
    doStream: { value: (options: CallOptions) => callable.doStream?.call(model, merge(options)) },
  }) as T
}
