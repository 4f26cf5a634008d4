// The entry point: a fetch whose x402 payments go on the kill switch ledger. A hook holds
// each payment before it is signed; the transport under x402 sees it leave and its answer
// (x402 has no hook for a dropped connection).
import {
  type AdapterOptions,
  adapterSetup,
  InvalidConfigError,
  parseSpendRules,
  quotedValue,
  type SpendRules,
} from '@killswitch/core'
import type { x402Client } from '@x402/core/client'
import type { PaymentAsset } from './payment-amount.js'
import { FETCH_RULE_NAMES, guardClient, PaymentCall } from './payment-call.js'
import type { SettlementVerifier } from './payment-charge.js'

/**
 * `{ killSwitch, credential }` or a ready `{ guard }`, the budget scope of the payments and
 * the agent's x402 client (the kill switch hooks into it: pay only through the fetch).
 */
export interface KillSwitchFetchOptions
  extends Omit<AdapterOptions, 'model' | 'provider' | 'toolPrices'> {
  client: x402Client
  /** Only these payees (`payTo`), beside the agent's `spendRules`; EVM ones in any case. */
  allowedPayees?: readonly string[]
  /** The most one payment may cost in dollars (`upto`: its maximum), beside `spendRules`. */
  maxPaymentUsd?: number
  /** USD stablecoins to accept beyond x402's default assets (USDC...). */
  assets?: readonly PaymentAsset[]
  /** Proves from the chain what an `upto` payment moved; without it, its maximum is charged. */
  verifySettlement?: SettlementVerifier
  /** The transport underneath. Defaults to `globalThis.fetch`. */
  fetch?: typeof fetch
}

/** This fetch's own payment rules, checked by the core with the agent's `spendRules`. */
export type PaymentRules = Pick<KillSwitchFetchOptions, 'allowedPayees' | 'maxPaymentUsd'>

/**
 * A fetch whose x402 payments are held against the agent's cap, with its model calls:
 * refused before signing when the agent is revoked, over its cap or breaks a spend rule;
 * once the signature left, charged in full (or what a verified settlement proves).
 *
 * @example
 * const client = new x402Client().register('eip155:8453', new ExactEvmScheme(account))
 * const pay = killSwitchFetch({ killSwitch: ks, credential, client })
 * const response = await pay('https://api.example.com/search?q=x402')
 */
export function killSwitchFetch(options: KillSwitchFetchOptions): typeof fetch {
  const { guard, scope } = adapterSetup(options, {
    name: 'killSwitchFetch',
    own: ['client', 'allowedPayees', 'maxPaymentUsd', 'assets', 'verifySettlement', 'fetch'],
    without: ['model', 'provider', 'toolPrices'],
  })
  const rules = { allowedPayees: options.allowedPayees, maxSpendUsd: options.maxPaymentUsd }
  validate(options, rules)
  guardClient(options.client)
  return async function guardedFetch(input, init) {
    // A revoked agent makes no requests at all, paid or not.
    await guard.check({ runId: scope.runId })
    return new PaymentCall({ ...options, guard, scope, rules }, new Request(input, init)).fetch()
  }
}

// What each option must be, in the message that refuses it.
const CLIENT = "an x402Client from '@x402/fetch' with the agent's schemes registered"
const VERIFIER = 'a function (claim) => the atomic amount proven on chain'
const ASSET = "{ network: 'eip155:8453', asset: '0x...', decimals: 6 } (decimals 0-36)"

/**
 * Each option's shape, or InvalidConfigError naming it, the fix and the value given (an
 * unknown option is refused by the core's adapterSetup).
 */
function validate(options: KillSwitchFetchOptions, rules: SpendRules): void {
  const { client, verifySettlement: verify, fetch: send } = options
  const assets: unknown = options.assets
  const need = (ok: boolean, field: string, what: string, given: unknown) => {
    if (ok) return
    throw new InvalidConfigError(field, `${field} must be ${what} (got ${quotedValue(given)}).`)
  }
  // Duck-typed: `instanceof` fails across two installed copies of @x402/core.
  need(typeof client?.onBeforePaymentCreation === 'function', 'client', CLIENT, client)
  // The core's own bounds, as every payment checks them: refused now, not at each payment.
  parseSpendRules(rules, 'killSwitchFetch', FETCH_RULE_NAMES)
  need(verify === undefined || typeof verify === 'function', 'verifySettlement', VERIFIER, verify)
  need(send === undefined || typeof send === 'function', 'fetch', 'a fetch function', send)
  need(assets === undefined || Array.isArray(assets), 'assets', `an array of ${ASSET}`, assets)
  const asset = Array.isArray(assets) ? assets.findIndex((entry) => !isAsset(entry)) : -1
  need(asset < 0, `assets.${asset}`, ASSET, Array.isArray(assets) && assets[asset])
}

function isAsset(entry: unknown): boolean {
  const { network, asset, decimals } = (entry ?? {}) as Partial<PaymentAsset>
  const named = typeof network === 'string' && typeof asset === 'string'
  return named && Number.isInteger(decimals) && Number(decimals) >= 0 && Number(decimals) <= 36
}
