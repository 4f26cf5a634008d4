// The payment-specific checks of `killSwitchFetch`: declarative, and checked before the
// ledger is asked for anything. Budget and revocation are the core's, not these.
import type { PaymentRequirements } from '@x402/core/types'
import { type PaymentAmount, sameAddress } from './payment-amount.js'
import { PaymentRefusedError } from './payment-refused-error.js'

/**
 * Rules a payment must pass before it is reserved against the cap. All optional.
 *
 * @example
 * const rules: PaymentRules = { allowedPayees: ['0x209693Bc6afc0C5328bA36FaF03C514EF312287C'], maxPaymentUsd: 0.5 }
 */
export interface PaymentRules {
  /** Only these payees (`payTo`) may be paid. Omit to allow any payee. */
  allowedPayees?: readonly string[]
  /** The most one payment may cost, in dollars (an `upto` payment: its maximum). */
  maxPaymentUsd?: number
}

/**
 * Returns the refusal for a payment that breaks a rule (or cannot be priced), or
 * undefined when it may go on to the ledger.
 *
 * @example
 * const refusal = checkPaymentRules(requirements, amount, { allowedPayees: [searchApi] })
 * if (refusal) throw refusal
 */
export function checkPaymentRules(
  requirements: PaymentRequirements,
  amount: PaymentAmount | undefined,
  rules: PaymentRules,
): PaymentRefusedError | undefined {
  const payee = requirements.payTo
  if (!amount) {
    return new PaymentRefusedError({
      rule: 'unknown_asset',
      payee,
      message:
        `Payment to ${payee} refused: asset ${requirements.asset} on ${requirements.network} is not a ` +
        'known USD stablecoin, so it cannot be priced against the cap. If it is one, list it: ' +
        `killSwitchFetch({ assets: [{ network: '${requirements.network}', asset: '${requirements.asset}', decimals: 6 }] }).`,
    })
  }
  if (rules.allowedPayees && !rules.allowedPayees.some((allowed) => sameAddress(allowed, payee))) {
    return new PaymentRefusedError({
      rule: 'payee_not_allowed',
      payee,
      amountUsd: amount.usd,
      message: `Payment of $${amount.usd} to ${payee} refused: the payee is not in allowedPayees. Add it there to allow it.`,
    })
  }
  if (rules.maxPaymentUsd !== undefined && amount.micros > Math.round(rules.maxPaymentUsd * 1e6)) {
    return new PaymentRefusedError({
      rule: 'max_payment_exceeded',
      payee,
      amountUsd: amount.usd,
      message: `Payment of $${amount.usd} to ${payee} refused: it exceeds maxPaymentUsd ($${rules.maxPaymentUsd}). Raise maxPaymentUsd to allow it.`,
    })
  }
  return undefined
}
