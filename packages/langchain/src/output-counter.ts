// Streamed output, counted as LangChain reports it (`handleLLMNewToken`): the callback
// handler counts every stream this way, and the middleware counts the streams of a model it
// cannot clamp (no `maxTokens` setting), so that nothing streams past what the hold pays for.
import type { ModelCall } from '@killswitch/core'
import {
  BaseCallbackHandler,
  type HandleLLMNewTokenCallbackFields,
} from '@langchain/core/callbacks/base'

type Handler = Required<Pick<BaseCallbackHandler, `handle${string}` & keyof BaseCallbackHandler>>
/** The arguments LangChain passes to a handler's method `K`. */
export type Args<K extends keyof Handler> = Parameters<Handler[K]>

/** The billed text of one streamed chunk: its token, and streamed tool-call arguments. */
export function deltaText(token: string, fields: HandleLLMNewTokenCallbackFields | undefined) {
  const chunk = fields?.chunk
  const message = chunk !== undefined && 'message' in chunk ? chunk.message : undefined
  // Streamed tool calls arrive as argument fragments with an empty token.
  const calls = (message as { tool_call_chunks?: Array<{ args?: string }> } | undefined)
    ?.tool_call_chunks
  return Array.isArray(calls) ? token + calls.map((call) => call.args ?? '').join('') : token
}

/** The model bound to count its streamed output into `call` (which throws past the hold). */
export function withOutputCounter<T>(model: T, call: ModelCall): T {
  const runnable = model as { withConfig?: (config: { callbacks: unknown[] }) => unknown }
  if (typeof runnable?.withConfig !== 'function') return model
  return runnable.withConfig({ callbacks: [new KillSwitchOutputCounter(call)] }) as T
}

class KillSwitchOutputCounter extends BaseCallbackHandler {
  name = 'KillSwitchOutputCounter'
  readonly #call: ModelCall
  constructor(call: ModelCall) {
    // raiseError: the typed error thrown past the hold must end the stream.
    super({ raiseError: true })
    this.#call = call
  }
  override async handleLLMNewToken(...[token, , , , , fields]: Args<'handleLLMNewToken'>) {
    this.#call.output({ text: deltaText(token, fields) })
  }
}
