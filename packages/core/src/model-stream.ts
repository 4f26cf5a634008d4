// A streamed model call, watched: reads the provider's stream as it arrives (counting output,
// checking tool calls before the framework sees them, settling at the finish) and hands the
// parts on as the consumer asks for them, unchanged. The adapter only says what each of its
// framework's parts means (`read`); every ending goes through the call's one lifecycle:
// - finish: settled at the provider's usage (or the guard's count, whichever is larger);
// - the kill switch stops it (cap reached mid-stream, revocation, a refused tool call): the
//   provider is aborted and the stream errors with the core's typed error;
// - the provider errors, or ends without a finish: the call fails (charged what it may have
//   cost);
// - the consumer goes away. A cancel that reaches this stream ends the call at once. Some
//   frameworks tee the stream (the AI SDK's `streamText`), so breaking out of a loop or
//   dropping the result cancels nothing here: the consumer only stops asking for parts. A
//   consumer that has not asked for the next part for `idleConsumerMs` while the call is
//   open is taken as gone (StreamAbandonedError), instead of holding until the TTL.
// The provider is read ahead of the consumer, so the count reflects what the provider sent,
// whether or not the consumer read it.
import type { OutputDelta, TokenUsage } from './guard-types.js'
import type { ModelCall } from './model-call.js'
import { StreamAbandonedError } from './stream-abandoned-error.js'

/** What one part of a framework's model stream means to the guard. */
export type StreamEvent =
  /** Answer text: counted, and kept (hashed) for no-progress detection. */
  | { type: 'text'; text: string }
  /**
   * Other output the provider bills (reasoning, a tool call's streamed arguments: then with
   * the tool call's `toolCallId`).
   */
  | ({ type: 'output'; toolCallId?: string } & OutputDelta)
  /**
   * A whole tool call the model asks for: checked before the part goes on (the framework
   * executes it when it sees it). Its arguments as sent, `input`, are counted first unless
   * they streamed as `output` under its `toolCallId` (providers repeat them whole at the end).
   */
  | { type: 'tool-call'; name: string; args: unknown; input?: string; toolCallId?: string }
  /** The provider reported an error in the stream; it fails the call if no finish follows. */
  | { type: 'error'; error: unknown }
  /** The provider finished: its usage, if it reported any. */
  | { type: 'finish'; usage?: TokenUsage }

export interface ModelStreamOptions<Part> {
  /** What a part means; undefined for a part that means nothing to the guard. */
  read(part: Part): StreamEvent | undefined
  /**
   * Milliseconds the consumer may leave the next part unread while the call is open before
   * it is taken as gone. `Infinity` for a framework whose consumer's cancel reaches here.
   */
  idleConsumerMs: number
}

/**
 * Returns the stream to hand to the framework in place of the provider's.
 *
 * @example
 * const call = await guard.startModelCall(request)
 * const { stream, ...rest } = await call.send(({ maxOutputTokens, signal }) => model.doStream({ ...params, maxOutputTokens, abortSignal: signal }))
 * return { ...rest, stream: watchModelStream(call, stream, { read: readPart, idleConsumerMs: 5000 }) }
 */
