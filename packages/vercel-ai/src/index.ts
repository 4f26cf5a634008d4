// @killswitch/vercel-ai: the kill switch for the Vercel AI SDK (ai 7, LanguageModelV4).
// Exports are listed by name, in groups.

export { StreamAbandonedError } from '@killswitch/core'
// Building blocks (for adapters built on this one, e.g. @killswitch/mastra)
export { type BudgetScope, SCOPE_KEY, scopeOf } from './budget-scope.js'
export { type GuardSource, type KillSwitchLike, resolveGuard } from './guard-options.js'
// Tools
export { type GuardToolsOptions, guardTools } from './guard-tools.js'
// Middleware
export {
  type KillSwitchMiddlewareOptions,
  killSwitchMiddleware,
} from './kill-switch-middleware.js'
export { type ModelIdentity, modelIdentity } from './model-identity.js'
export { parseToolInput, streamPartReader } from './stream-guard.js'
export { toTokenUsage } from './usage.js'
export { type WrappableModel, withKillSwitch } from './with-kill-switch.js'
