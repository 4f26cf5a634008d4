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
  /** e^(-window/tau): the weight of everything before the last window, at an infinite age. */
  readonly #windowDecay: number
  #decayed = 0
  #decayedAt = 0
  #firstAt: number | undefined
  /** The last reading and when it was taken: read twice a call, mostly within one ms. */
  #reading: SpendReading | undefined
  #readAt = 0
  #version = 0

  constructor(windowMs: number, historyMs: number) {
    this.#windowMs = windowMs
    this.#tauMs = Math.max(historyMs, windowMs)
    this.#windowDecay = Math.exp(-windowMs / this.#tauMs)
    this.#recent = new RateWindow(windowMs)
  }

  /** Changes with every charge added: a judgement of the same version read the same spend. */
  get version(): number {
    return this.#version
  }

  add(now: number, micros: number): void {
    this.#firstAt ??= now
    this.#decayTo(now)
    this.#decayed += micros
    this.#recent.add(now, micros)
    this.#reading = undefined
    this.#version++
  }

  /** What was spent lately and usually: the same reading until `now` or the spend changes. */
  read(now: number): Readonly<SpendReading> {
    if (this.#reading !== undefined && now === this.#readAt) return this.#reading
    const recentMicros = this.#recent.sum(now)
    let reading: SpendReading
    if (this.#firstAt === undefined) {
      reading = { recentMicros, baselineMicros: 0, observedMs: 0 }
    } else {
      this.#decayTo(now)
      const observedMs = Math.max(0, now - this.#firstAt)
      const tau = this.#tauMs
      // A constant rate r since firstAt leaves r * tau * (e^(-w/tau) - e^(-observed/tau)) in
      // the decayed sum from before the last window: solve for r, per window.
      const weight = tau * (this.#windowDecay - Math.exp(-observedMs / tau))
      const older = Math.max(0, this.#decayed - recentMicros)
      const baselineMicros = weight > 0 ? (older / weight) * this.#windowMs : 0
      reading = { recentMicros, baselineMicros, observedMs }
    }
    this.#reading = reading
    this.#readAt = now
    return reading
  }

  #decayTo(now: number): void {
    if (now > this.#decayedAt) {
      this.#decayed *= Math.exp(-(now - this.#decayedAt) / this.#tauMs)
      this.#decayedAt = now
    }
  }
}
