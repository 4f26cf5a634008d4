// The budget scope of each tool call a model asked for, by the framework's id of the call, so
// that where the framework runs the tool apart from the model (the AI SDK's guardTools beside
// a middleware given a run per call in `providerOptions`), the tool's price lands in the run
// its model's call was in. Without it the run's paid calls looked free to its loop checks
// (red team rt36: a paging loop ran to its run limit, $5.27, instead of a throttle at $0.47).
import type { BudgetScope, ToolCallRequest } from './guard-types.js'

/**
 * Tool calls asked for and not run yet, per credential: each is forgotten when it runs, so
 * only calls left unrun (a refused step, a human approval never given) fill it; past this
 * many, the oldest is forgotten and runs in the runner's own scope.
 */
const MAX_PENDING = 10_000

/** An id checked twice before it ran, in scopes that differ: it names no one call. */
const AMBIGUOUS: BudgetScope = Object.freeze({})

export class ToolCallScopes {
  readonly #scopes = new Map<string, BudgetScope>()

  /**
   * The model asked for call `id` in `scope` (a check: `meter: false`). A provider may number
   * its calls per answer (`call_0`): an id asked for again in another scope before it ran is
   * ambiguous, and runs in the runner's own scope (red team rt39: an internal job's tool was
   * charged to the customer whose request first used the id).
   */
  remember(id: string, scope: BudgetScope): void {
    const { runId, runCap, parentRunId, budgets } = scope
    const asked = { runId, runCap, parentRunId, budgets }
    const before = this.#scopes.get(id)
    if (before !== undefined) {
      if (before !== AMBIGUOUS && sameScope(before, asked)) return
      this.#scopes.set(id, AMBIGUOUS)
      return
    }
    if (this.#scopes.size >= MAX_PENDING) {
      this.#scopes.delete(this.#scopes.keys().next().value as string)
    }
    this.#scopes.set(id, asked)
  }

  /**
   * `request` in the scope its model's call was in: that call's run (with its cap and parent)
   * unless it names a run itself, that call's budgets unless it names some. The run takes the
   * id's scope once: the id is forgotten then.
   */
  scoped(request: ToolCallRequest): ToolCallRequest {
    const id = request.toolCallId
    const scope = id === undefined ? undefined : this.#scopes.get(id)
    if (scope === undefined || id === undefined) return request
    this.#scopes.delete(id)
    if (scope === AMBIGUOUS) return request
    const run =
      request.runId === undefined
        ? { runId: scope.runId, runCap: scope.runCap, parentRunId: scope.parentRunId }
        : {}
    return { ...request, ...run, budgets: request.budgets ?? scope.budgets }
  }
}

function sameScope(a: BudgetScope, b: BudgetScope): boolean {
  return (
    a.runId === b.runId &&
    a.runCap === b.runCap &&
    a.parentRunId === b.parentRunId &&
    JSON.stringify(a.budgets) === JSON.stringify(b.budgets)
  )
}
