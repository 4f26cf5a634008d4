// @killswitch/x402: x402 payments on the kill switch ledger. Exports are listed by name.

export type { PaymentAmount, PaymentRule } from '@killswitch/core'
// The core's payment errors, which this fetch throws.
export { PaymentOutcomeUnknownError, PaymentRefusedError } from '@killswitch/core'
export type { PaymentRules } from './kill-switch-fetch.js'
export { type KillSwitchFetchOptions, killSwitchFetch } from './kill-switch-fetch.js'
export { type PaymentAsset, paymentAmount } from './payment-amount.js'
export type { SettlementClaim, SettlementVerifier } from './payment-charge.js'
