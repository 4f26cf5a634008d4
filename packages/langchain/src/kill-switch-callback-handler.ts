// The kill switch as a LangChain callback handler (models, chains, the classic AgentExecutor):
// run events onto the core's lifecycle. A model start begins a guarded call (kept by run id),
// tokens are counted, the end finishes it, an error fails it; tools are held at their start.
import type { AdapterOptions, AdapterSetup, ModelCall, ToolCallTicket } from '@killswitch/core'
import { adapterSetup, ErrorReports, takeEntry } from '@killswitch/core'
import { BaseCallbackHandler } from '@langchain/core/callbacks/base'
import type { Args } from './model-binding.js'
import { budgetScope, sentFields, startLangChainCall } from './model-call-request.js'
import { identityFromLsParams } from './model-identity.js'
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
  readonly guard: AdapterSetup['guard']
  /** Aborted when the agent is revoked: pass it in the run config (`{ signal }`). */
  readonly signal: AbortSignal
  readonly #setup: AdapterSetup
  readonly #calls = new Map<string, ModelCall>()
  readonly #tools = new Map<string, ToolCallTicket>()
  /** Run id -> id of the outermost run, so per-run limits see one agent run as one. */
  readonly #roots = new Map<string, string>()
  /** Errors fed to the guard once: a failure bubbles through every enclosing chain. */
  readonly #errors: ErrorReports

  constructor(options: AdapterOptions | KillSwitchCallbackHandler) {
    // Given to super(), raiseError sets awaitHandlers too: a refusal thrown stops the run.
    super({ raiseError: true })
    // LangChain copies handlers with `new this.constructor(this)`: the copy shares the guard.
    this.#setup =
      options instanceof KillSwitchCallbackHandler
        ? options.#setup
        : adapterSetup(options, { name: 'KillSwitchCallbackHandler' })
    this.guard = this.#setup.guard
    this.signal = this.guard.signal
    this.#errors = new ErrorReports(this.guard)
  }

  // LangChain passes long positional argument lists: holes skip the arguments not read.
  override async handleChainStart(...[, , runId, , , , , parentRunId]: Args<'handleChainStart'>) {
    this.#roots.set(runId, this.#rootOf(runId, parentRunId))
  }

  override async handleChainEnd(...[, runId]: Args<'handleChainEnd'>) {
    this.#roots.delete(runId)
  }

  override async handleChatModelStart(...start: Args<'handleChatModelStart'>) {
    const [, messages] = start
    await this.#startModelCall({ messages: messages.flat().map(providerMessage) }, start)
  }

  override async handleLLMStart(...start: Args<'handleLLMStart'>) {
    const [, prompts] = start
    await this.#startModelCall({ prompts }, start)
  }

  override async handleLLMNewToken(...[token, , runId, , , fields]: Args<'handleLLMNewToken'>) {
    const call = this.#calls.get(runId)
    if (call === undefined) return
    // Throws past what the hold pays for, or once revoked: that ends the stream. A call
    // already ended at its stop (#endWhenStopped) counts nothing more: refused all the same.
    if (call.signal.aborted) throw call.signal.reason
    call.output({ text: deltaText(token, fields) })
  }

  override async handleLLMEnd(...[output, runId]: Args<'handleLLMEnd'>) {
    const generation = output.generations[0]?.[0]
    const result = modelCallResult(generation && 'message' in generation && generation.message)
    result.text ??= generation?.text
    await takeEntry(this.#calls, runId)?.finish(result)
  }

  override async handleLLMError(...[error, runId]: Args<'handleLLMError'>) {
    const call = takeEntry(this.#calls, runId)
    if (call === undefined) return this.#errors.report(error, 'model')
    this.#errors.seen(error) // the call's ending reports it: not the chains it bubbles through
    // Thrown from here, the core's typed error replaces the provider client's own (ChatOpenAI
    // throws "Request was aborted." once the revocation aborted it).
    const shown = await call.fail(error)
    if (shown !== error) throw shown
  }

  override async handleToolStart(
    ...[tool, input, runId, parentRunId, , metadata, runName]: Args<'handleToolStart'>
  ) {
    // The name arrives as runName (the serialized tool is often a stub without it).
    const name = runName ?? tool.name ?? tool.id.at(-1) ?? 'unknown-tool'
    const scope = this.#scopeOf(runId, parentRunId, metadata)
    this.#tools.set(runId, await this.guard.beforeToolCall({ name, args: input, ...scope }))
  }

  override async handleToolEnd(...[, runId]: Args<'handleToolEnd'>) {
    const ticket = takeEntry(this.#tools, runId)
    if (ticket !== undefined) await this.guard.afterToolCall(ticket, { ok: true })
  }

  override async handleToolError(...[error, runId]: Args<'handleToolError'>) {
    const ticket = takeEntry(this.#tools, runId)
    if (ticket === undefined) return this.#errors.report(error, 'tool')
    this.#errors.seen(error) // the tool's ending reports it: not the chains it bubbles through
    await this.guard.afterToolCall(ticket, { ok: false, error })
  }

  override async handleChainError(...[error, runId]: Args<'handleChainError'>) {
    this.#roots.delete(runId)
    await this.#errors.report(error, 'chain')
  }

  /**
   * Starts a model run's call (kept by run id): its identity, its input with the API fields
   * the model sends (`invocation_params`, kwargs spread in), its budget scope and any option
   * billed apart among those fields, read from the start event's arguments.
   */
  async #startModelCall(
    input: object,
    [, , runId, parentRunId, extra, , metadata]: Args<'handleLLMStart' | 'handleChatModelStart'>,
  ) {
    const params = extra?.invocation_params as Record<string, unknown> | undefined
    const call = await startLangChainCall(this.guard, {
      // LangChain puts the model's getLsParams() (ls_model_name...) in the run's metadata.
      identity: identityFromLsParams(metadata, this.#setup.naming),
      // What the request really asks for: its kwargs' limits too, for each of its n choices.
      params,
      // A callback cannot change the request: a provider client's call that does not stream
      // (so cannot be cut at the hold) is held to all it asks for, never clamped. A model
      // that reports no request (no `model` in its params: a fake, a custom model) is counted
      // and stopped as it streams.
      fixedOutput: typeof params?.model === 'string' && params.stream !== true,
      input: { ...input, request: sentFields(params, extra?.options) },
      optionsByPath: { '': params },
      scope: this.#scopeOf(runId, parentRunId, metadata),
    })
    this.#calls.set(runId, call)
    this.#endWhenStopped(runId, call)
  }

  /**
   * Ends the call as soon as the kill switch stops it (revoked, the hold reached), without
   * waiting for LangChain: a run given the kill switch's signal, as documented, rejects the
   * moment the agent is revoked and leaves the model's stream unread, and then no
   * handleLLMEnd nor handleLLMError ever comes (red team rt32: spent $0, the hold renewed
   * forever). The call stays in #calls: LangChain's own ending, if it comes, takes it and
   * gets the same ending (the core ends a call once) and its error. Only a weak reference
   * to the handler: the signal lives while the call is open, and must not keep a call that
   * was dropped unended (its hold then lapses, charged).
   */
  #endWhenStopped(runId: string, call: ModelCall) {
    const handler = new WeakRef(this)
    const { signal } = call
    const end = () => {
      const self = handler.deref()
      const open = self === undefined ? undefined : self.#calls.get(runId)
      // Not if LangChain ended it first (its fail aborts the signal too).
      if (open?.signal === signal) open.fail(signal.reason).catch(() => undefined)
    }
    if (signal.aborted) end()
    else signal.addEventListener('abort', end, { once: true })
  }

  /** The run's `metadata.killswitch` over the options' scope; by default, the outermost run. */
  #scopeOf(runId: string, parentRunId: string | undefined, metadata: Metadata) {
    const scope = { runId: this.#rootOf(runId, parentRunId), ...this.#setup.scope }
    return budgetScope(scope, 'metadata', { metadata })
  }

  #rootOf(runId: string, parentRunId: string | undefined): string {
    return parentRunId === undefined ? runId : (this.#roots.get(parentRunId) ?? parentRunId)
  }
}
