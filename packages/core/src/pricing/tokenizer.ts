// The real tokenizers of the models whose tokenizer is public (OpenAI's), for counting
// streamed output exactly near a call's limit and for judging the usage a provider reports.
// `gpt-tokenizer` is loaded, and its ranks built, on the first call to such a model, before
// that call's request is sent: the build blocks the event loop (a fifth of a second). Built
// lazily at the first count near a limit, it blocked the process exactly when a stream had to
// be cut: a provider streaming past its limit ran on past the cap, and no revocation or lease
// renewal of the process could run meanwhile. It counts in linear time (`js-tiktoken`, used
// before, merged each pre-tokenizer piece in quadratic time: 13 s for 2,300 Chinese tokens
// in one run, so the whole text could never be counted at settlement).
import { splitModelId } from './price-source.js'

export type Encoding = 'o200k_base' | 'cl100k_base'

/** Counts the tokens of a text with a real tokenizer. */
export interface TokenCounter {
  count(text: string): number
}

// gpt-4o, gpt-4.1, gpt-4.5, gpt-5, o1/o3/o4, chatgpt-4o, gpt-oss and their fine-tunes use
// o200k; gpt-4, gpt-3.5 and the embedding models (text-embedding-3-*, ada-002) use cl100k.
const O200K = /^(ft:)?(gpt-4o|gpt-4\.1|gpt-4\.5|gpt-5|o1|o3|o4|chatgpt-4o|gpt-oss|codex)/
const CL100K = /^(ft:)?(gpt-4|gpt-3\.5|text-embedding-(3-|ada-002))/

/**
 * The encoding of a model, when it is public.
 *
 * @example
 * tokenizerOf('openai/gpt-4o') // 'o200k_base'
 * tokenizerOf('claude-sonnet-4-0') // undefined
 */
export function tokenizerOf(model: string): Encoding | undefined {
  const id = splitModelId(model).model.toLowerCase()
  if (O200K.test(id)) return 'o200k_base'
  if (CL100K.test(id)) return 'cl100k_base'
  return undefined
}

const loading = new Map<Encoding, Promise<TokenCounter | undefined>>()

/**
 * A counter for `encoding`, or undefined when the tokenizer cannot be loaded (the caller
 * then counts conservatively). Cached per process.
 */
export function createTokenCounter(encoding: Encoding): Promise<TokenCounter | undefined> {
  let counter = loading.get(encoding)
  if (!counter) {
    counter = load(encoding)
    loading.set(encoding, counter)
  }
  return counter
}

// Special-token text counts as the ordinary text a provider would see it as.
const AS_TEXT = { allowedSpecial: new Set<string>(), disallowedSpecial: new Set<string>() }

async function load(encoding: Encoding): Promise<TokenCounter | undefined> {
  try {
    const { countTokens } =
      encoding === 'o200k_base'
        ? await import('gpt-tokenizer/encoding/o200k_base')
        : await import('gpt-tokenizer/encoding/cl100k_base')
    // The first count builds what the import left lazy: here, not mid-stream.
    countTokens('warm up', AS_TEXT)
    return { count: (text) => countTokens(text, AS_TEXT) }
  } catch {
    return undefined
  }
}
