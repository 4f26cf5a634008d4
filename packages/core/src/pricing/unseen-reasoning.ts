// Models that reason before they answer, bill that reasoning as output, and do not stream
// it (OpenAI's o-series, gpt-5, codex-mini and computer-use-preview, Gemini 2.5 and 3 thinking, Grok 3 mini and 4): what
// streamed of their answer says nothing of what they spent thinking first. When such a
// call ends without usage (a consumer that stopped reading, a cut stream), its output is
// the hold's bound, never the visible text. So are the Claude models whose thinking cannot
// be turned off (claude-sonnet-5-5, claude-opus-5-5, claude-fable-5: @ai-sdk/anthropic's
// table), billed in full and streamed summarised. Models whose reasoning streams in full
// (DeepSeek R1) are counted as they stream; other Claude models' thinking is marked by the
// adapter that turns it on (OutputDelta.uncounted).
// Any number of routing prefixes (`openrouter/openai/o3-mini`, `azure/...`), and a
// fine-tune's `ft:` before its base model's id.
const UNSEEN_REASONING =
  /^(?:[\w.:-]+\/)*(?:ft:)?(?:o\d(?:$|[-.:])|gpt-5|codex-|computer-use|gemini-(?:2\.5|3)|grok-(?:3-mini|4)|claude-(?:sonnet-5-5|opus-5-5|fable-5))/i

/**
 * True when `model` may bill output that never streams.
 *
 * @example
 * reasonsUnseen('openai/o3-mini') // true
 * reasonsUnseen('gpt-4o') // false
 */
export function reasonsUnseen(model: string): boolean {
  let unseen = known.get(model)
  if (unseen === undefined) {
    unseen = UNSEEN_REASONING.test(model)
    // Model ids come from callers: bounded (past it, the pattern runs each time).
    if (known.size < MODELS_KEPT) known.set(model, unseen)
  }
  return unseen
}

// Asked at the end of every call: a map lookup, not the pattern, once a model is known.
const MODELS_KEPT = 1_000
const known = new Map<string, boolean>()
