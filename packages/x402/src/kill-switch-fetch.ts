// The entry point: a fetch for an agent whose x402 payments go on the kill switch ledger.
import type { AgentGuard } from '@killswitch/core'
import { findKillSwitchError, InvalidConfigError } from '@killswitch/core'
import type { x402Client } from '@x402/core/client'
import { wrapFetchWithPayment } from '@x402/fetch'
import { paidRequestFetch } from './paid-request-fetch.js'
import type { PaymentAsset } from './payment-amount.js'
import { PaymentCall, paymentCalls } from './payment-call.js'
import type { SettlementVerifier } from './payment-charge.js'
import { guardPaymentHooks } from './payment-hooks.js'
import type { PaymentRules } from './payment-rules.js'

/**
 * Options of `killSwitchFetch`.
 *
 * @example
 * const options: KillSwitchFetchOptions = { killSwitch: ks, credential, client, maxPaymentUsd: 0.5 }
 */
export interface KillSwitchFetchOptions extends PaymentRules {
  /** The kill switch (`createKillSwitch()`), or anything that hands out agent guards. */
  killSwitch: { guard(credential: string): AgentGuard }
  /** The agent's credential (`ks_...`). Its cap and revocation govern every payment. */
  credential: string
  /**
   * The agent's x402 client, with its schemes registered (`new x402Client().register(...)`).
   * The kill switch adds its hooks to it; pay only through the returned fetch.
   */
  client: x402Client
  /** USD stablecoins to accept beyond x402's default assets (USDC...). */
  assets?: readonly PaymentAsset[]
  /**
   * Proves what an `upto` (or other non-`exact`) payment really moved, from the chain.
   * Without it such a payment is charged at its authorised maximum: the payee's own
   * settlement header is a claim, not proof. `exact` payments are always charged in full.
   */
  verifySettlement?: SettlementVerifier
  /** The transport underneath. Defaults to `globalThis.fetch`. */
  fetch?: typeof fetch
}

/**
 * A fetch for an agent that pays x402 (HTTP 402) requests under the agent's kill switch:
 * each payment is refused before it is signed when the agent is revoked, over its cap, or
 * breaks a payment rule (with the core's typed error), and otherwise held against the same
 * cap as its model calls. Once its signature has left the process it is charged at the
 * full authorised amount (unless a verified settlement proves less), whatever the payee
 * answers; it is released only if it was never sent.
 *
 * @example
 * const client = new x402Client().register('eip155:8453', new ExactEvmScheme(account))
 * const pay = killSwitchFetch({ killSwitch: ks, credential, client })
 * const response = await pay('https://api.example.com/search?q=x402')
 */
export function killSwitchFetch(options: KillSwitchFetchOptions): typeof fetch {
  validate(options)
  const guard = options.killSwitch.guard(options.credential)
  const { allowedPayees, maxPaymentUsd, assets, verifySettlement } = options
  const rules = { allowedPayees, maxPaymentUsd, assets, verifySettlement }
  guardPaymentHooks(options.client)
  const paying = wrapFetchWithPayment(paidRequestFetch(options.fetch ?? fetch), options.client)

  return async function guardedFetch(input, init) {
    // A revoked agent makes no requests at all, paid or not.
    await guard.check()
    const request = new Request(input, init)
    // Revocation aborts the request in flight too (a paid one that was sent is still
    // charged: the payee holds the signature).
    const signal = AbortSignal.any([request.signal, guard.signal])
    const call = new PaymentCall(guard, rules, request.method)
    try {
      const response = await paymentCalls.run(call, () => paying(request, { signal }))
      await call.finish(undefined)
      return response
    } catch (error) {
      await call.finish(error)
      throw typedError(call, error, guard.signal)
    }
  }
}

/** The error the caller should see: the kill switch's own, not x402's wrapper around it. */
function typedError(call: PaymentCall, error: unknown, signal: AbortSignal): unknown {
  if (call.refusal) return call.refusal
  if (findKillSwitchError(error)) return error
  // Aborted by revocation: say so, not just "aborted".
  if (signal.aborted && findKillSwitchError(signal.reason)) return signal.reason
  return error
}

function validate(options: KillSwitchFetchOptions): void {
  if (typeof options?.killSwitch?.guard !== 'function') {
    throw new InvalidConfigError(
      'killSwitch',
      'killSwitchFetch needs killSwitch: the object createKillSwitch() returned.',
    )
  }
  if (typeof options.credential !== 'string' || options.credential.length === 0) {
    throw new InvalidConfigError(
      'credential',
      "killSwitchFetch needs credential: the agent's credential (ks_...) from agents.create().",
    )
  }
  // Duck-typed: `instanceof` fails across two installed copies of @x402/core.
  const client = options.client as Partial<x402Client> | undefined
  if (
    typeof client?.onBeforePaymentCreation !== 'function' ||
    typeof client.createPaymentPayload !== 'function'
  ) {
    throw new InvalidConfigError(
      'client',
      "killSwitchFetch needs client: an x402Client from '@x402/fetch' with the agent's schemes registered.",
    )
  }
  const max = options.maxPaymentUsd
  if (max !== undefined && (typeof max !== 'number' || !Number.isFinite(max) || max < 0)) {
    throw new InvalidConfigError(
      'maxPaymentUsd',
      `maxPaymentUsd must be a finite number of dollars >= 0 (got ${String(max)}).`,
    )
  }
  if (options.verifySettlement !== undefined && typeof options.verifySettlement !== 'function') {
    throw new InvalidConfigError(
      'verifySettlement',
      'verifySettlement must be a function (claim) => the atomic amount proven on chain, or undefined.',
    )
  }
  if (options.allowedPayees !== undefined && !Array.isArray(options.allowedPayees)) {
    throw new InvalidConfigError(
      'allowedPayees',
      'allowedPayees must be an array of payee addresses.',
    )
  }
  for (const [index, entry] of (options.assets ?? []).entries()) {
    const ok =
      typeof entry?.network === 'string' &&
      typeof entry.asset === 'string' &&
      Number.isInteger(entry.decimals) &&
      entry.decimals >= 0 &&
      entry.decimals <= 36
    if (!ok) {
      throw new InvalidConfigError(
        `assets[${index}]`,
        `assets[${index}] must be { network: 'eip155:8453', asset: '0x...', decimals: 6 } (decimals an integer 0-36).`,
      )
    }
  }
}
