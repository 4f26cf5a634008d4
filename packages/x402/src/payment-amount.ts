// What an x402 payment costs, by the core's `paymentPrice`: x402 prices in atomic units of a
// token (USDC has 6 decimals: "10000" is $0.01) in the field its client signs, in the asset's
// decimals; the ledger counts micro-dollars, rounded up: never less than is paid.
import { type PaymentAmount, type PaymentPrice, paymentPrice, samePayee } from '@killswitch/core'
import type { PaymentRequirements } from '@x402/core/types'
import { findDefaultAsset } from '@x402/evm'

/**
 * A USD-pegged token to pay with beyond x402's defaults: its CAIP-2 `network` (`eip155:8453`),
 * its address (EVM: any case) and `decimals` (USDC: 6). One whole token counts as one dollar.
 */
export type PaymentAsset = { network: string; asset: string; decimals: number }

/**
 * Prices requirements: the amount x402's client signs for the protocol version (v1:
 * `maxAmountRequired`; later: `amount`), in one of x402's default USD assets or one listed in
 * `assets`; undefined when it cannot be priced (refused, never free: `pricedClaim`).
 *
 * @example
 * paymentAmount({ ...requirements, asset: USDC, amount: '10000' }, [], 2) // { usd: 0.01, ... }
 */
export function paymentAmount(
  requirements: PaymentRequirements,
  assets: readonly PaymentAsset[],
  x402Version: number,
): PaymentAmount | undefined {
  return requirementsPrice(requirements, assets, x402Version).amount
}

/** The core's `paymentPrice` of requirements, or the rule they break (`pricedClaim`'s message). */
export function requirementsPrice(
  requirements: PaymentRequirements,
  assets: readonly PaymentAsset[],
  x402Version: number,
): PaymentPrice {
  const decimals = assetDecimals(requirements, assets)
  return paymentPrice(requirements.scheme, signedField(requirements, x402Version), decimals)
}

/**
 * The field x402's client signs, as x402Client reads it: a payee may name both fields, and
 * a decoy `amount` beside a v1 `maxAmountRequired` must not price what is signed.
 */
export function signedField(requirements: PaymentRequirements, x402Version: number): unknown {
  const v1 = requirements as { maxAmountRequired?: unknown }
  return x402Version === 1 ? v1.maxAmountRequired : requirements.amount
}

function assetDecimals({ asset, network }: PaymentRequirements, assets: readonly PaymentAsset[]) {
  const listed = assets.find((entry) => entry.network === network && samePayee(entry.asset, asset))
  return listed?.decimals ?? findDefaultAsset(asset, network as `${string}:${string}`)?.decimals
}
