// What an x402 payment costs. x402 prices in atomic units of a token (USDC has 6 decimals:
// "10000" is $0.01); the ledger counts micro-dollars, rounded up: never less than is paid.
import { samePayee, toUsd } from '@killswitch/core'
import type { PaymentRequirements } from '@x402/core/types'
import { findDefaultAsset } from '@x402/evm'

/**
 * A USD-pegged token to pay with beyond x402's defaults: its CAIP-2 `network` (`eip155:8453`),
 * its address (EVM: any case) and `decimals` (USDC: 6). One whole token counts as one dollar.
 */
export type PaymentAsset = { network: string; asset: string; decimals: number }

/** A payment's amount in atomic units (`upto`: its maximum), micro-dollars and dollars. */
export type PaymentAmount = { atomic: bigint; decimals: number; micros: number; usd: number }

/**
 * Prices requirements: `amount` (v1: `maxAmountRequired`) in one of x402's default USD
 * assets or one listed in `assets`; undefined for an unknown token (refused, never free).
 *
 * @example
 * paymentAmount({ ...requirements, asset: USDC, amount: '10000' }) // { usd: 0.01, ... }
 */
export function paymentAmount(
  requirements: PaymentRequirements,
  assets: readonly PaymentAsset[] = [],
): PaymentAmount | undefined {
  const { asset, network, amount } = requirements
  const v1 = requirements as { maxAmountRequired?: string }
  const decimals =
    assets.find((entry) => entry.network === network && samePayee(entry.asset, asset))?.decimals ??
    findDefaultAsset(asset, network as `${string}:${string}`)?.decimals
  const atomic = parseAtomic(amount ?? v1.maxAmountRequired)
  if (decimals === undefined || atomic === undefined) return undefined
  const micros = atomicToMicros(atomic, decimals)
  return { atomic, decimals, micros, usd: toUsd(micros) }
}

/** Atomic units in micro-dollars, rounded up; past 2^53 infinite, which every cap refuses. */
export function atomicToMicros(atomic: bigint, decimals: number): number {
  const scale = 10n ** BigInt(decimals)
  const micros = (atomic * 1_000_000n + scale - 1n) / scale
  return micros > BigInt(Number.MAX_SAFE_INTEGER) ? Number.POSITIVE_INFINITY : Number(micros)
}

/** An atomic amount as x402 writes it (a string of digits), else undefined. */
export function parseAtomic(value: unknown): bigint | undefined {
  return typeof value === 'string' && /^\d+$/.test(value) ? BigInt(value) : undefined
}
