// @killswitch/vercel-ai: the kill switch for the Vercel AI SDK (ai 7, LanguageModelV4).

export {
  BUDGET_SCOPE_KEY as SCOPE_KEY,
  type BudgetScope,
  mergeBudgetScope as scopeOf,
  type OutputLimit,
  outputLimit,
  StreamAbandonedError,
  withProviderUsage,
} from '@killswitch/core'
export {
  killSwitchEmbeddingMiddleware,
  type WrappableEmbeddingModel,
} from './embedding-middleware.js'
export { type GuardToolsOptions, guardTools } from './guard-tools.js'
export {
  type KillSwitchMiddlewareOptions,
  killSwitchMiddleware,
  type WrappableModel,
  withKillSwitch,
} from './kill-switch-middleware.js'
export { type LanguageModelCall, startLanguageModelCall } from './language-model-call.js'
export { type ModelIdentity, modelIdentity } from './model-identity.js'
export { streamPartReader } from './stream-guard.js'
export { toTokenUsage } from './usage.js'
