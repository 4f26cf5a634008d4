// Keeping a live call's hold alive. A hold is a lease: the store lapses (and charges) a hold
// whose owner stops renewing it. While a call runs, its guard renews the lease every third of
// its TTL, so no live call loses its hold however long it streams; a process that dies stops
// renewing, and its holds lapse. One unref'd timer per live ticket, cleared when it ends.
import type { Engine } from './engine.js'
import { renewHold } from './guard-ledger.js'

// A ticket the adapter dropped without ending it stops its renewals once it is collected:
// its hold then lapses like a crashed caller's, instead of being held forever.
const dropped = new FinalizationRegistry<ReturnType<typeof setInterval>>((timer) =>
  clearInterval(timer),
)

/**
 * Renews the hold every `ttlMs / 3` until the returned function is called, the hold is no
 * longer live, or `owner` (the ticket) is collected. Returns the function that stops it.
 *
 * @example
 * const stop = keepHoldAlive(engine, ticket, { handle, holdId, ttlMs })
 * // ... the call runs ...
 * stop()
 */
export function keepHoldAlive(
  engine: Engine,
  owner: object,
  hold: { handle: string; holdId: string; ttlMs: number },
): () => void {
  const every = Math.max(1, Math.floor(hold.ttlMs / 3))
  const token = {}
  const stop = () => {
    clearInterval(timer)
    dropped.unregister(token)
  }
  const timer = setInterval(() => {
    renewHold(engine, hold).then(
      (live) => {
        if (!live) stop()
      },
      // The store is unreachable: keep trying at the next tick (the lease still has two
      // thirds of its TTL to run).
      () => {},
    )
  }, every)
  timer.unref?.()
  dropped.register(owner, timer, token)
  return stop
}
