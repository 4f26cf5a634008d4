// @killswitch/x402: x402 payments on the kill switch ledger. Exports are listed by name.
export {
  type KillSwitchFetchOptions,
  killSwitchFetch,
  type PaymentRules,
} from './kill-switch-fetch.js'
export { type PaymentAmount, type PaymentAsset, paymentAmount } from './payment-amount.js'
export type { SettlementClaim, SettlementVerifier } from './payment-charge.js'
export {
  PaymentOutcomeUnknownError,
  PaymentRefusedError,
  type PaymentRule,
} from './payment-errors.js'
