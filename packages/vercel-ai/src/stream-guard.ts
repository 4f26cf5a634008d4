// Watches one streamed model call: accounts output as it arrives, checks tool calls before
// the SDK sees them, settles on `finish`, and errors the stream with the kill switch's typed
// error the moment the cap is reached or the agent is revoked (also while the provider is
// silent). Parts pass through unchanged.
import type { LanguageModelV4StreamPart } from '@ai-sdk/provider'
import type { AgentGuard, ModelCallTicket, OutputDelta } from '@killswitch/core'
import { checkToolCall, parseToolInput } from './check-tool-call.js'
import { revocationError } from './revocation-error.js'
import { toTokenUsage } from './usage.js'

type Part = LanguageModelV4StreamPart

/** What the stream guard needs: the guard, this call's ticket, and a way to stop the provider. */
export interface StreamGuardOptions {
  guard: AgentGuard
  ticket: ModelCallTicket
  runId: string | undefined
  /** Aborts the provider call in flight (its HTTP request), so it stops billing. */
  abortProvider: (reason: unknown) => void
}

/**
 * A TransformStream to pipe a provider's stream through.
 *
 * @example
 * const { stream, ...rest } = await model.doStream(params)
 * return { ...rest, stream: stream.pipeThrough(createStreamGuard({ guard, ticket, runId, abortProvider })) }
 */
export function createStreamGuard(options: StreamGuardOptions): TransformStream<Part, Part> {
  const { guard, ticket, runId, abortProvider } = options
  let controller: TransformStreamDefaultController<Part>
  // open: accounting; settled: the ticket is settled, trailing parts pass; stopped: the kill
  // switch (or the consumer) ended the call, nothing more goes downstream.
  let state: 'open' | 'settled' | 'stopped' = 'open'
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
    else void revocationError(guard).then(stop)
  }
  const end = (next: 'settled' | 'stopped') => {
    state = next
    guard.signal.removeEventListener('abort', onRevoked)
  }

  // Stops the provider first (it bills until it stops), settles what was produced, then
  // errors the stream so that the consumer sees the ledger already balanced.
  async function stop(error: unknown): Promise<void> {
    if (state !== 'open') return
    end('stopped')
    abortProvider(error)
    try {
      await guard.failModelCall(ticket, error)
    } catch {
      // The ledger is unreachable: the hold expires by its TTL. The reason to stop stands.
    }
    try {
      controller.error(error)
    } catch {
      // Already closed or cancelled by the consumer: nothing left to tell.
    }
  }

  // false when the guard refused the delta and the stream was stopped.
  async function account(delta: OutputDelta): Promise<boolean> {
    try {
      guard.onOutputDelta(ticket, delta)
      return true
    } catch (error) {
      await stop(error)
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
          await checkToolCall(guard, part, runId)
        } catch (error) {
          await stop(error)
          return false
        } finally {
          checkingTool = false
        }
        if (!revokedDuringCheck) return true
        await stop(await revocationError(guard))
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

  return new TransformStream<Part, Part>({
    start(streamController) {
      controller = streamController
      if (guard.signal.aborted) onRevoked()
      else guard.signal.addEventListener('abort', onRevoked, { once: true })
    },
    async transform(part, streamController) {
      if (state === 'open' && !(await onPart(part))) return
      // Checked again after the awaits above: a revocation may have stopped the stream.
      if (state === 'stopped') return
      streamController.enqueue(part)
    },
    async flush() {
      if (state !== 'open') return
      // The provider ended without a `finish` part: settle what the output shows, if any.
      end('stopped')
      await guard.failModelCall(
        ticket,
        providerError ?? new Error('The model stream ended without a finish part'),
      )
    },
    async cancel(reason) {
      // The consumer cancelled (its abortSignal, reader.cancel()): stop the provider and
      // settle or release the hold now instead of leaving it to expire.
      if (state !== 'open') return
      end('stopped')
      abortProvider(reason)
      await guard.failModelCall(ticket, reason ?? new Error('The model stream was cancelled'))
    },
  })
}
