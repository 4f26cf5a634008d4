// @killswitch/x402: x402 payments on the kill switch ledger. Exports are listed by name.

// The guarded fetch
export { type KillSwitchFetchOptions, killSwitchFetch } from './kill-switch-fetch.js'
// Payment rules, pricing and charging
export { type PaymentAmount, type PaymentAsset, paymentAmount } from './payment-amount.js'
export type { SettlementClaim, SettlementVerifier } from './payment-charge.js'
// Errors
export { PaymentOutcomeUnknownError } from './payment-outcome-unknown-error.js'
export { PaymentRefusedError, type PaymentRule } from './payment-refused-error.js'
export type { PaymentRules } from './payment-rules.js'
