// The kill switch as a LangChain callback handler, for plain models, chains and the classic
// AgentExecutor (@langchain/classic). It translates run events onto the core's lifecycle: a
// model start begins a guarded call (kept by run id), streamed tokens are counted, the end
// finishes it, an error fails it (the core says which error the caller sees). Tools are
// checked and metered at start and settled at end. A thrown error aborts the run only
// because `raiseError` is passed through `super(...)`.
import {
  type AgentGuard,
  adapterSetup,
  BUDGET_SCOPE_KEY,
  type BudgetScope,
  findKillSwitchError,
  type ModelCall,
  mergeBudgetScope,
  type ToolCallTicket,
} from '@killswitch/core'
import { BaseCallbackHandler } from '@langchain/core/callbacks/base'
import type { Args, KillSwitchOptions } from './kill-switch-options.js'
import { identityFromLsParams, type ModelNaming } from './model-identity.js'
import { deltaText, modelCallResult, providerMessage } from './model-io.js'

type Metadata = Record<string, unknown> | undefined

/**
 * Stops LangChain models, chains and `AgentExecutor` runs when the agent is revoked, its cap
 * is reached or it runs away. Pass its `signal` too, so that a revocation cancels the
 * request in flight. Use it OR `killSwitchMiddleware` on a `createAgent` agent, not both.
 *
 * @example
 * const killSwitch = new KillSwitchCallbackHandler({ killSwitch: ks, credential })
 * await executor.invoke({ input }, { callbacks: [killSwitch], signal: killSwitch.signal })
 */
export class KillSwitchCallbackHandler extends BaseCallbackHandler {
  name = 'KillSwitchCallbackHandler'
  /** The agent's guard. */
  readonly guard: AgentGuard
  /** Aborted when the agent is revoked: pass it in the run config (`{ signal }`). */
  readonly signal: AbortSignal
  readonly #naming: ModelNaming
  readonly #scope: BudgetScope
  readonly #calls = new Map<string, ModelCall>()
  readonly #tools = new Map<string, ToolCallTicket>()
  /** Run id -> id of the outermost run, so per-run limits see one agent run as one. */
  readonly #roots = new Map<string, string>()
  /** Errors already fed to the guard: a failure bubbles through every enclosing chain. */
  readonly #reported = new WeakSet<object>()

  constructor(options: KillSwitchOptions | KillSwitchCallbackHandler) {
    // As a class field, raiseError would leave awaitHandlers false: the run would go on and
    // the rejection would be unhandled. Only the options given to super() set both.
    super({ raiseError: true })
    // LangChain copies handlers with `new this.constructor(this)`: share the guard then.
    const copied = options instanceof KillSwitchCallbackHandler
    const setup = copied ? options.#setup() : adapterSetup(options)
    this.guard = setup.guard
    this.#naming = setup.naming
    this.#scope = setup.scope
    this.signal = this.guard.signal
  }

  // LangChain passes long positional argument lists: each method names only the arguments
  // it reads (holes skip the others).
  override async handleChainStart(...[, , runId, , , , , parentRunId]: Args<'handleChainStart'>) {
    this.#roots.set(runId, this.#rootOf(runId, parentRunId))
  }

  override async handleChainEnd(...[, runId]: Args<'handleChainEnd'>) {
    this.#roots.delete(runId)
  }

  override async handleChatModelStart(
    ...[, messages, runId, parentRunId, extra, , metadata]: Args<'handleChatModelStart'>
  ) {
    const input = { messages: messages.flat().map(providerMessage), tools: toolsOf(extra) }
    await this.#start(runId, parentRunId, metadata, input)
  }

  override async handleLLMStart(
    ...[, prompts, runId, parentRunId, extra, , metadata]: Args<'handleLLMStart'>
  ) {
    await this.#start(runId, parentRunId, metadata, { prompts, tools: toolsOf(extra) })
  }

  override async handleLLMNewToken(...[token, , runId, , , fields]: Args<'handleLLMNewToken'>) {
    // Throws the typed error once the output reaches what the hold pays for, or the agent
    // is revoked: that ends the stream, and LangChain reports it to handleLLMError.
    this.#calls.get(runId)?.output({ text: deltaText(token, fields) })
  }

