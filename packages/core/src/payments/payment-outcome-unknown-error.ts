// The error a payment's request ends with when the signed payment went out and no answer
// came back: the caller must not read it as "not paid", since the payee can still collect it.

/**
 * A signed payment went out and no answer came back (dropped, aborted, or none before it
 * expired). The payee can collect it until `validUntil` (ms since the epoch), so it was
 * charged in full. `cause`: the network error, or the kill switch error that aborted it.
 *
 * @example
 * if (error instanceof PaymentOutcomeUnknownError) console.log(error.amountUsd, error.validUntil)
 */
export class PaymentOutcomeUnknownError extends Error {
  readonly code = 'payment_outcome_unknown'
  readonly payee: string
  readonly amountUsd: number
  readonly resource: string
  readonly validUntil: number

  // Fields assigned by hand, not as parameter properties: Node runs this source with type
  // stripping only (the Redis fleet tests' workers), which has no parameter properties.
  constructor(
    payee: string,
    amountUsd: number,
    resource: string,
    validUntil: number,
    options?: ErrorOptions,
  ) {
    const until = new Date(validUntil).toISOString()
    const message = `The payment of $${amountUsd} to ${payee} for ${resource} was sent, but no response came back. The payee can still collect it, so it is charged in full to the agent's cap; the authorisation is valid until ${until}.`
    super(message, options)
    this.name = 'PaymentOutcomeUnknownError'
    this.payee = payee
    this.amountUsd = amountUsd
    this.resource = resource
    this.validUntil = validUntil
  }
}
