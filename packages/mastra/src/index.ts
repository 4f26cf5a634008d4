// @killswitch/mastra: the kill switch for Mastra agents and Mastra's HTTP server.
export { type KillSwitchLogFilterOptions, killSwitchLogFilter } from './kill-switch-log-filter.js'
// Model wrapper (recommended: the caller gets the typed errors)
export { type KillSwitchModelOptions, killSwitchModel } from './kill-switch-model.js'
// Processor (for agents that register processors rather than wrap models)
export {
  type KillSwitchProcessor,
  type KillSwitchProcessorOptions,
  killSwitchProcessor,
} from './kill-switch-processor.js'
export {
  type KillSwitchToolHooksOptions,
  killSwitchToolHooks,
  type RefusedToolOutput,
} from './kill-switch-tool-hooks.js'
export { toTokenUsage } from './mastra-usage.js'
// Server middleware (Mastra's Hono server)
export {
  AGENT_HANDLE_KEY,
  CREDENTIAL_HEADER,
  type CredentialVerifier,
  credentialFromHeaders,
  type KillSwitchServerMiddlewareOptions,
  killSwitchServerMiddleware,
} from './server-middleware.js'
export {
  KILL_SWITCH_PROCESSOR_ID,
  type KillSwitchTripwireMetadata,
  killSwitchTripwire,
} from './tripwire.js'