  override async handleLLMEnd(...[output, runId]: Args<'handleLLMEnd'>) {
    const generation = output.generations[0]?.[0]
    const result = modelCallResult(generation && 'message' in generation && generation.message)
    result.text ??= generation?.text
    await take(this.#calls, runId)?.finish(result)
  }

  override async handleLLMError(...[error, runId]: Args<'handleLLMError'>) {
    const call = take(this.#calls, runId)
    if (call === undefined) return this.#report(error, 'model')
    this.#reported.add(error)
    // Once revoked, the provider client threw its own AbortError ("Request was aborted."):
    // thrown from here (raiseError), the core's typed error replaces it.
    const shown = await call.fail(error)
    if (shown !== error) throw shown
  }

  override async handleToolStart(
    ...[tool, input, runId, parentRunId, , metadata, runName]: Args<'handleToolStart'>
  ) {
    // The tool's name arrives as runName; the serialized tool is often a stub without it.
    const name = runName ?? tool.name ?? tool.id.at(-1) ?? 'unknown-tool'
    const scope = this.#scopeOf(runId, parentRunId, metadata)
    this.#tools.set(runId, await this.guard.beforeToolCall({ name, args: parse(input), ...scope }))
  }

  override async handleToolEnd(...[, runId]: Args<'handleToolEnd'>) {
    const ticket = take(this.#tools, runId)
    if (ticket !== undefined) await this.guard.afterToolCall(ticket, { ok: true })
  }

  override async handleToolError(...[error, runId]: Args<'handleToolError'>) {
    const ticket = take(this.#tools, runId)
    if (ticket === undefined) return this.#report(error, 'tool')
    this.#reported.add(error)
    await this.guard.afterToolCall(ticket, { ok: false, error })
  }

  override async handleChainError(...[error, runId]: Args<'handleChainError'>) {
    this.#roots.delete(runId)
    await this.#report(error, 'chain')
  }

  #setup() {
    return { guard: this.guard, naming: this.#naming, scope: this.#scope }
  }

  /** Feeds an error to runaway detection once: not our own refusals, not one seen before. */
  async #report(error: unknown, kind: 'model' | 'tool' | 'chain') {
    if (typeof error === 'object' && error !== null) {
      if (this.#reported.has(error)) return
      this.#reported.add(error)
    }
    if (findKillSwitchError(error) === undefined) await this.guard.onError(error, kind)
  }

  async #start(runId: string, parentRunId: string | undefined, metadata: Metadata, input: unknown) {
    // LangChain puts the model's getLsParams() (ls_model_name, ls_provider...) in the metadata.
    const call = await this.guard.startModelCall({
      ...identityFromLsParams(metadata, this.#naming),
      input,
      ...this.#scopeOf(runId, parentRunId, metadata),
    })
    this.#calls.set(runId, call)
  }

  /**
   * The options' scope with the run's `metadata.killswitch` over it. Callbacks see the run
   * config's `metadata`, not its `configurable` (LangChain copies only primitive
   * `configurable` values, and only to tracers). Without a `runId`, the outermost run.
   */
  #scopeOf(runId: string, parentRunId: string | undefined, metadata: Metadata): BudgetScope {
    const scope = mergeBudgetScope(this.#scope, metadata?.[BUDGET_SCOPE_KEY], 'metadata.killswitch')
    return { ...scope, runId: scope.runId ?? this.#rootOf(runId, parentRunId) }
  }

  #rootOf(runId: string, parentRunId: string | undefined): string {
    return parentRunId === undefined ? runId : (this.#roots.get(parentRunId) ?? parentRunId)
  }
}

function take<T>(map: Map<string, T>, runId: string): T | undefined {
  const value = map.get(runId)
  map.delete(runId)
  return value
}

function toolsOf(extra: Record<string, unknown> | undefined): unknown {
  const tools = (from: unknown) => (from as { tools?: unknown } | undefined)?.tools
  return tools(extra?.invocation_params) ?? tools(extra?.options)
}

function parse(input: string): unknown {
  try {
    return JSON.parse(input)
  } catch {
    return input
  }
}
