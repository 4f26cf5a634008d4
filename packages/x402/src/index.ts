// @killswitch/x402: x402 payments on the kill switch ledger. Exports are listed by name.

// The guarded fetch and its payment rules
export {
  type KillSwitchFetchOptions,
  killSwitchFetch,
  type PaymentRules,
} from './kill-switch-fetch.js'
// Pricing and charging
export { type PaymentAmount, type PaymentAsset, paymentAmount } from './payment-amount.js'
export type { SettlementClaim, SettlementVerifier } from './payment-charge.js'
// Errors
export {
  PaymentOutcomeUnknownError,
  PaymentRefusedError,
  type PaymentRule,
} from './payment-errors.js'
