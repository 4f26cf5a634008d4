// The options both entry points take: the core's adapter options, checked by `adapterSetup`.
import type { AdapterOptions } from '@killswitch/core'

export type { GuardSource } from '@killswitch/core'

/**
 * Where the guard comes from (`{ killSwitch, credential }` or a ready `{ guard }`), how to
 * name the model (`model`, `provider`), the calls' budget scope and paid tools' prices. A
 * call adds its own scope: `configurable.killswitch` (middleware) or `metadata.killswitch`
 * (callback handler). Without a `runId`, the callback handler groups a run's calls under
 * the outermost LangChain run.
 *
 * @example
 * const options: KillSwitchOptions = { killSwitch: ks, credential, toolPrices: { web_search: 0.01 } }
 */
export interface KillSwitchOptions extends AdapterOptions {}
