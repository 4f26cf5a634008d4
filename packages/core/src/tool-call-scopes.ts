// The budget scope of each tool call a model asked for, by the framework's id of the call, so
// that where the framework runs the tool apart from the model (the AI SDK's guardTools beside
// a middleware given a run per call in `providerOptions`), the tool's price lands in the run
// its model's call was in. Without it the run's paid calls looked free to its loop checks
// (red team rt36: a paging loop ran to its run limit, $5.27, instead of a throttle at $0.47).
import type { BudgetScope, ToolCallRequest } from './guard-types.js'

/** Tool call ids remembered per guard: a model's calls run within seconds of being asked. */
const MAX_REMEMBERED = 1_000

export class ToolCallScopes {
  readonly #scopes = new Map<string, BudgetScope>()

  /** The model asked for call `id` in `scope` (a check: `meter: false`). */
  remember(id: string, scope: BudgetScope): void {
    const { runId, runCap, parentRunId, budgets } = scope
    if (runId === undefined && budgets === undefined) return
    if (this.#scopes.size >= MAX_REMEMBERED) {
      this.#scopes.delete(this.#scopes.keys().next().value as string)
    }
    this.#scopes.set(id, { runId, runCap, parentRunId, budgets })
  }

  /**
   * `request` in the scope its model's call was in: that call's run (with its cap and parent)
   * unless it names a run itself, that call's budgets unless it names some.
   */
  scoped(request: ToolCallRequest): ToolCallRequest {
    const id = request.toolCallId
    const scope = id === undefined ? undefined : this.#scopes.get(id)
    if (scope === undefined) return request
    const run =
      request.runId === undefined
        ? { runId: scope.runId, runCap: scope.runCap, parentRunId: scope.parentRunId }
        : {}
    return { ...request, ...run, budgets: request.budgets ?? scope.budgets }
  }
}