export function watchModelStream<Part>(
  call: ModelCall,
  source: ReadableStream<Part>,
  options: ModelStreamOptions<Part>,
): ReadableStream<Part> {
  const { read, idleConsumerMs } = options
  const reader = source.getReader()
  let controller!: ReadableStreamDefaultController<Part>
  // open: accounting; settled: the call is ended, trailing parts pass; stopped: the call
  // was ended early (kill switch, provider error, consumer gone), nothing more goes on.
  let state: 'open' | 'settled' | 'stopped' = 'open'
  // Parts checked and waiting for the consumer; `sourceDone` once the provider closed.
  const ready: Part[] = []
  let sourceDone = false
  let delivered: (() => void) | undefined
  // One timer per idle period, not one per part: it checks when the consumer last asked.
  let idleTimer: ReturnType<typeof setTimeout> | undefined
  // Since when the consumer has owed a read (undefined while a read is pending).
  let owedSince: number | undefined
  let text = ''
  let providerError: unknown
  const toolCalls: Array<{ name: string; args: unknown }> = []

  // A function, not a comparison: `state` changes across the awaits that narrowing ignores.
  const stopped = () => state === 'stopped'
  const onStopped = () => void stop(call.signal.reason, true)
  const end = (next: 'settled' | 'stopped') => {
    state = next
    call.signal.removeEventListener('abort', onStopped)
    clearIdle()
  }

  function armIdle(): void {
    if (state !== 'open' || !Number.isFinite(idleConsumerMs)) return
    owedSince = performance.now()
    idleTimer ??= setTimeout(checkIdle, idleConsumerMs)
  }
  function checkIdle(): void {
    idleTimer = undefined
    if (state !== 'open' || owedSince === undefined) return
    const left = idleConsumerMs - (performance.now() - owedSince)
    if (left > 0) idleTimer = setTimeout(checkIdle, left)
    else void stop(new StreamAbandonedError(call.ticket.model, idleConsumerMs), true)
  }
  function disarmIdle(): void {
    owedSince = undefined
  }
  function clearIdle(): void {
    owedSince = undefined
    if (idleTimer !== undefined) clearTimeout(idleTimer)
    idleTimer = undefined
  }

  // Hands the consumer its next part, if it asked and one is ready.
  function deliver(): void {
    if (delivered === undefined) return
    const done = delivered
    if (ready.length > 0) {
      controller.enqueue(ready.shift() as Part)
      // Asked and answered: from here the consumer must ask again in time.
      armIdle()
    } else if (sourceDone) {
      controller.close()
    } else if (!stopped()) {
      return
    }
    delivered = undefined
    done()
  }

  // Ends the call (it aborts the provider first: it bills until it stops), then errors the
  // stream, so the consumer sees the ledger already balanced.
  async function stop(reason: unknown, tellConsumer: boolean, byCaller = false): Promise<void> {
    if (state !== 'open') return
    end('stopped')
    let shown = reason
    try {
      shown = await call.fail(reason, byCaller ? { byCaller } : undefined)
    } catch {
      // The ledger is unreachable: the hold lapses at its TTL (charged). The reason stands.
    }
    reader.cancel(shown).catch(() => undefined)
    if (tellConsumer) {
      try {
        controller.error(shown)
      } catch {
        // Already closed or cancelled by the consumer: nothing left to tell.
      }
    }
    ready.length = 0
    deliver()
  }

  // false when the call was stopped. Synchronous while the output fits (every part but the
  // last of a stream cut short): no promise per streamed part.
  function applied(event: StreamEvent): boolean | Promise<boolean> {
    try {
      const checked = call.apply(event)
      return checked === undefined ? true : checked.then(() => true, refused)
    } catch (error) {
      return refused(error)
    }
  }
  const refused = (error: unknown) => stop(error, true).then(() => false)

  function onEvent(event: StreamEvent): boolean | Promise<boolean> {
    switch (event.type) {
      case 'text':
        text += event.text
        return applied(event)
      case 'output':
        return applied(event)
      case 'tool-call':
        // Checked before the part goes on: the framework executes a tool when it sees it.
        toolCalls.push({ name: event.name, args: event.args })
        return applied(event)
      case 'error':
        providerError = event.error
        return true
      case 'finish':
        return onFinish(event.usage)
    }
  }

  async function onFinish(usage: TokenUsage | undefined): Promise<boolean> {
    end('settled')
    // Settled before the finish goes on: when the caller's await returns, the ledger
    // already holds the real cost.
    await call.finish(usage === undefined ? { text, toolCalls } : { usage, text, toolCalls })
    return true
  }

  async function pump(): Promise<void> {
    try {
      for (;;) {
        const { done, value } = await reader.read()
        if (done || stopped()) break
        const event = state === 'open' ? read(value) : undefined
        if (event !== undefined) {
          const handled = onEvent(event)
          if (handled !== true && !(await handled)) return
        }
        // Checked again after the awaits above: a revocation may have stopped the call.
        if (stopped()) return
        ready.push(value)
        deliver()
      }
      // Ended by stop(): it tells the consumer (or the consumer is gone).
      if (stopped()) return
      if (state === 'open') {
        // The provider ended without a finish: the call is charged what it may have cost.
        end('settled')
        await call
          .fail(providerError ?? new Error('The model stream ended without a finish part'))
          .catch(() => undefined)
      }
      sourceDone = true
      deliver()
    } catch (error) {
      // A stop under way (a revocation, the hold reached) tells the consumer its own reason
      // once the ledger answered: the provider's abort error it caused must not overtake it
      // (red team rt26: on Redis, callers got the client's bare AbortError).
      if (stopped()) return
      // The provider's stream errored (connection reset...).
      let shown = error
      if (state === 'open') {
        end('stopped')
        shown = await call.fail(error).catch(() => error)
      }
      state = 'stopped'
      ready.length = 0
      try {
        controller.error(shown)
      } catch {
        // Cancelled by the consumer already.
      }
      deliver()
    }
  }

  return new ReadableStream<Part>(
    {
      start(streamController) {
        controller = streamController
        if (call.signal.aborted) onStopped()
        else call.signal.addEventListener('abort', onStopped, { once: true })
        // Nobody asked yet: a result dropped before its first read is a consumer gone too.
        armIdle()
        void pump()
      },
      pull() {
        disarmIdle()
        return new Promise<void>((resolve) => {
          delivered = resolve
          deliver()
        })
      },
      async cancel(reason) {
        // A cancel that reached the model stream (the caller's abort signal, a
        // single-consumer result): stop the provider and end the call now.
        await stop(reason ?? new Error('The model stream was cancelled'), false, true)
      },
    },
    { highWaterMark: 0 },
  )
}
