// @killswitch/langchain: the kill switch for LangChain.js. Exports are listed by name, in groups.

// Options of both entry points: the core's adapter options, checked by its `adapterSetup`
export type { AdapterOptions as KillSwitchOptions, GuardSource } from '@killswitch/core'
// A chat model that guards its own calls (a side model, direct invoke and stream)
export { guardModel } from './guard-model.js'
// Callback handler: models, chains, the classic AgentExecutor
export { KillSwitchCallbackHandler } from './kill-switch-callback-handler.js'
// createAgent (LangChain v1) middleware
export { type KillSwitchMiddleware, killSwitchMiddleware } from './kill-switch-middleware.js'
// A message's `usage_metadata` as the core's TokenUsage
export { toTokenUsage } from './model-io.js'
