// @killswitch/cli: the `killswitch` command and the admin HTTP API, usable as a library.

// The admin HTTP API
export { type AdminApiOptions, createAdminApi } from './admin-api.js'
export type { AdminKillSwitch } from './admin-kill-switch.js'
export {
  type AdminServer,
  type AdminServerOptions,
  isLoopbackHost,
  startAdminServer,
} from './admin-server.js'
// The CLI
export type { CliIo, OpenedKillSwitch } from './cli-context.js'
export { CliError, EXIT_CODES, exitCodeFor } from './exit-codes.js'
export { runCli } from './run-cli.js'
// Stores
export {
  DEFAULT_SQLITE_PATH,
  describeStoreSpec,
  openStore,
  parseStoreSpec,
  type StoreSpec,
} from './store-spec.js'
