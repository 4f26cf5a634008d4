// @killswitch/langchain: the kill switch for LangChain.js. Exports are listed by name, in groups.

// Callback handler: models, chains, the classic AgentExecutor
export { KillSwitchCallbackHandler } from './kill-switch-callback-handler.js'
// createAgent (LangChain v1) middleware
export { type KillSwitchMiddleware, killSwitchMiddleware } from './kill-switch-middleware.js'
// Options and building blocks
export type { GuardSource, KillSwitchOptions } from './kill-switch-options.js'
export { withMaxOutputTokens } from './model-binding.js'
export {
  identityFromLsParams,
  type ModelIdentity,
  type ModelNaming,
  modelIdentity,
} from './model-identity.js'
export { toTokenUsage } from './model-io.js'
