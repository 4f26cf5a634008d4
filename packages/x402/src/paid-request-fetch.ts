// The fetch that x402 sends requests through. It sees the signed payment leave and the
// response (or the failure) come back, which the x402 hooks do not all report: a dropped
// connection fires no hook at all.
import { paymentCalls } from './payment-call.js'
import { paymentOutcome } from './payment-outcome.js'
import { PaymentOutcomeUnknownError } from './payment-outcome-unknown-error.js'
import { PaymentRefusedError } from './payment-refused-error.js'

/**
 * Wraps the transport fetch so that each paid request is charged before the response is
 * handed back. Once the payment header has left, the payment is money: it is charged
 * whatever comes back (see `paymentCharge`), and released only if it never left.
 *
 * @example
 * wrapFetchWithPayment(paidRequestFetch(fetch), client) // as killSwitchFetch does
 */
export function paidRequestFetch(base: typeof fetch): typeof fetch {
  return async (input, init) => {
    const request = new Request(input, init)
    if (!request.headers.has('PAYMENT-SIGNATURE') && !request.headers.has('X-PAYMENT')) {
      return base(request)
    }
    const call = paymentCalls.getStore()
    const payment = call?.unsent()
    if (!call || !payment) {
      // A payment header the kill switch did not authorise (set by the caller, say): it
      // would spend off the ledger, so it is not sent.
      throw new PaymentRefusedError({
        rule: 'unaccounted_payment',
        message:
          'A request carried a payment header (PAYMENT-SIGNATURE or X-PAYMENT) that the kill switch did not authorise: it was not sent. Let killSwitchFetch make the payment.',
      })
    }
    // Aborted before it left (revoked, or the caller gave up): the signature never left
    // the process, so the payment stays unsent and its hold is released.
    request.signal.throwIfAborted()
    // Past the authorisation's expiry an answer can change nothing (the payment is charged
    // either way), so a payee that never answers does not keep the call open for ever.
    const deadline = new AbortController()
    const waitMs = payment.validUntil === undefined ? undefined : payment.validUntil - Date.now()
    const timer =
      waitMs === undefined
        ? undefined
        : setTimeout(
            () =>
              deadline.abort(
                new Error('The payee did not answer before the payment authorisation expired.'),
              ),
            Math.max(waitMs, 1_000),
          )
    timer?.unref?.()
    payment.state = 'sent'
    let response: Response
    try {
      response = await base(
        new Request(request, { signal: AbortSignal.any([request.signal, deadline.signal]) }),
      )
    } catch (error) {
      // The signed authorisation may have reached the payee: it can collect it.
      await call.record(payment, {
        type: 'unproven',
        reason: 'no_response',
        status: undefined,
        errorReason: undefined,
      })
      throw new PaymentOutcomeUnknownError(
        {
          payee: payment.payee,
          amountUsd: payment.amount.usd,
          resource: payment.resource,
          validUntil: payment.validUntil ?? Date.now(),
        },
        { cause: error },
      )
    } finally {
      clearTimeout(timer)
    }
    await call.record(
      payment,
      paymentOutcome(response.status, (name) => response.headers.get(name)),
    )
    return response
  }
}
