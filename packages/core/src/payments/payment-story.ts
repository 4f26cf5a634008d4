// How a payment's ending reads in the audit log's summary (`killswitch audit`'s table): to
// whom, and what became of it, from the fields its settle or release records
// (`paymentCharge`, `releaseUnsentPayments`). Without it a payment whose outcome is unknown
// reads "settled $0.01", like one the payee settled. The entry's data keeps the rest.

import { boundedText, shownText } from '../untrusted-text.js'

/** The parts of a payment's settle or release summary. */
export interface PaymentStory {
  /** ` to <payee>`, or '' when no payee is known. */
  to: string
  /** `: outcome unknown (no response), collectable until <ISO>`, `: not sent (<why>)`... */
  ending: string
}

/**
 * A payment's payee and outcome for the summary of its settle or release (`data`: the
 * entry's data, already masked); undefined for a spend that is no payment (no
 * `paymentOutcome`). Each part is bounded and printable, as any string in the log is.
 *
 * @example
 * paymentStory({ payee: '0xbd…', paymentOutcome: 'outcome_unknown', reason: 'no_response', validUntil })
 * // { to: ' to 0xbd…', ending: ': outcome unknown (no response), collectable until 2030-…, unreconciled' }
 */
export function paymentStory(data: Record<string, unknown>): PaymentStory | undefined {
  const to = data.payee === undefined ? '' : ` to ${shownText(data.payee)}`
  // The codes as words: `no_response` reads "no response".
  const words = (code: unknown) => shownText(code).replaceAll('_', ' ')
  switch (data.paymentOutcome) {
    case 'settled': {
      const suspicious =
        data.suspicious === undefined ? '' : ` (suspicious: ${words(data.suspicious)})`
      return { to, ending: `: settled by the payee${suspicious}` }
    }
    case 'outcome_unknown': {
      // Charged as unreconciled: the operator corrects it from the payee's receipt or the chain.
      const until = `collectable until ${shownText(data.validUntil)}, unreconciled`
      return { to, ending: `: outcome unknown (${words(data.reason)}), ${until}` }
    }
    case 'not_sent': {
      const why = boundedText(data.error)
      return { to, ending: why === undefined ? ': not sent' : `: not sent (${why})` }
    }
    default:
      return undefined
  }
}
