// The options both entry points take: the core's adapter options, checked by `adapterSetup`.
import type { AdapterOptions } from '@killswitch/core'
import type { BaseCallbackHandler } from '@langchain/core/callbacks/base'

export type { GuardSource } from '@killswitch/core'

/**
 * Where the guard comes from (`{ killSwitch, credential }` or a ready `{ guard }`), how to
 * name the model, the calls' budget scope and paid tools' prices. A call adds its own scope:
 * `configurable.killswitch` (middleware) or `metadata.killswitch` (callback handler).
 *
 * @example
 * const options: KillSwitchOptions = { killSwitch: ks, credential, toolPrices: { web_search: 0.01 } }
 */
export interface KillSwitchOptions extends AdapterOptions {}

type Handler = Required<Pick<BaseCallbackHandler, `handle${string}` & keyof BaseCallbackHandler>>
/** The arguments LangChain passes to a callback handler's method `K`. */
export type Args<K extends keyof Handler> = Parameters<Handler[K]>
