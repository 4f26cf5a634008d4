// Test support: a fake provider that generates on its own clock, as a real one does on its
// servers, and keeps its own bill (MOCK_PRICE, in micro-dollars) of what it generated, read
// or not. It stops generating when it sees its abort signal or its stream cancelled, unless
// told to ignore both (then it bills the whole answer). Not exported.
import type { LanguageModelV4StreamPart } from '@ai-sdk/provider'
import { MockLanguageModelV4 } from 'ai/test'
import { MOCK_MODEL_ID, v4Usage } from './scripted-model.js'

type Part = LanguageModelV4StreamPart

/** Micro-dollars per token at MOCK_PRICE ($10 / $30 per million). */
export const INPUT_MICROS = 10
export const OUTPUT_MICROS = 30

export interface BillingProviderOptions {
  /** Input tokens the provider bills per call (the real prompt is smaller than its bound). */
  inputTokens?: number
  /** Output tokens of a whole answer, capped by the call's maxOutputTokens. */
  outputTokens?: number
  /** Keep generating (and billing) after the abort signal or a cancel. */
  ignoresAbort?: boolean
  /** Milliseconds between two generated tokens (0: as fast as the event loop allows). */
  tokenEveryMs?: number
}

export interface BillingProvider {
  model: MockLanguageModelV4
  /** What the provider billed so far, in micro-dollars. */
  billMicros(): number
  /** Tokens generated so far, over all calls. */
  generated(): number
  /** Resolves when the provider started generating. */
  started(): Promise<void>
  /** Resolves when the provider stopped generating: aborted, cancelled or done. */
  stopped(): Promise<'aborted' | 'done'>
}

/** Each token is the word "word " (5 bytes). */
export function billingProvider(options: BillingProviderOptions = {}): BillingProvider {
  const inputTokens = options.inputTokens ?? 12
  let bill = 0
  let generated = 0
  let onStop: (how: 'aborted' | 'done') => void = () => {}
  // One call per provider in these tests: `stopped` is the first call's.
  const stopped = new Promise<'aborted' | 'done'>((resolve) => {
    onStop = resolve
  })
  let onStart = () => {}
  const started = new Promise<void>((resolve) => {
    onStart = resolve
  })
  const tick = () =>
    new Promise<void>((resolve) => {
      if (options.tokenEveryMs) setTimeout(resolve, options.tokenEveryMs)
      else setImmediate(resolve)
    })

  const model = new MockLanguageModelV4({
    modelId: MOCK_MODEL_ID,
    doStream: async ({ abortSignal, maxOutputTokens }) => {
      const total = Math.min(options.outputTokens ?? 1_000_000, maxOutputTokens ?? Infinity)
      onStart()
      let cancelled = false
      bill += inputTokens * INPUT_MICROS
      let controller!: ReadableStreamDefaultController<Part>
      const stream = new ReadableStream<Part>({
        start(c) {
          controller = c
        },
        cancel() {
          cancelled = true
        },
      })
      const enqueue = (part: Part) => {
        try {
          controller.enqueue(part)
        } catch {
          // The reader went away; a real server does not notice until it writes more.
        }
      }
      // The server generates whether or not anyone reads (buffered on its side).
      void (async () => {
        enqueue({ type: 'stream-start', warnings: [] })
        enqueue({ type: 'text-start', id: 't' })
        let out = 0
        while (out < total) {
          if (!options.ignoresAbort && (cancelled || abortSignal?.aborted)) {
            onStop('aborted')
            return
          }
          out++
          generated++
          bill += OUTPUT_MICROS
          enqueue({ type: 'text-delta', id: 't', delta: 'word ' })
          await tick()
        }
        enqueue({ type: 'text-end', id: 't' })
        enqueue({
          type: 'finish',
          finishReason: { unified: 'stop', raw: undefined },
          usage: v4Usage(inputTokens, out),
        })
        try {
          controller.close()
        } catch {
          // Already cancelled.
        }
        onStop('done')
      })()
      return { stream }
    },
    doGenerate: async ({ abortSignal, maxOutputTokens }) => {
      const total = Math.min(options.outputTokens ?? 1_000, maxOutputTokens ?? Infinity)
      onStart()
      bill += inputTokens * INPUT_MICROS
      let out = 0
      while (out < total) {
        if (!options.ignoresAbort && abortSignal?.aborted) {
          onStop('aborted')
          throw abortSignal.reason
        }
        out++
        generated++
        bill += OUTPUT_MICROS
        await tick()
      }
      onStop('done')
      return {
        content: [{ type: 'text', text: 'word '.repeat(out) }],
        finishReason: { unified: 'stop', raw: undefined },
        usage: v4Usage(inputTokens, out),
        warnings: [],
      }
    },
  })
  return {
    model,
    billMicros: () => bill,
    generated: () => generated,
    started: () => started,
    stopped: () => stopped,
  }
}
