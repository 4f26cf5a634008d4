// What an x402 payment costs. x402 prices in atomic units of a token (USDC has 6 decimals:
// "10000" is $0.01); the ledger counts micro-dollars, rounded up: never less than is paid.
import { samePayee, toUsd } from '@killswitch/core'
import type { PaymentRequirements } from '@x402/core/types'
import { findDefaultAsset } from '@x402/evm'
import { shownText, shownValue } from './bounded-text.js'
import { PaymentRefusedError } from './payment-errors.js'
import { signedTerms } from './signed-payload.js'

/**
 * A USD-pegged token to pay with beyond x402's defaults: its CAIP-2 `network` (`eip155:8453`),
 * its address (EVM: any case) and `decimals` (USDC: 6). One whole token counts as one dollar.
 */
export type PaymentAsset = { network: string; asset: string; decimals: number }

/** A payment's amount in atomic units (`upto`: its maximum), micro-dollars and dollars. */
export type PaymentAmount = { atomic: bigint; decimals: number; micros: number; usd: number }

/**
 * The schemes whose signature authorises the requirements' amount: `exact` that amount,
 * `upto` at most it. Another scheme may sign something else (a deposit of several payments,
 * say), which the requirements' amount would understate: it is refused, never guessed.
 */
const PRICED_SCHEMES: ReadonlySet<string> = new Set(['exact', 'upto'])

/**
 * Prices requirements: the amount x402's client signs for the protocol version (v1:
 * `maxAmountRequired`; later: `amount`), in one of x402's default USD assets or one listed in
 * `assets`; undefined when it cannot be priced (refused, never free: `unpricedPayment`).
 *
 * @example
 * paymentAmount({ ...requirements, asset: USDC, amount: '10000' }, [], 2) // { usd: 0.01, ... }
 */
export function paymentAmount(
  requirements: PaymentRequirements,
  assets: readonly PaymentAsset[],
  x402Version: number,
): PaymentAmount | undefined {
  const decimals = assetDecimals(requirements, assets)
  const atomic = parseAtomic(signedField(requirements, x402Version))
  if (!PRICED_SCHEMES.has(requirements.scheme) || decimals === undefined || atomic === undefined)
    return undefined
  const micros = atomicToMicros(atomic, decimals)
  return { atomic, decimals, micros, usd: toUsd(micros) }
}

/**
 * The field x402's client signs, as x402Client reads it: a payee may name both fields, and
 * a decoy `amount` beside a v1 `maxAmountRequired` must not price what is signed.
 */
function signedField(requirements: PaymentRequirements, x402Version: number): unknown {
  const v1 = requirements as { maxAmountRequired?: unknown }
  return x402Version === 1 ? v1.maxAmountRequired : requirements.amount
}

function assetDecimals(
  { asset, network }: PaymentRequirements,
  assets: readonly PaymentAsset[],
): number | undefined {
  return (
    assets.find((entry) => entry.network === network && samePayee(entry.asset, asset))?.decimals ??
    findDefaultAsset(asset, network as `${string}:${string}`)?.decimals
  )
}

/** Why requirements `paymentAmount` cannot price are refused, with the fix. */
export function unpricedPayment(
  requirements: PaymentRequirements,
  assets: readonly PaymentAsset[],
  x402Version: number,
): PaymentRefusedError {
  const { scheme, payTo, asset, network } = requirements
  // The payee's own strings, bounded for the message (and the audit log's denied entry).
  const [payee, shownAsset, shownNetwork] = [payTo, asset, network].map(shownText)
  if (!PRICED_SCHEMES.has(scheme)) {
    const why = `Payment to ${payee} refused: its scheme ${shownValue(scheme)} may sign more than the price it names, so it cannot be held against the cap. The kill switch pays the "exact" and "upto" schemes; ask the payee for one of them.`
    return new PaymentRefusedError('unknown_scheme', why, payee)
  }
  if (assetDecimals(requirements, assets) === undefined) {
    const why = `Payment to ${payee} refused: asset ${shownAsset} on ${shownNetwork} is not a known USD stablecoin, so it cannot be priced against the cap. If it is one, list it: killSwitchFetch({ assets: [{ network: '${shownNetwork}', asset: '${shownAsset}', decimals: 6 }] }).`
    return new PaymentRefusedError('unknown_asset', why, payee)
  }
  const field = x402Version === 1 ? 'maxAmountRequired' : 'amount'
  const why = `Payment to ${payee} refused: its requirements' ${field} (${shownValue(signedField(requirements, x402Version))}) is not an amount in atomic units (a string of digits), so it cannot be priced against the cap.`
  return new PaymentRefusedError('bad_amount', why, payee)
}

/**
 * The most a signed payment header authorises where its payload says so in a field x402's
 * EVM schemes sign (EIP-3009 `authorization.value`, Permit2 `permitted.amount`); undefined
 * for a payload without such an authorisation (another chain's); null for one whose amount
 * cannot be read (not sent: what the payee could collect is unknown).
 */
export function signedAtomic(header: string): bigint | null | undefined {
  const signed = signedTerms(header)
  return signed === undefined ? undefined : (parseAtomic(signed.amount) ?? null)
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
