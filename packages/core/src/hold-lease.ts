// Keeping a live call's hold alive. A hold is a lease: the store lapses (and charges) a hold
// whose owner stops renewing it. While a call runs, its guard renews the lease every third of
// its TTL, so no live call loses its hold however long it streams; a process that dies stops
// renewing, and its holds lapse.
//
// One book of leases per kill switch, with one unref'd timer for all of them: a call costs a
// map entry, not a timer and a finalizer of its own (thousands of calls a second otherwise
// spend their time creating and clearing timers). The book holds each ticket weakly from its
// first tick on: a ticket the adapter dropped without ending it stops being renewed once it
// is collected, and its hold then lapses like a crashed caller's, instead of being held
// forever. Not weakly from the start: a WeakRef keeps its target alive until the current job
// ends, and a caller whose calls all resolve in microtasks (a local store, a mock model) runs
// thousands of calls in one job, each ticket kept, and the heap grows until the job ends.
// Most calls end before the first tick, so most leases never need a WeakRef at all.
//
// A lease is renewed every third of its TTL, and at least every RENEW_AT_LEAST_EVERY_MS: the
// renewal is also how a process cut off from its store finds out, and how it learns of a
// revocation whose event it missed, so that time must not grow with a long TTL (the default
// five minutes would leave a partitioned process streaming blind for over three).
//
// A lease whose renewal fails twice in a row is lost: the store has not been heard for two
// renewal periods (20 s at most), so a revocation made meanwhile may not have reached this
// process, and the hold may lapse before long. A model call is stopped then (`onLost`), fail closed,
// rather than streaming on unheld and blind to revocation until the store is back. One
// failure is tried again at the next renewal: a blip of the store does not stop honest calls.
import type { Engine } from './engine.js'
import { StoreUnavailableError } from './errors.js'
import { renewHold } from './guard-ledger.js'
import { Roster, type RosterMember } from './roster.js'

/** The longest a live call goes without its store's word (see above): one renewal period. */
export const RENEW_AT_LEAST_EVERY_MS = 10_000

/** A hold's lease, as its call sees it. */
export interface HoldLease {
  /** Stops renewing it (the call ended). */
  end(): void
  /** Called once the owner was collected without ending the lease (the hold then lapses). */
  onOwnerGone: (() => void) | undefined
  /** Called once the store could not renew it twice in a row (the hold is about to lapse). */
  onLost: ((error: StoreUnavailableError) => void) | undefined
}

class Lease implements HoldLease, RosterMember {
  /** The ticket: held strongly until the book's next tick, weakly after it. */
  owner: object | WeakRef<object>
  readonly hold: { handle: string; holdId: string; ttlMs: number }
  /** Renewed every third of its TTL, or every RENEW_AT_LEAST_EVERY_MS if that is sooner. */
  readonly every: number
  /** Ticks of the book's timer until its next renewal. */
  ticksLeft: number
  onOwnerGone: (() => void) | undefined
  onLost: ((error: StoreUnavailableError) => void) | undefined
  /** Renewals in a row the store did not answer. */
  failures = 0
  slot = -1
  readonly #book: Roster<Lease>

  constructor(
    book: Roster<Lease>,
    owner: object,
    hold: Lease['hold'],
    every: number,
    tick: number,
  ) {
    this.#book = book
    this.owner = owner
    this.hold = hold
    this.every = every
    this.ticksLeft = Math.max(1, Math.floor(every / tick))
  }

  end(): void {
    // The book's timer stays until a tick finds the book empty: calls one after another
    // would otherwise stop and start it on every call.
    this.#book.delete(this)
  }
}

class LeaseBook {
  readonly #engine: Engine
  readonly #leases = new Roster<Lease>()
  #timer: ReturnType<typeof setInterval> | undefined
  /** The timer's period: the shortest renewal period of the leases it was started for. */
  #tick = Number.POSITIVE_INFINITY

  constructor(engine: Engine) {
    this.#engine = engine
  }

