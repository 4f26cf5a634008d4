// Watches one streamed model call: reads the provider's stream as it arrives (accounting
// output, checking tool calls before the SDK sees them, settling on `finish`) and hands the
// parts to the SDK as it asks for them. Parts pass through unchanged.
//
// Ending a call (every ending goes through the guard, which decides what it costs):
// - finish: settled at the provider's usage;
// - the kill switch stops it (cap reached mid-stream, revocation, a refused tool call): the
//   provider is aborted and the stream errors with the core's typed error;
// - the provider errors or ends without `finish`: failed;
// - the consumer goes away. `streamText` tees its stream, so breaking out of `textStream`,
//   cancelling a reader or dropping the result cancels nothing upstream (ai 7,
//   stream-text.ts `teeStream`): the SDK only stops asking for parts. A consumer that has
//   not asked for the next part for `idleConsumerMs` while the call is open is taken as
//   gone: the provider is aborted and the call failed, instead of holding until the TTL.
//   A cancel that does reach here (the caller's abortSignal, streamTextLowMemory) ends the
//   call at once.
// The provider is read ahead of the SDK, so the count reflects what the provider sent,
// whether or not the consumer read it.
import type { LanguageModelV4StreamPart } from '@ai-sdk/provider'
import type { AgentGuard, ModelCallTicket, OutputDelta } from '@killswitch/core'
import { StreamAbandonedError } from '@killswitch/core'
import type { BudgetScope } from './budget-scope.js'
import { checkToolCall, parseToolInput } from './check-tool-call.js'
import { revocationError } from './revocation-error.js'
import { toTokenUsage } from './usage.js'

type Part = LanguageModelV4StreamPart

/** What the stream guard needs: the guard, this call's ticket, and a way to stop the provider. */
export interface StreamGuardOptions {
  guard: AgentGuard
  ticket: ModelCallTicket
  runId: string | undefined
  /** The call's whole budget scope, for its tool checks; defaults to `{ runId }`. */
  scope?: BudgetScope
  /** Aborts the provider call in flight (its HTTP request), so it stops billing. */
  abortProvider: (reason: unknown) => void
  /** How long the consumer may leave the next part unread before the call is ended. */
  idleConsumerMs: number
}

/**
 * Returns the stream to hand to the SDK in place of the provider's.
 *
 * @example
 * const { stream, ...rest } = await model.doStream(params)
 * return { ...rest, stream: guardStream(stream, { guard, ticket, runId, abortProvider, idleConsumerMs: 5000 }) }
 */
