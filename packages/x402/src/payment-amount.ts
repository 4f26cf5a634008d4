// What an x402 payment costs in dollars, from its requirements. x402 prices in atomic units
// of a token (USDC has 6 decimals: "10000" is $0.01); the ledger counts integer
// micro-dollars. The conversion rounds up, so the ledger never holds less than is paid.
import { samePayee } from '@killswitch/core'
import type { PaymentRequirements } from '@x402/core/types'
import { findDefaultAsset } from '@x402/evm'

/** A USD-pegged token the kill switch may pay with, beyond x402's default assets. */
export interface PaymentAsset {
  /** CAIP-2 network, e.g. `eip155:8453`. */
  network: string
  /** The token's address (EVM: compared case-insensitively). */
  asset: string
  /** Its decimals: 6 for USDC. One whole token is counted as one dollar. */
  decimals: number
}

/** A payment's amount: atomic units (`upto`: the maximum), and micro-dollars rounded up. */
export interface PaymentAmount {
  atomic: bigint
  decimals: number
  micros: number
  /** Dollars (`micros / 1e6`), what the ledger is given. */
  usd: number
}

/**
 * Prices a payment's requirements: `amount` (v2) or `maxAmountRequired` (v1) in the asset's
 * atomic units, the asset being one of x402's default USD-pegged assets (`findDefaultAsset`
 * in `@x402/evm`) or one listed in `assets`. Undefined when the asset is unknown: the
 * caller refuses it (an unknown token cannot be priced, so it is never priced at zero).
 *
 * @example
 * paymentAmount({ network: 'eip155:84532', asset: USDC, amount: '10000', ... })
 * // { atomic: 10000n, decimals: 6, micros: 10000, usd: 0.01 }
 */
export function paymentAmount(
  requirements: PaymentRequirements,
  assets: readonly PaymentAsset[] = [],
): PaymentAmount | undefined {
  const { asset, network } = requirements
  const decimals =
    assets.find((entry) => entry.network === network && samePayee(entry.asset, asset))?.decimals ??
    findDefaultAsset(asset, network as `${string}:${string}`)?.decimals
  // v1 requirements carry `maxAmountRequired` instead of `amount`.
  const v1 = requirements as { maxAmountRequired?: string }
  const atomic = parseAtomic(requirements.amount ?? v1.maxAmountRequired)
  if (decimals === undefined || atomic === undefined) return undefined
  const micros = atomicToMicros(atomic, decimals)
  return { atomic, decimals, micros, usd: micros / 1_000_000 }
}

/**
 * Converts atomic token units to micro-dollars, rounding up (a token with more than 6
 * decimals can charge a fraction of a micro-dollar: the ledger counts it as a whole one).
 *
 * @example
 * atomicToMicros(10000n, 6) // 10000 ($0.01)
 * atomicToMicros(1n, 18)    // 1 (rounded up)
 */
export function atomicToMicros(atomic: bigint, decimals: number): number {
  const scale = 10n ** BigInt(Math.abs(decimals - 6))
  const micros = decimals >= 6 ? (atomic + scale - 1n) / scale : atomic * scale
  // Beyond 2^53 micro-dollars ($9 billion) the number is no longer exact: report it as
  // infinite, which every cap refuses.
  return micros > BigInt(Number.MAX_SAFE_INTEGER) ? Number.POSITIVE_INFINITY : Number(micros)
}

/** An atomic amount as x402 writes it (a string of digits), or undefined when it is not one. */
export function parseAtomic(value: unknown): bigint | undefined {
  return typeof value === 'string' && /^\d+$/.test(value) ? BigInt(value) : undefined
}
