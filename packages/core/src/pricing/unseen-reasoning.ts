// Models that reason before they answer, bill that reasoning as output, and do not stream
// it (OpenAI's o-series, gpt-5, codex-mini and computer-use-preview, Gemini 2.5 and 3 thinking, Grok 3 mini and 4): what
// streamed of their answer says nothing of what they spent thinking first. When such a
// call ends without usage (a consumer that stopped reading, a cut stream), its output is
// the hold's bound, never the visible text. So are the Claude models whose thinking cannot
// be turned off (claude-sonnet-5-5, claude-opus-5-5, claude-fable-5: @ai-sdk/anthropic's
// table), billed in full and streamed summarised. Other Claude models' thinking is marked by
// the adapter that turns it on (OutputDelta.uncounted).
// So are the models whose reasoning streams beside the answer in a field of their own
// (DeepSeek R1's `reasoning_content`, gpt-oss, QwQ and Qwen3, Magistral, the `-thinking`
// ones): a client may drop that field (the AI SDK's OpenAI chat model does), and then
// nothing of it is seen (red team rt41a: a classifier stopping DeepSeek R1 after three answer
// chunks was charged 15 output tokens of 1,503 billed; its provider billed 2.5x the cap).
// Any number of routing prefixes (`openrouter/openai/o3-mini`, `azure/...`), and a
// fine-tune's `ft:` before its base model's id.
const UNSEEN_REASONING =
  /^(?:[\w.:-]+\/)*(?:ft:)?(?:o\d(?:$|[-.:])|gpt-5|codex-|computer-use|gemini-(?:2\.5|3)|grok-(?:3-mini|4)|claude-(?:sonnet-5-5|opus-5-5|fable-5)|deepseek-(?:r1|reasoner)|gpt-oss|qwq|qwen3|magistral|sonar-reasoning|phi-4-(?:mini-)?reasoning|minimax-m[12]|[\w.-]*-thinking)/i

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
