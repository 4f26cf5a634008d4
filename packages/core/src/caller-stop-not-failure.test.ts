// Red team rt40: a chat user pressing Stop on ten streams in a row had the agent throttled as
// a runaway (error-streak: "10 failures in a row"). A call its caller ended (its abort signal,
// a consumer that stopped reading) is no failure of the agent's; the provider's own errors
// still are.
import { describe, expect, it } from 'vitest'
import { createKillSwitch } from './kill-switch.js'
import { watchModelStream } from './model-stream.js'

const prices = { chat: { inputPerMTok: 1, outputPerMTok: 1 } }
type Ending = 'caller-abort' | 'consumer-cancel' | 'provider-error'

/** Twelve calls one after another, each ended the given way; then one more call. */
async function twelveEndedBy(ending: Ending): Promise<unknown> {
  const ks = createKillSwitch({ prices })
  const { credential } = await ks.agents.create({ handle: 'chat', spendingCap: 10 })
  const guard = ks.guard(credential)
  try {
    for (let i = 0; i < 12; i++) {
      const caller = new AbortController()
      const call = await guard.startModelCall({
        model: 'chat',
        input: `essay ${i}`,
        maxOutputTokens: 100,
        signal: caller.signal,
      })
      // A provider streaming words until it is told to stop.
      const source = await call.send(({ signal }) =>
        Promise.resolve(
          new ReadableStream<{ type: 'text'; text: string }>({
            pull: (controller) => {
              if (ending === 'provider-error') controller.error(new Error('provider broke'))
              else if (signal.aborted) controller.error(signal.reason)
              else controller.enqueue({ type: 'text', text: 'word ' })
            },
          }),
        ),
      )
      const reader = watchModelStream(call, source, {
        read: (part) => part,
        idleConsumerMs: Number.POSITIVE_INFINITY,
      }).getReader()
      const read = reader.read().catch(() => undefined)
      await read
      if (ending === 'caller-abort') caller.abort(new Error('the user pressed Stop'))
      if (ending === 'consumer-cancel') await reader.cancel(new Error('the user closed the tab'))
      await reader.read().catch(() => undefined)
    }
    const next = await guard.startModelCall({ model: 'chat', input: 'next', maxOutputTokens: 5 })
    await next.finish({ usage: { inputTokens: 3, outputTokens: 1 }, text: 'ok' })
    return undefined
  } catch (error) {
    return error
  } finally {
    await ks.close()
  }
}

describe("a caller's stop is no failure of the agent's", () => {
  it.each(['caller-abort', 'consumer-cancel'] as const)(
    'lets the next call through after twelve streams ended by %s',
    async (ending) => {
      expect(await twelveEndedBy(ending)).toBeUndefined()
    },
  )

  it("still throttles twelve of the provider's own errors in a row", async () => {
    expect(await twelveEndedBy('provider-error')).toMatchObject({
      code: 'runaway_detected',
      detector: 'error-streak',
    })
  })
})