export function guardStream(source: ReadableStream<Part>, options: StreamGuardOptions) {
  const { guard, ticket, runId, abortProvider, idleConsumerMs } = options
  const reader = source.getReader()
  let controller!: ReadableStreamDefaultController<Part>
  // open: accounting; settled: the ticket is settled, trailing parts pass; stopped: the call
  // was ended (kill switch, provider error, consumer gone), nothing more goes downstream.
  let state: 'open' | 'settled' | 'stopped' = 'open'
  // Parts checked and waiting for the consumer; `sourceDone` once the provider closed.
  const ready: Part[] = []
  let sourceDone = false
  let delivered: (() => void) | undefined
  let idleTimer: ReturnType<typeof setTimeout> | undefined
  let text = ''
  let providerError: unknown
  const toolCalls: Array<{ name: string; args: unknown }> = []
  // Tool inputs that streamed as deltas were accounted already; their final `tool-call`
  // part repeats the same input.
  const streamedInputs = new Set<string>()

  // While a tool check is in flight, its own error says more than the signal: a runaway trip
  // revokes (aborting the signal) and then throws RunawayDetectedError with the evidence.
  let checkingTool = false
  let revokedDuringCheck = false
  const onRevoked = () => {
    if (checkingTool) revokedDuringCheck = true
    else void stop(revocationError(guard), true)
  }
  // A function, not a comparison: `state` changes across the awaits that narrowing ignores.
  const stopped = () => state === 'stopped'
  const end = (next: 'settled' | 'stopped') => {
    state = next
    guard.signal.removeEventListener('abort', onRevoked)
    disarmIdle()
  }

  function armIdle(): void {
    disarmIdle()
    if (state !== 'open' || !Number.isFinite(idleConsumerMs)) return
    idleTimer = setTimeout(() => {
      void stop(new StreamAbandonedError(ticket.model, idleConsumerMs), true)
    }, idleConsumerMs)
  }
  function disarmIdle(): void {
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

  // Stops the provider first (it bills until it stops), fails the call (the guard decides
  // what it costs), then errors the stream, so the consumer sees the ledger already balanced.
  async function stop(error: unknown, tellConsumer: boolean): Promise<void> {
    if (state !== 'open') return
    end('stopped')
    abortProvider(error)
    reader.cancel(error).catch(() => undefined)
    try {
      await guard.failModelCall(ticket, error, { sent: true })
    } catch {
      // The ledger is unreachable: the hold lapses at its TTL (charged). The reason stands.
    }
    if (tellConsumer) {
      try {
        controller.error(error)
      } catch {
        // Already closed or cancelled by the consumer: nothing left to tell.
      }
    }
    ready.length = 0
    deliver()
  }

  // false when the guard refused the delta and the call was stopped.
  async function account(delta: OutputDelta): Promise<boolean> {
    try {
      guard.onOutputDelta(ticket, delta)
      return true
    } catch (error) {
      await stop(error, true)
      return false
    }
  }

  async function onPart(part: Part): Promise<boolean> {
    switch (part.type) {
      case 'text-delta':
        text += part.delta
        return account({ text: part.delta })
      case 'reasoning-delta':
        return account({ text: part.delta })
      case 'tool-input-delta':
        streamedInputs.add(part.id)
        return account({ text: part.delta })
      case 'tool-call': {
        if (!streamedInputs.has(part.toolCallId) && !(await account({ text: part.input }))) {
          return false
        }
        toolCalls.push({ name: part.toolName, args: parseToolInput(part.input) })
        checkingTool = true
        try {
          // Before the part goes downstream: the SDK executes a tool as soon as it sees it.
          await checkToolCall(guard, part, options.scope ?? { runId })
        } catch (error) {
          await stop(error, true)
          return false
        } finally {
          checkingTool = false
        }
        if (!revokedDuringCheck) return true
        await stop(revocationError(guard), true)
        return false
      }
      case 'error':
        providerError = part.error
        return true
      case 'finish':
        end('settled')
        // Settled before `finish` goes downstream: when the caller's await returns, the
        // ledger already holds the real cost.
        await guard.afterModelCall(ticket, { usage: toTokenUsage(part.usage), text, toolCalls })
        return true
      default:
        return true
    }
  }

  async function pump(): Promise<void> {
    try {
      for (;;) {
        const { done, value } = await reader.read()
        if (done || stopped()) break
        if (state === 'open' && !(await onPart(value))) return
        // Checked again after the awaits above: a revocation may have stopped the call.
        if (stopped()) return
        ready.push(value)
        deliver()
      }
      // Ended by stop(): it tells the consumer (or the consumer is gone).
      if (stopped()) return
      if (state === 'open') {
        // The provider ended without a `finish` part: the guard charges what it can show.
        end('settled')
        const error = providerError ?? new Error('The model stream ended without a finish part')
        await guard.failModelCall(ticket, error, { sent: true })
      }
      sourceDone = true
      deliver()
    } catch (error) {
      // The provider's stream errored (connection reset...).
      if (state === 'open') {
        end('stopped')
        await guard.failModelCall(ticket, error, { sent: true }).catch(() => undefined)
      }
      state = 'stopped'
      ready.length = 0
      try {
        controller.error(error)
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
        if (guard.signal.aborted) onRevoked()
        else guard.signal.addEventListener('abort', onRevoked, { once: true })
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
        // A cancel that reached the model stream (the caller's abortSignal, a single-consumer
        // result): stop the provider and end the call now.
        await stop(reason ?? new Error('The model stream was cancelled'), false)
      },
    },
    { highWaterMark: 0 },
  )
}
