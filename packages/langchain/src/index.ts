// @killswitch/langchain: the kill switch for LangChain.js. Exports are listed by name, in groups.

// Options and building blocks
/** The options of both entry points: the core's adapter options (`adapterSetup` checks them). */
export type { AdapterOptions as KillSwitchOptions, GuardSource } from '@killswitch/core'
// Callback handler: models, chains, the classic AgentExecutor
export { KillSwitchCallbackHandler } from './kill-switch-callback-handler.js'
// createAgent (LangChain v1) middleware
export { type KillSwitchMiddleware, killSwitchMiddleware } from './kill-switch-middleware.js'
export { toTokenUsage } from './model-io.js'
