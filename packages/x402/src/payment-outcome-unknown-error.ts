/**
 * A signed payment went out but no response came back (the connection dropped, the
 * request was aborted, or the payee did not answer before the authorisation expired).
 * The payee holds a signed authorisation it can submit until `validUntil`, so the payment
 * has been charged at its full amount (`amountUsd`). The network error is the `cause`.
 *
 * @example
 * try { await pay(url) } catch (error) {
 *   if (error instanceof PaymentOutcomeUnknownError) console.log(error.amountUsd, new Date(error.validUntil))
 * }
 */
export class PaymentOutcomeUnknownError extends Error {
  readonly code = 'payment_outcome_unknown'
  readonly payee: string
  /** What was charged: the full authorised amount. */
  readonly amountUsd: number
  readonly resource: string
  /** Milliseconds since the epoch: until then the payee can submit the authorisation. */
  readonly validUntil: number

  constructor(
    details: { payee: string; amountUsd: number; resource: string; validUntil: number },
    options?: ErrorOptions,
  ) {
    super(
      `The payment of $${details.amountUsd} to ${details.payee} for ${details.resource} was sent, ` +
        'but no response came back. The payee can still collect it, so it is charged in full ' +
        `to the agent's cap; the authorisation is valid until ${new Date(details.validUntil).toISOString()}.`,
      options,
    )
    this.name = 'PaymentOutcomeUnknownError'
    this.payee = details.payee
    this.amountUsd = details.amountUsd
    this.resource = details.resource
    this.validUntil = details.validUntil
  }
}
