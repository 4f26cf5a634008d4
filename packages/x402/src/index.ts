// @killswitch/x402: x402 payments on the kill switch ledger. Exports are listed by name.

export type { PaymentRules } from './kill-switch-fetch.js'
export { type KillSwitchFetchOptions, killSwitchFetch } from './kill-switch-fetch.js'
export { type PaymentAmount, type PaymentAsset, paymentAmount } from './payment-amount.js'
export type { SettlementClaim, SettlementVerifier } from './payment-charge.js'
export type { PaymentRule } from './payment-errors.js'
export { PaymentOutcomeUnknownError, PaymentRefusedError } from './payment-errors.js'
