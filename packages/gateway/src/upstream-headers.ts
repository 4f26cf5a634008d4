// The agent's headers that reach the provider: only the API's version and beta headers, never
// its credential nor anything else it sends. One beta is dropped: `context-1m-*` lifts a
// model's context window to a million tokens, past the window in the price data that bounds
// every input part the hold cannot size (a file, a document by id) and below the long-context
// rates. Without it the provider refuses a prompt past the window rather than bill it.

const UNBOUNDED_BETAS = ['context-1m-']

/** An `anthropic-beta` value without the betas no hold can bound; undefined when none is left. */
function boundedBetas(value: string): string | undefined {
  const kept = value
    .split(',')
    .map((beta) => beta.trim())
    .filter((beta) => {
      const name = beta.toLowerCase()
      return beta !== '' && !UNBOUNDED_BETAS.some((prefix) => name.startsWith(prefix))
    })
  return kept.length > 0 ? kept.join(',') : undefined
}

/** The headers `names` of the agent's request, as they may be sent to the provider. */
export function agentHeadersForUpstream(
  headers: Headers,
  names: readonly string[],
): Record<string, string> {
  const forwarded: Record<string, string> = {}
  for (const name of names) {
    const raw = headers.get(name)
    const value = raw !== null && name === 'anthropic-beta' ? boundedBetas(raw) : raw
    if (value !== null && value !== undefined) forwarded[name] = value
  }
  return forwarded
}