  add(owner: object, hold: Lease['hold']): HoldLease {
    const every = Math.max(1, Math.min(RENEW_AT_LEAST_EVERY_MS, Math.floor(hold.ttlMs / 3)))
    if (every < this.#tick) this.#restart(every)
    const lease = new Lease(this.#leases, owner, hold, every, this.#tick)
    this.#leases.add(lease)
    return lease
  }

  loseAll(error: StoreUnavailableError): void {
    for (const lease of [...this.#leases.members()]) {
      if (lease.onLost === undefined) continue
      lease.end()
      lease.onLost(error)
    }
  }

  #stopIfIdle(): boolean {
    if (this.#leases.size > 0 || this.#timer === undefined) return false
    clearInterval(this.#timer)
    this.#timer = undefined
    this.#tick = Number.POSITIVE_INFINITY
    return true
  }

  /** A faster timer: every lease is renewed at its next tick (early is safe, late is not). */
  #restart(tick: number): void {
    if (this.#timer !== undefined) clearInterval(this.#timer)
    this.#tick = tick
    for (const lease of this.#leases.members()) lease.ticksLeft = 1
    this.#timer = setInterval(() => this.#renewDue(), tick)
    this.#timer.unref?.()
  }

  #renewDue(): void {
    if (this.#stopIfIdle()) return
    for (const lease of this.#leases.members()) {
      if (!(lease.owner instanceof WeakRef)) {
        lease.owner = new WeakRef(lease.owner)
      } else if (lease.owner.deref() === undefined) {
        lease.end()
        lease.onOwnerGone?.()
        continue
      }
      if (--lease.ticksLeft > 0) continue
      lease.ticksLeft = Math.max(1, Math.floor(lease.every / this.#tick))
      renewHold(this.#engine, lease.hold).then(
        ({ renewed, revoked }) => {
          lease.failures = 0
          // The backstop of revocation: should its event not have reached this process, the
          // next renewal stops the agent's calls in flight all the same.
          if (revoked) this.#engine.noticeRevoked(lease.hold.handle, revoked.reason)
          if (!renewed) lease.end()
        },
        (error: unknown) => {
          // Once: try again at the next renewal (the lease has at least a third of its TTL
          // to run).
          // A hold with no call to stop (a tool's, a payment's) is renewed until the store
          // is back or it lapses.
          if (++lease.failures < 2 || lease.onLost === undefined) return
          lease.end()
          lease.onLost(leaseLost(this.#engine, 2 * lease.every, error))
        },
      )
    }
  }
}

/** Why a call was stopped when its lease could not be renewed. */
function leaseLost(engine: Engine, unheardMs: number, cause: unknown): StoreUnavailableError {
  const seconds = Math.round(unheardMs / 1000)
  return new StoreUnavailableError(
    `The ${engine.store.kind} store has not answered this call's hold renewals for ${seconds} s: the call was stopped before its hold could lapse, as a revocation may not have reached this process`,
    { cause },
  )
}

const books = new WeakMap<Engine, LeaseBook>()

/**
 * Stops every call of the kill switch whose hold is renewed (its lease's `onLost`), with
 * `error`: the store was lost for good (a `lost` store event), so no renewal will come.
 */
export function loseEveryLease(engine: Engine, error: StoreUnavailableError): void {
  books.get(engine)?.loseAll(error)
}

/**
 * Renews the hold every `ttlMs / 3` (every RENEW_AT_LEAST_EVERY_MS at most) until the returned function is called, the hold is no
 * longer live, or `owner` (the ticket) is collected. Returns the lease: `end()` stops it.
 *
 * @example
 * const lease = keepHoldAlive(engine, ticket, { handle, holdId, ttlMs })
 * // ... the call runs ...
 * lease.end()
 */
export function keepHoldAlive(
  engine: Engine,
  owner: object,
  hold: { handle: string; holdId: string; ttlMs: number },
): HoldLease {
  let book = books.get(engine)
  if (!book) {
    book = new LeaseBook(engine)
    books.set(engine, book)
  }
  return book.add(owner, hold)
}
