// Steps that are synchronous when the store is. A guarded call on an in-process store (the
// memory store) needs no promise at all between its adapter's hook and the ledger, yet the
// same code must wait on a network store. An `async` function would pay a promise and a
// microtask per layer either way: measured, 21 promises a beforeModelCall + afterModelCall,
// which cost twice as much again under AsyncLocalStorage (LangChain runs every handler
// inside one, and Node 22 then runs a promise hook for each). So the hot path is written
// once, as generators that `yield` what may be a promise, and `drive` runs them: at once
// while every step is a value, awaiting from the first one that is not.

/** A value, or a promise of it. */
export type Awaitable<T> = T | PromiseLike<T>

/** Steps of a computation: each `yield` hands out an awaitable and gets its value back. */
export type Steps<T> = Generator<unknown, T, unknown>

/** A thenable: what `await` would wait on (the values the steps yield never have `then`). */
export function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { then?: unknown }).then === 'function'
  )
}

/**
 * Runs `steps` to its end: synchronously (returning the value, or throwing) while every
 * yielded step is a value; from the first promise on, asynchronously (a promise).
 */
export function drive<T>(steps: Steps<T>): Awaitable<T> {
  let next = steps.next()
  while (!next.done) {
    if (isPromiseLike(next.value)) return finish(steps, next.value)
    next = steps.next(next.value)
  }
  return next.value
}

async function finish<T>(steps: Steps<T>, pending: unknown): Promise<T> {
  for (;;) {
    let value: unknown
    let failed = false
    try {
      value = await pending
    } catch (error) {
      failed = true
      value = error
    }
    // Outside the try: an error the generator itself throws is the computation's.
    const next = failed ? steps.throw(value) : steps.next(value)
    if (next.done) return next.value
    pending = next.value
  }
}

/** `drive(steps)` as a promise (one, resolved at once when the steps were all values). */
export function promised<T>(steps: () => Steps<T>): Promise<T> {
  try {
    return Promise.resolve(drive(steps()))
  } catch (error) {
    return Promise.reject(error)
  }
}

/**
 * `f` of an awaitable's value: at once for a value, after it for a promise. (Not named
 * `then`: a module that exports `then` is itself a thenable to `import()`.)
 */
export function andThen<T, U>(value: Awaitable<T>, f: (value: T) => U): Awaitable<U> {
  return isPromiseLike(value) ? Promise.resolve(value).then(f) : f(value)
}
