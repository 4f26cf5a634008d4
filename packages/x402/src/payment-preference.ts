// Which of a 402's options to pay. x402 pays the first option its client supports; a payee
// may list one the kill switch refuses (over `maxPaymentUsd`, another payee, an asset it
// cannot price) before one it would pay. Those are set aside before x402 picks, so the option
// that fits is paid. A preference only: the veto still checks the option x402 picks.
import { checkSpendRules, type SpendRules } from '@killswitch/core'
import type { PaymentRequirements } from '@x402/core/types'
import { pricedClaim } from './payee-claims.js'
import type { FetchSettings } from './payment-call.js'

/**
 * The options of `accepts` the veto would not refuse by what is known before x402 picks
 * (the payee's claims, the price, this fetch's own rules, the agent's own spend rules read
 * just before); all of them when none fits, so that the one x402 picks is refused with its
 * reason, and audited. The cap is not judged here: it is the store's, at the hold.
 */
export function preferPayable(
  accepts: PaymentRequirements[],
  x402Version: number,
  { assets = [], rules }: Pick<FetchSettings, 'assets' | 'rules'>,
  agentRules: SpendRules | undefined,
): PaymentRequirements[] {
  const fitting = accepts.filter((requirements) => {
    try {
      const { amount, refusal } = pricedClaim(requirements, assets, x402Version)
      if (refusal) return false
      const spend = { amountMicros: amount.micros, payee: requirements.payTo, description: '' }
      const agent = checkSpendRules(spend, agentRules, 'agent')
      return agent === undefined && checkSpendRules(spend, rules, 'call') === undefined
    } catch {
      // Whatever a payee wrote: it is not preferred, and the veto judges it if picked.
      return false
    }
  })
  return fitting.length > 0 ? fitting : accepts
}
