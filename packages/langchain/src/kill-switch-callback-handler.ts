// The kill switch as a LangChain callback handler, for plain models, chains and the classic
// AgentExecutor (@langchain/classic). It reserves at model start, counts streamed tokens,
// settles at the end, checks tools at start, and feeds errors to runaway detection. A thrown
// error only aborts the run because `raiseError` is passed through `super(...)`.

import {
  type AgentGuard,
  findKillSwitchError,
  type ModelCallRequest,
  type ModelCallResult,
  type ModelCallTicket,
  type ToolCallTicket,
} from '@killswitch/core'
import {
  BaseCallbackHandler,
  type HandleLLMNewTokenCallbackFields,
} from '@langchain/core/callbacks/base'
import type { Serialized } from '@langchain/core/load/serializable'
import { AIMessage, type BaseMessage } from '@langchain/core/messages'
import type { LLMResult } from '@langchain/core/outputs'
import { type BudgetScope, pick, SCOPE_KEY, scopeOf } from './budget-scope.js'
import { guardFromOptions, type KillSwitchOptions } from './guard-options.js'
import { identityFromLsParams, type ModelNaming } from './model-identity.js'
import { revokedError } from './revoked-error.js'
import { toTokenUsage } from './usage.js'

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
  readonly #toolPrices: Readonly<Record<string, number>>
  readonly #scope: BudgetScope
  readonly #modelTickets = new Map<string, ModelCallTicket>()
  readonly #toolTickets = new Map<string, ToolCallTicket>()
  /** Run id -> id of the outermost run, so per-run limits see one agent run as one. */
  readonly #roots = new Map<string, string>()
  /** Errors already fed to the guard: a failure bubbles through every enclosing chain. */
  readonly #reported = new WeakSet<object>()

  constructor(options: KillSwitchOptions | KillSwitchCallbackHandler) {
    // As a class field, raiseError would leave awaitHandlers false: the run would go on and
    // the rejection would be unhandled. Only the options given to super() set both.
    super({ raiseError: true })
    // LangChain copies handlers with `new this.constructor(this)`: share the guard then.
    if (options instanceof KillSwitchCallbackHandler) {
      this.guard = options.guard
      this.#naming = options.#naming
      this.#toolPrices = options.#toolPrices
      this.#scope = options.#scope
    } else {
      this.guard = guardFromOptions(options)
      this.#naming = { model: options.model, provider: options.provider }
      this.#toolPrices = { ...options.toolPrices }
      this.#scope = pick(options)
    }
    this.signal = this.guard.signal
  }

  override async handleChainStart(
    _chain: Serialized,
    _inputs: unknown,
    runId: string,
    _runType?: string,
    _tags?: string[],
    _metadata?: Record<string, unknown>,
    _runName?: string,
    parentRunId?: string,
  ): Promise<void> {
    this.#roots.set(runId, this.#rootOf(runId, parentRunId))
  }

  override async handleChainEnd(_outputs: unknown, runId: string): Promise<void> {
    this.#roots.delete(runId)
  }

  override async handleChatModelStart(
    _llm: Serialized,
    messages: BaseMessage[][],
    runId: string,
    parentRunId?: string,
    extraParams?: Record<string, unknown>,
    _tags?: string[],
    metadata?: Record<string, unknown>,
  ): Promise<void> {
    await this.#reserve(runId, parentRunId, metadata, { messages, tools: toolsOf(extraParams) })
  }

  override async handleLLMStart(
    _llm: Serialized,
    prompts: string[],
    runId: string,
    parentRunId?: string,
    extraParams?: Record<string, unknown>,
    _tags?: string[],
    metadata?: Record<string, unknown>,
  ): Promise<void> {
    await this.#reserve(runId, parentRunId, metadata, { prompts, tools: toolsOf(extraParams) })
  }

  override async handleLLMNewToken(
    token: string,
    _idx: unknown,
    runId: string,
    _parentRunId?: string,
    _tags?: string[],
    fields?: HandleLLMNewTokenCallbackFields,
  ): Promise<void> {
    const ticket = this.#modelTickets.get(runId)
    // Throws the typed error once the running cost reaches the hold: that ends the stream.
    if (ticket !== undefined) this.guard.onOutputDelta(ticket, { text: deltaText(token, fields) })
  }

  override async handleLLMEnd(output: LLMResult, runId: string): Promise<void> {
    const ticket = this.#take(this.#modelTickets, runId)
    if (ticket !== undefined) await this.guard.afterModelCall(ticket, modelCallResult(output))
  }

  override async handleLLMError(error: Error, runId: string): Promise<void> {
    this.#markReported(error)
    // Revoked: the caller's signal aborted the request and the provider client threw its own
    // AbortError ("Request was aborted."). Thrown from here (raiseError), the typed error
    // replaces it on its way to the caller.
    const revoked =
      this.guard.signal.aborted && findKillSwitchError(error) === undefined
        ? revokedError(this.guard)
        : undefined
    const ticket = this.#take(this.#modelTickets, runId)
    // The model started after its hold was taken: the request may have left (and billed).
    if (ticket !== undefined)
      await this.guard.failModelCall(ticket, revoked ?? error, { sent: true })
    else if (findKillSwitchError(error) === undefined) await this.guard.onError(error, 'model')
    if (revoked !== undefined) throw revoked
  }

  override async handleToolStart(
    tool: Serialized,
    input: string,
    runId: string,
    parentRunId?: string,
    _tags?: string[],
    metadata?: Record<string, unknown>,
    runName?: string,
  ): Promise<void> {
    // The tool's name arrives as runName; the serialized tool is often a stub without it.
    const name = runName ?? tool.name ?? tool.id.at(-1) ?? 'unknown-tool'
    const priceUsd = this.#toolPrices[name]
    const request = {
      name,
      args: parseArgs(input),
      ...this.#scopeOf(runId, parentRunId, metadata),
    }
    const ticket = await this.guard.beforeToolCall(
      priceUsd === undefined ? request : { ...request, priceUsd },
    )
    this.#toolTickets.set(runId, ticket)
  }

  override async handleToolEnd(_output: unknown, runId: string): Promise<void> {
    const ticket = this.#take(this.#toolTickets, runId)
    if (ticket !== undefined) await this.guard.afterToolCall(ticket, { ok: true })
  }

  override async handleToolError(error: Error, runId: string): Promise<void> {
    this.#markReported(error)
    const ticket = this.#take(this.#toolTickets, runId)
    if (ticket !== undefined) await this.guard.afterToolCall(ticket, { ok: false, error })
    else if (findKillSwitchError(error) === undefined) await this.guard.onError(error, 'tool')
  }

  override async handleChainError(error: Error, runId: string): Promise<void> {
    this.#roots.delete(runId)
    // Our own refusals and errors already reported by a model or tool are not new errors.
    if (this.#wasReported(error) || findKillSwitchError(error) !== undefined) return
    this.#markReported(error)
    await this.guard.onError(error, 'chain')
  }

  async #reserve(
    runId: string,
    parentRunId: string | undefined,
    metadata: Record<string, unknown> | undefined,
    input: unknown,
  ): Promise<void> {
    // LangChain puts the model's getLsParams() (ls_model_name, ls_provider...) in the metadata.
    const identity = identityFromLsParams(metadata, this.#naming)
    const request: ModelCallRequest = {
      model: identity.model,
      provider: identity.provider,
      input,
      maxOutputTokens: identity.maxOutputTokens,
      ...this.#scopeOf(runId, parentRunId, metadata),
    }
    this.#modelTickets.set(runId, await this.guard.beforeModelCall(request))
  }

  /**
   * The call's scope: the options' with the run's `metadata.killswitch` over it. Callbacks
   * see the run config's `metadata`, not its `configurable` (LangChain copies only primitive
   * `configurable` values, and only to tracers). Without a `runId`, the outermost LangChain
   * run groups the calls.
   */
  #scopeOf(
    runId: string,
    parentRunId: string | undefined,
    metadata: Record<string, unknown> | undefined,
  ): BudgetScope {
    const scope = scopeOf(this.#scope, metadata?.[SCOPE_KEY], `metadata.${SCOPE_KEY}`)
    return { ...scope, runId: scope.runId ?? this.#rootOf(runId, parentRunId) }
  }

  #rootOf(runId: string, parentRunId: string | undefined): string {
    if (parentRunId === undefined) return runId
    return this.#roots.get(parentRunId) ?? parentRunId
  }

  #take<T>(tickets: Map<string, T>, runId: string): T | undefined {
    const ticket = tickets.get(runId)
    tickets.delete(runId)
    return ticket
  }

  #markReported(error: unknown): void {
    if (typeof error === 'object' && error !== null) this.#reported.add(error)
  }

  #wasReported(error: unknown): boolean {
    return typeof error === 'object' && error !== null && this.#reported.has(error)
  }
}

