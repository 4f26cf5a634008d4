// A request for several choices (OpenAI's `n`) sends one output limit, which each choice may
// use in full, and the provider bills every choice: the request asks for the limit times the
// choices (`requestedOutputTokensIn`), and a clamp of the whole request to what the budget
// pays for sends each choice its share of it.

/**
 * The output limit to send for each of `choices` choices, so that together they ask for at
 * most `total` tokens; undefined when `total` is fewer tokens than choices (not one token
 * each: the request must ask for fewer choices, or is sent past the clamp). A count of
 * choices that is not one (unset, zero, fractional) counts as the choices it makes (one).
 *
 * @example
 * choiceShare(1_000, 3) // 333
 * choiceShare(2, 3) // undefined
 */
export function choiceShare(total: number, choices = 1): number | undefined {
  const share = Math.floor(total / Math.max(1, Math.ceil(choices)))
  return share >= 1 ? share : undefined
}
