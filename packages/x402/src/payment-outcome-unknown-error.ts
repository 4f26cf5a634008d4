/**
 * A signed payment went out but its outcome is unknown (the connection dropped, or the
 * request was aborted, before the response came back): the server may have settled it. Its
 * amount stays held against the agent's cap until the authorisation expires (`holdUntil`),
 * because until then it can still be collected. The network error is the `cause`.
 *
 * @example
 * try { await pay(url) } catch (error) {
 *   if (error instanceof PaymentOutcomeUnknownError) console.log(error.amountUsd, new Date(error.holdUntil))
 * }
 */
export class PaymentOutcomeUnknownError extends Error {
  readonly code = 'payment_outcome_unknown'
  readonly payee: string
  readonly amountUsd: number
  readonly resource: string
  /** Milliseconds since the epoch: when the authorisation, and so the hold, expires. */
  readonly holdUntil: number

  constructor(
    details: { payee: string; amountUsd: number; resource: string; holdUntil: number },
    options?: ErrorOptions,
  ) {
    super(
      `The payment of $${details.amountUsd} to ${details.payee} for ${details.resource} was sent, ` +
        'but no response came back, so it may have been settled. Its amount stays held against ' +
        `the agent's cap until the authorisation expires (${new Date(details.holdUntil).toISOString()}).`,
      options,
    )
    this.name = 'PaymentOutcomeUnknownError'
    this.payee = details.payee
    this.amountUsd = details.amountUsd
    this.resource = details.resource
    this.holdUntil = details.holdUntil
  }
}