function modelCallResult(output: LLMResult): ModelCallResult {
  const generation = output.generations[0]?.[0]
  if (generation === undefined) return {}
  const result: ModelCallResult = { text: generation.text }
  // Usage is on the message (`usage_metadata`); `llmOutput` differs per provider.
  const message = 'message' in generation ? generation.message : undefined
  if (AIMessage.isInstance(message)) {
    // The message is what the model said; a generation's `text` may be left empty.
    result.text = message.text
    const usage = toTokenUsage(message.usage_metadata)
    if (usage !== undefined) result.usage = usage
    if (message.tool_calls !== undefined && message.tool_calls.length > 0) {
      result.toolCalls = message.tool_calls.map(({ name, args }) => ({ name, args }))
    }
  }
  return result
}

// Streamed tool calls arrive as argument fragments with an empty token: count them too.
function deltaText(token: string, fields: HandleLLMNewTokenCallbackFields | undefined): string {
  const chunk = fields?.chunk
  const message = chunk !== undefined && 'message' in chunk ? chunk.message : undefined
  const toolArgs =
    message !== undefined &&
    'tool_call_chunks' in message &&
    Array.isArray(message.tool_call_chunks)
      ? message.tool_call_chunks.map((call: { args?: string }) => call.args ?? '').join('')
      : ''
  return token + toolArgs
}

function toolsOf(extraParams: Record<string, unknown> | undefined): unknown {
  const invocation = extraParams?.invocation_params as { tools?: unknown } | undefined
  const options = extraParams?.options as { tools?: unknown } | undefined
  return invocation?.tools ?? options?.tools
}

function parseArgs(input: string): unknown {
  try {
    return JSON.parse(input)
  } catch {
    return input
  }
}
