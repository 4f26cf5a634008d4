// An agent's spend over time in process memory: the last window exactly (to a tenth of it)
// and everything before as an exponentially decayed sum, so that "is this minute unusual for
// this agent?" costs O(1) per charge and a few dozen bytes per agent.
import { RateWindow } from './rate-window.js'

/** What `SpendHistory.read` returns, in micro-dollars. */
export interface SpendReading {
  /** Spent within the last window. */
  recentMicros: number
  /** What the agent used to spend per window before it (its decayed average rate). */
  baselineMicros: number
  /** How long this process has seen the agent spend, from its first charge. */
  observedMs: number
}

/**
 * @example
 * const history = new SpendHistory(60_000, 1_800_000)
 * history.add(Date.now(), 20_000)
 * history.read(Date.now()).recentMicros // 20000
 */
export class SpendHistory {
  readonly #windowMs: number
  readonly #tauMs: number
  readonly #recent: RateWindow
  #decayed = 0
  #decayedAt = 0
  #firstAt: number | undefined

  constructor(windowMs: number, historyMs: number) {
    this.#windowMs = windowMs
    this.#tauMs = Math.max(historyMs, windowMs)
    this.#recent = new RateWindow(windowMs)
  }

  add(now: number, micros: number): void {
    this.#firstAt ??= now
    this.#decayTo(now)
    this.#decayed += micros
    this.#recent.add(now, micros)
  }

  read(now: number): SpendReading {
    const recentMicros = this.#recent.sum(now)
    if (this.#firstAt === undefined) return { recentMicros, baselineMicros: 0, observedMs: 0 }
    this.#decayTo(now)
    const observedMs = Math.max(0, now - this.#firstAt)
    const tau = this.#tauMs
    const w = this.#windowMs
    // A constant rate r since firstAt leaves r * tau * (e^(-w/tau) - e^(-observed/tau)) in the
    // decayed sum from before the last window: solve for r, per window.
    const weight = tau * (Math.exp(-w / tau) - Math.exp(-observedMs / tau))
    const older = Math.max(0, this.#decayed - recentMicros)
    const baselineMicros = weight > 0 ? (older / weight) * w : 0
    return { recentMicros, baselineMicros, observedMs }
  }

  #decayTo(now: number): void {
    if (now > this.#decayedAt) {
      this.#decayed *= Math.exp(-(now - this.#decayedAt) / this.#tauMs)
      this.#decayedAt = now
    }
  }
}
