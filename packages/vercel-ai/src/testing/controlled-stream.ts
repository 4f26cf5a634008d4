// Test support: a provider stream the test drives part by part, or an endless one, and that
// records whether it was cancelled (the provider's request ended). Not exported.
import type { LanguageModelV4StreamPart } from '@ai-sdk/provider'

type Part = LanguageModelV4StreamPart

export interface ControlledStream {
  stream: ReadableStream<Part>
  push(...parts: Part[]): void
  fail(error: unknown): void
  /** Resolves with the reason once the consumer side cancels the provider's stream. */
  cancelled: Promise<unknown>
}

export function controlledStream(): ControlledStream {
  let controller!: ReadableStreamDefaultController<Part>
  let onCancel: (reason: unknown) => void = () => {}
  const cancelled = new Promise<unknown>((resolve) => {
    onCancel = resolve
  })
  const stream = new ReadableStream<Part>({
    start(c) {
      controller = c
    },
    cancel(reason) {
      onCancel(reason)
    },
  })
  return {
    stream,
    push: (...parts) => {
      for (const part of parts) controller.enqueue(part)
    },
    fail: (error) => controller.error(error),
    cancelled,
  }
}

/**
 * A provider that ignores maxOutputTokens and streams text until it is cancelled, or, so that
 * a test without a kill switch ends instead of hanging, until `deltas` deltas are out.
 */
export function overlongTextStream(deltas = 20_000): {
  stream: ReadableStream<Part>
  cancelled: Promise<unknown>
} {
  let onCancel: (reason: unknown) => void = () => {}
  const cancelled = new Promise<unknown>((resolve) => {
    onCancel = resolve
  })
  let started = false
  let sent = 0
  const stream = new ReadableStream<Part>({
    pull(controller) {
      if (!started) {
        started = true
        controller.enqueue({ type: 'stream-start', warnings: [] })
        controller.enqueue({ type: 'text-start', id: 't' })
      }
      if (sent++ < deltas) {
        controller.enqueue({ type: 'text-delta', id: 't', delta: 'lorem ipsum dolor ' })
        return
      }
      controller.enqueue({ type: 'text-end', id: 't' })
      controller.enqueue({
        type: 'finish',
        finishReason: { unified: 'length', raw: undefined },
        usage: {
          inputTokens: { total: 10, noCache: 10, cacheRead: 0, cacheWrite: 0 },
          outputTokens: { total: deltas * 4, text: deltas * 4, reasoning: 0 },
        },
      })
      controller.close()
    },
    cancel(reason) {
      onCancel(reason)
    },
  })
  return { stream, cancelled }
}
