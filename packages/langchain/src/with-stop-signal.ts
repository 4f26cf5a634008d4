// LangChain passes the run's signal to the model call, but a middleware cannot add its own:
// the call options are built inside the agent node. A model bound with `withConfig({ signal })`
// carries one into every call (RunnableBinding merges it with the run's signal), and
// createAgent binds tools onto such a binding as onto the model itself.

type Configurable = {
  withConfig?: (config: { signal: AbortSignal }) => unknown
  config?: { signal?: AbortSignal }
}

/**
 * Returns the model bound to also abort when `signal` does; the model itself when it is not
 * a LangChain runnable.
 *
 * @example
 * handler({ ...request, model: withStopSignal(request.model, stopper.signal) })
 */
export function withStopSignal<T>(model: T, signal: AbortSignal): T {
  const runnable = model as Configurable
  if (typeof runnable?.withConfig !== 'function') return model
  const own = runnable.config?.signal
  return runnable.withConfig({ signal: own ? AbortSignal.any([own, signal]) : signal }) as T
}
