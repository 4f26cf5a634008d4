// @killswitch/mastra: the kill switch for Mastra agents and Mastra's HTTP server.
export * from './kill-switch-log-filter.js'
export * from './kill-switch-model.js'
export * from './kill-switch-processor.js'
export * from './kill-switch-tool-hooks.js'
export * from './mastra-usage.js'
export * from './server-middleware.js'
export * from './tripwire.js'
