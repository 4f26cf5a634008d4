// An error a framework passes on layer after layer (LangChain tells each enclosing chain of a
// failure) is fed to runaway detection's error streak once: each `guard.onError` counts, so a
// failure told by three chains would count as three.
import type { AgentGuard } from './guard-types.js'

/**
 * Reports errors to `guard.onError`, each once however often it is passed on.
 *
 * @example
 * const errors = new ErrorReports(guard)
 * await errors.report(error, 'chain') // reported
 * await errors.report(error, 'chain') // already reported: nothing
 */
export class ErrorReports {
  readonly #guard: Pick<AgentGuard, 'onError'>
  readonly #reported = new WeakSet<object>()

  constructor(guard: Pick<AgentGuard, 'onError'>) {
    this.#guard = guard
  }

  /**
   * Feeds `error` to runaway detection's error streak, unless it was seen already (the core
   * ignores its own refusals).
   */
  async report(error: unknown, source: 'model' | 'tool' | 'chain'): Promise<void> {
    if (!this.seen(error)) await this.#guard.onError(error, source)
  }

  /**
   * Whether `error` was seen already (reported, or ended a call, which reports it); marks it.
   * A thrown string or number cannot be marked (a WeakSet takes objects): it is reported
   * each time it is passed on.
   */
  seen(error: unknown): boolean {
    if ((typeof error !== 'object' && typeof error !== 'function') || error === null) return false
    if (this.#reported.has(error)) return true
    this.#reported.add(error)
    return false
  }
}
