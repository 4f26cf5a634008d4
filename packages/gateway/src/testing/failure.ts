/** The error a promise rejects with; fails the test if it resolves. */
export function failure<T>(promise: Promise<unknown>): Promise<T> {
  return promise.then(
    () => {
      throw new Error('expected the call to be refused, but it succeeded')
    },
    (error: unknown) => error as T,
  )
}
