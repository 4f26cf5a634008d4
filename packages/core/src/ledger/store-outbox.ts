// Writes that must reach the store are delivered: settles, releases and revocations. One
// that cannot reach it (an outage, a busy lock past its timeout) is kept here and retried
// with backoff until the store acknowledges it; `drain()` (called by `ks.close()`) waits for
// what is pending. A retry is safe: the ledger is idempotent per hold id, and revoking a
// revoked agent changes nothing. A process that crashes with a settle pending is covered by
// the ledger itself: its hold lapses and is charged in full.
import { type Awaitable, isPromiseLike } from '../awaitable.js'
import { StoreUnavailableError } from '../errors.js'

const FIRST_DELAY_MS = 50
const MAX_DELAY_MS = 5_000
/**
 * A revocation is retried this often, without backoff: once the store is back it must be in
 * force within milliseconds, not at the next of a settle's backed-off attempts (red team
 * r20: written 2.8-5.9 s after the store came back, the other processes' calls streaming on).
 * One small write per pending revocation, and revocations are few.
 */
const URGENT_DELAY_MS = 100

export class StoreOutbox {
  readonly #pending = new Set<Promise<unknown>>()
  #closed = false

  /** How many deliveries are waiting for the store. */
  get size(): number {
    return this.#pending.size
  }

  /**
   * Runs `operation`. If the store is unavailable, rejects with that error (the caller fails
   * closed) and keeps retrying in the background until it succeeds. An answer given at once
   * (a value) is passed through as it is. `urgent` (a revocation): retried every
   * URGENT_DELAY_MS instead of backing off.
   */
  deliver<T>(operation: () => Awaitable<T>, options: { urgent?: boolean } = {}): Awaitable<T> {
    const retry = (error: unknown): never => {
      if (error instanceof StoreUnavailableError) this.#retry(operation, options.urgent === true)
      throw error
    }
    let answer: Awaitable<T>
    try {
      answer = operation()
    } catch (error) {
      return Promise.reject(error).catch(retry)
    }
    // A store that answered at once delivered (store.ts): nothing to keep.
    return isPromiseLike(answer) ? Promise.resolve(answer).catch(retry) : answer
  }

  #retry(operation: () => Awaitable<unknown>, urgent: boolean): void {
    const attempt = async () => {
      const first = urgent ? URGENT_DELAY_MS : FIRST_DELAY_MS
      const most = urgent ? URGENT_DELAY_MS : MAX_DELAY_MS
      for (let delay = first; ; delay = Math.min(most, delay * 2)) {
        await new Promise((resolve) => setTimeout(resolve, delay * (0.5 + Math.random())))
        try {
          await operation()
          return
        } catch (error) {
          // Anything but an outage (an invalid amount, a vanished agent) will never succeed.
          if (!(error instanceof StoreUnavailableError) || this.#closed) return
        }
      }
    }
    const pending = attempt()
    this.#pending.add(pending)
    void pending.finally(() => this.#pending.delete(pending))
  }

  /** Waits up to `timeoutMs` for pending deliveries; returns how many are still pending. */
  async drain(timeoutMs: number): Promise<number> {
    const deadline = Date.now() + timeoutMs
    while (this.#pending.size > 0 && Date.now() < deadline) {
      const timer = new Promise((resolve) =>
        setTimeout(resolve, Math.max(1, deadline - Date.now())),
      )
      await Promise.race([Promise.allSettled([...this.#pending]), timer])
    }
    this.#closed = true
    return this.#pending.size
  }
}
