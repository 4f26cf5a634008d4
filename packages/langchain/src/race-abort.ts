// Races a call against the guard's signal, so that a revocation stops the agent at once even
// when the call ignores its abort. The middleware then aborts a model call's request and
// charges it; a tool already running goes on and its hold is settled when it ends.

/** How a raced call ended. */
export type RaceOutcome<T> =
  | { status: 'fulfilled'; value: T }
  | { status: 'rejected'; reason: unknown }
  | { status: 'aborted'; reason: unknown }

/**
 * Waits for `work` or for `signal` to abort, whichever comes first.
 *
 * @example
 * const outcome = await raceAbort(handler(request), guard.signal)
 * if (outcome.status === 'aborted') throw outcome.reason
 */
export function raceAbort<T>(work: PromiseLike<T>, signal: AbortSignal): Promise<RaceOutcome<T>> {
  return new Promise((resolve) => {
    const onAbort = () => resolve({ status: 'aborted', reason: signal.reason })
    if (signal.aborted) {
      // The caller settles the call when it ends; this keeps its rejection from going unhandled.
      work.then(undefined, () => undefined)
      onAbort()
      return
    }
    signal.addEventListener('abort', onAbort, { once: true })
    work.then(
      (value) => {
        signal.removeEventListener('abort', onAbort)
        resolve({ status: 'fulfilled', value })
      },
      (reason: unknown) => {
        signal.removeEventListener('abort', onAbort)
        resolve({ status: 'rejected', reason })
      },
    )
  })
}
