// A LangChain chat model retries inside one call: its AsyncCaller (`model.caller`, with
// `maxRetries`, 6 by default) sends the request again after an error or a client timeout,
// where no middleware or callback sees the attempts. Under one hold that is up to 7 provider
// attempts paid for once (red team rt28: $13.39 billed on a $9 cap, $8.996 recorded). So
// guardModel and the middleware refuse such a model before anything is held or sent.
import { InvalidConfigError } from '@killswitch/core'
import { RunnableBinding } from '@langchain/core/runnables'

type Fields = Record<string, unknown>

const FIX =
  "Fix: give the model maxRetries: 0 and retry with createAgent's modelRetryMiddleware (put killSwitchMiddleware after it) or your own loop: each attempt is then a guarded call of its own."

/**
 * Throws InvalidConfigError (field `maxRetries`) when a call of `model` (a chat model or a
 * binding around one) could be retried inside it: by the model's own caller, or by a
 * `maxRetries` in its call options (a binding's, ChatOpenAI's `withConfig` defaults,
 * `callOptions` given here such as createAgent's `modelSettings`).
 */
export function refuseClientRetries(model: unknown, callOptions?: unknown): void {
  const binding = RunnableBinding.isRunnableBinding(model) ? model : undefined
  const chat = (binding?.bound ?? model) as Fields | null | undefined
  // ChatOpenAI sends through its `completions` and `responses` models, each with its own
  // caller; a call option overrides the caller's count (ChatOpenAI's request `options` too).
  const counts = [chat, chat?.completions, chat?.responses].map(callerRetries)
  for (const options of [chat?.defaultOptions, binding?.kwargs, callOptions] as Fields[]) {
    counts.push(options?.maxRetries, (options?.options as Fields | undefined)?.maxRetries)
  }
  const retries = counts.find((count) => count !== undefined && count !== 0)
  if (retries === undefined) return
  const shown =
    typeof retries === 'number' ? `maxRetries: ${retries}` : 'a retry count it does not show'
  throw new InvalidConfigError(
    'maxRetries',
    `The model retries inside one guarded call (${shown}; LangChain's default is 6): one hold would pay for every attempt sent to the provider. ${FIX}`,
  )
}

/**
 * The retries of a model's own caller: 0 with no caller at all (nothing retries), and
 * NO_COUNT when its caller does not show a count (refused: it may retry).
 */
function callerRetries(sender: unknown): unknown {
  const caller = (sender as { caller?: unknown } | null | undefined)?.caller
  if (caller === undefined || caller === null) return 0
  const retries = (caller as { maxRetries?: unknown }).maxRetries
  return typeof retries === 'number' ? retries : NO_COUNT
}

const NO_COUNT = Symbol('no retry count')
