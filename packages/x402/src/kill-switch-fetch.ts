// The entry point: a fetch whose x402 payments go on the kill switch ledger. A hook vetoes
// or holds each payment before it is signed; the transport under x402 sees the signed
// payment leave and its answer come back (a dropped connection fires no x402 hook at all).
import { type AdapterOptions, adapterSetup, InvalidConfigError } from '@killswitch/core'
import type { x402Client } from '@x402/core/client'
import type { PaymentAsset } from './payment-amount.js'
import { guardClient, PaymentCall } from './payment-call.js'
import type { SettlementVerifier } from './payment-charge.js'

/** This fetch's own payment rules, checked by the core with the agent's `spendRules`. */
export interface PaymentRules {
  /** Only these payees (`payTo`) may be paid. EVM addresses match whatever their case. */
  allowedPayees?: readonly string[]
  /** The most one payment may cost, in dollars (an `upto` payment: its maximum). */
  maxPaymentUsd?: number
}

/**
 * Options of `killSwitchFetch`: `{ killSwitch, credential }` or a ready `{ guard }`, the
 * budget scope of its payments (`runId`, `budgets`...), the agent's x402 client (its schemes
 * registered; the kill switch adds its hooks to it, so pay only through the returned fetch).
 *
 * @example
 * const options: KillSwitchFetchOptions = { killSwitch: ks, credential, client, maxPaymentUsd: 0.5 }
 */
export interface KillSwitchFetchOptions
  extends PaymentRules,
    Omit<AdapterOptions, 'model' | 'provider' | 'toolPrices'> {
  client: x402Client
  /** USD stablecoins to accept beyond x402's default assets (USDC...). */
  assets?: readonly PaymentAsset[]
  /**
   * Proves what an `upto` payment really moved, from the chain; without it such a payment
   * is charged at its maximum (the payee's settlement header is a claim, not proof).
   */
  verifySettlement?: SettlementVerifier
  /** The transport underneath. Defaults to `globalThis.fetch`. */
  fetch?: typeof fetch
}

/**
 * A fetch whose x402 payments are held against the agent's cap, with its model calls. A
 * payment is refused before it is signed when the agent is revoked, over its cap or breaks
 * a spend rule; once its signature has left the process it is charged at its authorised
 * amount (unless a verified settlement proves less) whatever the payee answers.
 *
 * @example
 * const client = new x402Client().register('eip155:8453', new ExactEvmScheme(account))
 * const pay = killSwitchFetch({ killSwitch: ks, credential, client })
 * const response = await pay('https://api.example.com/search?q=x402')
 */
export function killSwitchFetch(options: KillSwitchFetchOptions): typeof fetch {
  const { guard, scope } = adapterSetup(options)
  validate(options)
  guardClient(options.client)

  return async function guardedFetch(input, init) {
    // A revoked agent makes no requests at all, paid or not.
    await guard.check({ runId: scope.runId })
    const request = new Request(input, init)
    return new PaymentCall({ ...options, guard, scope }, request.method).fetch(request)
  }
}

/** What each option must be: the fix an InvalidConfigError names. */
const EXPECTED = {
  client: "an x402Client from '@x402/fetch' with the agent's schemes registered",
  maxPaymentUsd: 'a finite number of dollars >= 0',
  allowedPayees: 'an array of payee addresses',
  verifySettlement: 'a function (claim) => the atomic amount proven on chain',
  assets: "{ network: 'eip155:8453', asset: '0x...', decimals: 6 } entries, decimals 0-36",
}

function validate(options: KillSwitchFetchOptions): void {
  const { client, maxPaymentUsd: max, allowedPayees, verifySettlement, assets } = options
  const payees: unknown = allowedPayees
  // Duck-typed: `instanceof` fails across two installed copies of @x402/core.
  const x402 = client as Partial<x402Client> | undefined
  const asset = (entry: Partial<PaymentAsset> = {}) =>
    typeof entry.network === 'string' &&
    typeof entry.asset === 'string' &&
    Number.isInteger(entry.decimals) &&
    (entry.decimals as number) >= 0 &&
    (entry.decimals as number) <= 36
  const badAsset = (assets ?? []).findIndex((entry) => !asset(entry))
  const wrong = {
    client: typeof x402?.onBeforePaymentCreation !== 'function' || !x402.createPaymentPayload,
    maxPaymentUsd: max !== undefined && !(Number.isFinite(max) && max >= 0),
    allowedPayees:
      payees !== undefined &&
      !(Array.isArray(payees) && payees.every((payee) => payee && typeof payee === 'string')),
    verifySettlement: verifySettlement !== undefined && typeof verifySettlement !== 'function',
    assets: badAsset >= 0,
  }
  const field = (Object.keys(wrong) as (keyof typeof wrong)[]).find((key) => wrong[key])
  if (!field) return
  const name = field === 'assets' ? `assets[${badAsset}]` : field
  throw new InvalidConfigError(name, `${name} must be ${EXPECTED[field]}.`)
}
