// @killswitch/core: the kill switch policy engine. Exports are listed by name, in groups.

// Errors
export {
  AgentExistsError,
  AgentNotFoundError,
  AgentRevokedError,
  findKillSwitchError,
  InvalidConfigError,
  KillSwitchError,
  type KillSwitchErrorCode,
  RunawayDetectedError,
  SpendingCapExceededError,
  StoreUnavailableError,
  UnknownModelPriceError,
} from './errors.js'
// Money
export { MAX_CAP_USD, MICROS_PER_USD, mulDivCeil, toMicros, toUsd } from './money.js'
