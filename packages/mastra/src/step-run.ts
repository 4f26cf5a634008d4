// What the processor keeps for one request (in Mastra's per-request processor state): the
// step's model call, and the step's model and tools as Mastra will call them. Mastra calls
// the step's model itself (retrying a failed call, by default not), so the model it gets
// sends each call through the guard's call: the clamped limit, the stop signal, and a new
// call for each retry. Mastra runs a step's tools even after processOutputStep aborts the
// run, so each tool runs through guard.runToolCall (a paid tool's price held, settled,
// released on a throw) behind the run's refusal.
import { randomUUID } from 'node:crypto'
import {
  type AgentGuard,
  type BudgetScope,
  findKillSwitchError,
  type ModelCall,
  type ModelCallStart,
} from '@killswitch/core'
import { notRetried } from './tripwire.js'

type Method = (options: { abortSignal?: AbortSignal }) => PromiseLike<unknown>
const UNSETTLED = 'the step ended without reporting usage (error or abort)'

export class StepRun {
  /** The default `runId`: one per request. */
  readonly runId = randomUUID()
  scope: BudgetScope | undefined
  call: ModelCall | undefined
  /** Tool calls whose arguments were counted from their deltas already. */
  readonly streamedArgs = new Set<string>()
  /** Set once the kill switch refused the run: nothing more of it runs. */
  refusal: unknown
  #request: ModelCallStart | undefined
  #sent = false

  readonly guard: AgentGuard

  constructor(guard: AgentGuard) {
    this.guard = guard
  }

  /** Starts the step's call; returns the limit to tell Mastra. */
  async start(request: ModelCallStart): Promise<{ maxOutputTokens: number }> {
    this.#request = request
    this.#sent = false
    this.call = await this.guard.startModelCall(request)
    return { maxOutputTokens: this.call.maxOutputTokens }
  }

  /** Ends the open call, if any; returns the error the caller must see. */
  async fail(error: unknown): Promise<unknown> {
    const call = this.call
    this.call = undefined
    return call === undefined ? error : call.fail(error)
  }

  /** Never throws: an unreachable ledger lapses the hold (charged); the run must still end. */
  endOpen(): Promise<unknown> {
    return this.fail(new Error(UNSETTLED)).catch(() => undefined)
  }

  /** The step's model and tools, through the guard (a router id string is left to Mastra). */
  step({ model, tools }: { model: unknown; tools?: Record<string, unknown> }) {
    const { doGenerate, doStream } = (model ?? {}) as { doGenerate?: Method; doStream?: Method }
    const callable = typeof doGenerate === 'function' && typeof doStream === 'function'
    return {
      // Everything else is read through the prototype: the model itself, untouched.
      ...(callable && {
        model: Object.create(model as object, {
          doGenerate: { value: this.#send(model, doGenerate) },
          doStream: { value: this.#send(model, doStream) },
        }),
      }),
      ...(tools && { tools: this.#tools(tools) }),
    }
  }

  #send(model: unknown, method: Method) {
    return async (options: { abortSignal?: AbortSignal }) => {
      if ((this.call === undefined || this.#sent) && this.#request) {
        this.call = await this.guard.startModelCall(this.#request).catch((error) => {
          throw notRetried(error)
        })
      }
      const call = this.call as ModelCall
      this.#sent = true
      try {
        return await call.send(({ maxOutputTokens, signal }) => {
          const { abortSignal } = options
          const stop = abortSignal ? AbortSignal.any([abortSignal, signal]) : signal
          return method.call(model, { ...options, maxOutputTokens, abortSignal: stop })
        })
      } catch (error) {
        if (this.call === call) this.call = undefined
        throw notRetried(await call.fail(error))
      }
    }
  }

  /** Tools without `execute` (client or provider-executed) pass unchanged. */
  #tools(tools: Record<string, unknown>): Record<string, unknown> {
    const wrapped: Record<string, unknown> = {}
    for (const [name, tool] of Object.entries(tools)) {
      const execute = (tool as { execute?: unknown } | null)?.execute
      if (typeof execute !== 'function') {
        wrapped[name] = tool
        continue
      }
      const run = this
      wrapped[name] = {
        ...(tool as object),
        execute(this: unknown, ...args: unknown[]) {
          return run.#tool(name, args[0], () => execute.apply(this, args))
        },
      }
    }
    return wrapped
  }

  async #tool(name: string, input: unknown, execute: () => unknown): Promise<unknown> {
    if (this.refusal !== undefined) throw this.refusal
    try {
      return await this.guard.runToolCall(
        { name, args: input, observe: false, ...this.scope },
        execute,
      )
    } catch (error) {
      if (findKillSwitchError(error)) this.refusal ??= error
      throw error
    }
  }
}
